"""Per-principal sliding windows of distinct members (data subjects, events).

A bulk-export rule asks "how many distinct patients did this user copy in the last hour?". The
answer is state, and state must live somewhere that survives the deployment mode: in memory for
the embedded runner (:class:`MemoryWindowStore`), in a faust table for the workers. Both share
:func:`window_add`, a transition on a plain-dict state, so the two cannot drift apart and the
state serialises as JSON (the faust changelog).

Semantics: a member counts while its latest sighting is inside ``(watermark - window_s,
watermark]``, where the watermark is the newest timestamp seen for the key (event time, not
wall-clock time, so a replay of last week's capture behaves like last week). A member seen again
is refreshed, never counted twice. A key holds at most ``cap`` members; members refused because
of the cap are counted in ``dropped`` so the count is reported as "at least".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

#: Default bound on members per key; far above any alert threshold, small enough for memory.
DEFAULT_CAP = 10_000
#: Default bound on keys (principals × rules × facets) the memory store keeps.
DEFAULT_MAX_KEYS = 100_000


@dataclass(frozen=True)
class WindowSnapshot:
    """The live content of one key's window right after an ``add``."""

    key: str
    window_s: float
    members: tuple[str, ...]  # live members in first-sighting order
    first_seen: float  # earliest first sighting among live members
    last_seen: float  # the watermark
    added: int = 0  # members that were new to the window in this add
    dropped: int = 0  # members refused because the key was at its cap (since the window was last empty)
    late: int = 0  # members refused because their timestamp was already outside the window

    @property
    def count(self) -> int:
        return len(self.members)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "window_s": self.window_s, "members": list(self.members),
            "first_seen": self.first_seen, "last_seen": self.last_seen,
            "added": self.added, "dropped": self.dropped, "late": self.late,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WindowSnapshot:
        return cls(
            key=str(d["key"]), window_s=float(d["window_s"]), members=tuple(d["members"]),
            first_seen=float(d["first_seen"]), last_seen=float(d["last_seen"]),
            added=int(d.get("added", 0)), dropped=int(d.get("dropped", 0)), late=int(d.get("late", 0)),
        )


class WindowStore(Protocol):
    """Distinct-member sliding windows by key. Implementations: memory (here), faust table (stream.app)."""

    def add(self, key: str, members: Iterable[str], ts: float, window_s: float) -> WindowSnapshot: ...


def new_window_state() -> dict[str, Any]:
    """An empty state: m = member -> [first, last], wm = watermark, lo = oldest 'last' (None: empty),
    d = dropped, w = window seconds. Plain JSON (no infinities), so any table serialiser carries it."""
    return {"m": {}, "wm": None, "lo": None, "d": 0, "w": 0.0}


def window_add(
    state: dict[str, Any],
    key: str,
    members: Iterable[str],
    ts: float,
    window_s: float,
    cap: int = DEFAULT_CAP,
) -> WindowSnapshot:
    """Add ``members`` seen at ``ts`` to ``state`` (mutated in place) and return the live snapshot.

    Expiry runs only when something can have expired (the horizon passed the oldest sighting),
    so steady adds cost O(new members) plus the snapshot copy.
    """
    table: dict[str, list[float]] = state["m"]
    state["w"] = window_s
    state["wm"] = wm = ts if state["wm"] is None else max(state["wm"], ts)
    horizon = wm - window_s
    if state["lo"] is not None and state["lo"] <= horizon:
        for m in [m for m, (_, last) in table.items() if last <= horizon]:
            del table[m]
        state["lo"] = min((last for _, last in table.values()), default=None)
        if not table:
            state["d"] = 0
    added = late = 0
    for m in members:
        if ts <= horizon:
            late += 1
            continue
        seen = table.get(m)
        if seen is not None:
            seen[1] = max(seen[1], ts)
            continue
        if len(table) >= cap:
            state["d"] += 1
            continue
        table[m] = [ts, ts]
        state["lo"] = ts if state["lo"] is None else min(state["lo"], ts)
        added += 1
    first = min((f for f, _ in table.values()), default=ts)
    return WindowSnapshot(key, window_s, tuple(table), first, wm, added, state["d"], late)


class MemoryWindowStore:
    """The embedded mode's window store: bounded in members per key and in keys.

    Keys idle for longer than their window are evicted as newer events arrive (their members
    would all have expired anyway); beyond ``max_keys`` the least recently updated key goes, and
    ``evicted_keys`` counts it because that loses live state.
    """

    def __init__(self, cap: int = DEFAULT_CAP, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if cap < 1 or max_keys < 1:
            raise ValueError("cap and max_keys must be ≥ 1")
        self.cap = cap
        self.max_keys = max_keys
        self.evicted_keys = 0
        self._states: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._clock = float("-inf")

    def add(self, key: str, members: Iterable[str], ts: float, window_s: float) -> WindowSnapshot:
        state = self._states.pop(key, None) or new_window_state()
        snap = window_add(state, key, members, ts, window_s, self.cap)
        self._states[key] = state
        self._clock = max(self._clock, ts)
        self._evict_idle()
        return snap

    def _evict_idle(self) -> None:
        while self._states:
            k, st = next(iter(self._states.items()))
            if st["wm"] > self._clock - st["w"] and len(self._states) <= self.max_keys:
                return
            if st["wm"] > self._clock - st["w"]:
                self.evicted_keys += 1  # live state lost to the key bound
            del self._states[k]

    def __len__(self) -> int:
        return len(self._states)

    def stats(self) -> dict[str, int]:
        return {
            "window_keys": len(self._states),
            "window_members": sum(len(s["m"]) for s in self._states.values()),
            "window_dropped": sum(int(s["d"]) for s in self._states.values()),
            "window_evicted_keys": self.evicted_keys,
        }

    def to_dict(self) -> dict[str, Any]:
        """All state as plain JSON-able data (e.g. to persist the embedded mode across runs)."""
        return {"cap": self.cap, "max_keys": self.max_keys, "states": dict(self._states)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MemoryWindowStore:
        store = cls(int(d["cap"]), int(d["max_keys"]))
        for k, st in d["states"].items():
            store._states[k] = {"m": {m: list(v) for m, v in st["m"].items()}, "wm": st["wm"],
                                "lo": st["lo"], "d": int(st["d"]), "w": float(st["w"])}
            if st["wm"] is not None:
                store._clock = max(store._clock, float(st["wm"]))
        return store
