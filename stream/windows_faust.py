"""The worker's window store: policy windows kept in a changelog-backed faust table.

Same transition as the embedded store (:func:`stream.policy.windows.window_add` on a plain JSON
state), so the two modes cannot drift apart. What differs is where the state lives:

* **Durable**: every changed key is written to the table's changelog topic, from which faust
  rebuilds the table after a restart or a rebalance (``store="memory://"`` keeps no local files).
* **Co-partitioned**: events are keyed by principal, so all of one principal's events arrive on
  one partition and one worker. A window key (rule × principal × facet) is written to the
  changelog partition *of the event that changed it*, which faust assigns together with that
  events partition; the state therefore moves with the principal's partition on a rebalance.
  Hashing the window key instead would scatter it over partitions owned by other workers.
* **Thread-confined staging**: the pipeline runs in an executor thread (so the event loop keeps
  heartbeating), but faust tables may only be written from the loop. ``add`` therefore works on
  a staging area; :meth:`apply`, called on the loop after the pipeline returned, writes the
  staged states to the table and the changelog. ``mark``/``rollback`` undo a pipeline call that
  raised, so a failed call leaves no half-made state behind.

Replays are harmless: re-adding the same members at the same timestamps leaves a window
unchanged (members are a set, timestamps only move forward).

**Durable before the ack, and recoverable on every broker** (:meth:`FaustWindowStore.sync`): the
agent awaits the changelog sends before it acks the batch's offsets, then writes one small
tombstone per touched partition as a batch of its own. Why the second step: faust restores a
table by reading each changelog partition up to the broker's end offset, and the Tansu broker
used in the integration tests reports the end offset of a multi-record batch as its *base*
offset + 1 (5 records at offsets 0-4 → end offset 1), so a restarted worker restored only the
first window key of every batch. A final one-record batch makes the end offset exact on Tansu
and costs one extra round trip per batch on Kafka.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterable
from typing import Any

from stream.policy.windows import DEFAULT_CAP, WindowSnapshot, new_window_state, window_add

#: Name of the faust table (its changelog topic is "<app_id>-<name>-changelog").
TABLE_NAME = "policy-windows"

#: How often (wall seconds) :meth:`FaustWindowStore.apply` also deletes idle keys.
EXPIRY_INTERVAL = 60.0

#: Field of the stored state holding the changelog partition (window_add ignores unknown fields).
_PARTITION = "p"

#: Key of the per-partition sync tombstone (:meth:`FaustWindowStore.sync`); never a window key.
SYNC_KEY = "\x00sync"


class FaustWindowStore:
    """WindowStore over a faust table: window key → state dict (faust serialises both as JSON)."""

    def __init__(self, table: Any, cap: int = DEFAULT_CAP) -> None:
        if cap < 1:
            raise ValueError("cap must be ≥ 1")
        self.table = table
        self.cap = cap
        self._staged: dict[str, dict[str, Any]] = {}
        self._undo: dict[str, dict[str, Any] | None] = {}
        self._partition = 0
        self._clock = float("-inf")  # newest event time seen: the clock for idle-key expiry
        self._last_expiry = time.monotonic()
        self.expired_keys = 0
        self._sent: list[Any] = []  # changelog sends not yet awaited (FutureMessage)
        self._sent_partitions: set[int] = set()

    # -- WindowStore (called in the pipeline thread) -----------------------------------------------
    def add(self, key: str, members: Iterable[str], ts: float, window_s: float) -> WindowSnapshot:
        state = self._staged.get(key)
        if state is None:
            self._undo.setdefault(key, None)
            state = self._load(key)
            self._staged[key] = state
        elif key not in self._undo:
            self._undo[key] = copy.deepcopy(state)
        state[_PARTITION] = self._partition
        self._clock = max(self._clock, ts)
        return window_add(state, key, members, ts, window_s, self.cap)

    def _load(self, key: str) -> dict[str, Any]:
        stored = self.table.data.get(key)
        # a private copy: window_add mutates, and the table's object must only change in apply()
        return copy.deepcopy(stored) if stored else new_window_state()

    # -- staging (StagedWindows) -------------------------------------------------------------------
    def mark(self, partition: int) -> None:
        """Start a pipeline call for events of ``partition``; keys changed from now on go there."""
        self._partition = partition
        self._undo = {}

    def rollback(self) -> None:
        """Undo the changes made since the last :meth:`mark`."""
        for key, before in self._undo.items():
            if before is None:
                self._staged.pop(key, None)
            else:
                self._staged[key] = before
        self._undo = {}

    def apply(self) -> int:
        """Write staged states to the table and its changelog (event-loop thread only).

        Every ``EXPIRY_INTERVAL`` it also deletes idle keys (:meth:`expire_idle`); doing that
        here, between batches, means the pipeline thread is never reading the table meanwhile.
        """
        staged, self._staged, self._undo = self._staged, {}, {}
        for key, state in staged.items():
            self.table.data[key] = state
            self._track(int(state[_PARTITION]), self.table.send_changelog(int(state[_PARTITION]), key, state))
        if time.monotonic() - self._last_expiry >= EXPIRY_INTERVAL:
            self._last_expiry = time.monotonic()
            self.expire_idle()
        return len(staged)

    def expire_idle(self) -> int:
        """Delete keys whose newest sighting is older than their window (event-loop thread only).

        Their members have all expired, so deleting loses nothing; without this, the table would
        grow with every principal ever seen. The clock is the newest event time, not wall time.
        """
        horizon = self._clock
        dead = []
        for key, state in list(self.table.data.items()):
            if key in self._staged or not state or key == SYNC_KEY:
                continue
            wm = state.get("wm")
            if wm is None or wm <= horizon - float(state.get("w", 0.0)):
                dead.append((key, int(state.get(_PARTITION, 0))))
        for key, partition in dead:
            self.table.data.pop(key, None)
            self._track(partition, self.table.send_changelog(partition, key, None, value_serializer="raw"))
        self.expired_keys += len(dead)
        return len(dead)

    def _track(self, partition: int, fut: Any) -> None:
        self._sent.append(fut)
        self._sent_partitions.add(partition)

    async def sync(self) -> int:
        """Wait until the changelog holds what :meth:`apply` wrote, then end each touched partition
        with a one-record batch (a tombstone of :data:`SYNC_KEY`) so that its end offset is exact
        on every broker (module docstring). Called by the agent before it acks; returns the number
        of partitions synced."""
        sent, self._sent = self._sent, []
        parts, self._sent_partitions = sorted(self._sent_partitions), set()
        if not sent:
            return 0
        await asyncio.gather(*sent)
        marks = [self.table.send_changelog(p, SYNC_KEY, None, value_serializer="raw") for p in parts]
        await asyncio.gather(*marks)
        return len(parts)

    def stats(self) -> dict[str, int]:
        return {"window_keys": len(self.table.data), "window_expired_keys": self.expired_keys}


def define_window_table(app: Any, partitions: int) -> Any:
    """The faust table behind :class:`FaustWindowStore`: str keys, plain-dict values, both JSON.

    ``partitions`` must equal the events topic's partition count (co-partitioning).
    """
    return app.Table(
        TABLE_NAME,
        partitions=partitions,
        key_type=str,
        help="per-principal policy windows (distinct data subjects); see stream/windows_faust.py",
    )
