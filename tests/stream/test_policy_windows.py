"""Sliding distinct-member windows: the state transition shared by the memory and faust stores."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.policy import MemoryWindowStore, WindowSnapshot, new_window_state, window_add

W = 3600.0


def test_same_member_counts_once_and_order_is_first_sighting() -> None:
    s = MemoryWindowStore()
    s.add("k", ["b", "a"], 10.0, W)
    snap = s.add("k", ["a", "c", "a"], 20.0, W)
    assert snap.members == ("b", "a", "c") and snap.count == 3 and snap.added == 1
    assert (snap.first_seen, snap.last_seen) == (10.0, 20.0)


def test_members_expire_after_the_window_and_resighting_refreshes() -> None:
    s = MemoryWindowStore()
    s.add("k", ["old", "kept"], 0.0, W)
    s.add("k", ["kept"], 1800.0, W)  # refreshed half-way
    snap = s.add("k", ["new"], W, W)  # 'old' was last seen exactly one window ago: out
    assert snap.members == ("kept", "new")
    assert snap.first_seen == 0.0  # 'kept' was first seen at 0 and is still live
    assert s.add("k", [], 1800.0 + W, W).members == ("new",)


def test_late_members_outside_the_window_are_refused_and_counted() -> None:
    s = MemoryWindowStore()
    s.add("k", ["a"], 10_000.0, W)
    snap = s.add("k", ["late"], 10_000.0 - W, W)
    assert snap.members == ("a",) and snap.late == 1 and snap.last_seen == 10_000.0
    assert s.add("k", ["in-order-enough"], 10_000.0 - W + 1, W).count == 2  # late but inside: counted


def test_cap_bounds_members_and_counts_what_it_refused() -> None:
    s = MemoryWindowStore(cap=3)
    snap = s.add("k", ["a", "b", "c", "d", "e"], 0.0, W)
    assert snap.members == ("a", "b", "c") and snap.dropped == 2
    assert s.add("k", ["a"], 1.0, W).dropped == 2  # already-known members still refresh
    assert s.add("k", ["x"], 2 * W, W).dropped == 0  # the window emptied: the cap count restarts
    assert s.stats()["window_dropped"] == 0


def test_keys_are_independent() -> None:
    s = MemoryWindowStore()
    s.add("alice", ["p1", "p2"], 0.0, W)
    assert s.add("bob", ["p1"], 1.0, W).members == ("p1",)
    assert s.add("alice", [], 2.0, W).count == 2


def test_idle_keys_are_evicted_and_the_key_bound_counts_live_losses() -> None:
    s = MemoryWindowStore(max_keys=2)
    s.add("a", ["1"], 0.0, 60.0)
    s.add("b", ["1"], 10.0, W)
    s.add("c", ["1"], 100.0, W)  # 'a' is idle past its 60 s window: evicted for free
    assert len(s) == 2 and s.evicted_keys == 0
    s.add("d", ["1"], 110.0, W)  # 'b' is live but the bound is 2: evicted and counted
    assert len(s) == 2 and s.evicted_keys == 1
    assert s.add("b", ["2"], 120.0, W).members == ("2",)


def test_state_and_snapshots_are_plain_json() -> None:
    state = new_window_state()
    snap = window_add(state, "k", ["a", "b"], 5.0, W)
    json.dumps(state, allow_nan=False)  # the faust changelog carries exactly this
    assert WindowSnapshot.from_dict(json.loads(json.dumps(snap.to_dict()))) == snap
    store = MemoryWindowStore(cap=7)
    store.add("k", ["a"], 1.0, W)
    copy = MemoryWindowStore.from_dict(json.loads(json.dumps(store.to_dict(), allow_nan=False)))
    assert copy.add("k", ["b"], 2.0, W) == store.add("k", ["b"], 2.0, W)


def test_store_rejects_nonsense_bounds() -> None:
    with pytest.raises(ValueError):
        MemoryWindowStore(cap=0)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.lists(st.sampled_from("abcdefgh"), max_size=3)),
        min_size=1,
        max_size=40,
    ).map(lambda xs: sorted(xs, key=lambda x: x[0])),
    st.integers(1, 20),
)
def test_matches_a_brute_force_sliding_window(steps: list[tuple[int, list[str]]], window: int) -> None:
    """For in-order input the live set is exactly: members whose latest sighting is in (now - w, now]."""
    state = new_window_state()
    seen: dict[str, int] = {}
    first: dict[str, int] = {}
    for ts, members in steps:
        snap = window_add(state, "k", members, float(ts), float(window))
        for m in members:
            if m not in seen or seen[m] <= ts - window:
                first[m] = ts
            seen[m] = ts
        live = {m for m, last in seen.items() if last > ts - window}
        assert set(snap.members) == live
        assert list(snap.members) == sorted(live, key=lambda m: (first[m], list(snap.members).index(m)))
        if live:
            assert snap.first_seen == min(first[m] for m in live)
