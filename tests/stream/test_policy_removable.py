"""Kind bulk-removable-media: distinct subjects per principal in a sliding window."""

from __future__ import annotations

import json

import pytest

from model.alerts import Alert
from model.events import Event
from model.findings import ScanResult
from stream.policy import MemoryWindowStore, Policy, load_policy, load_policy_text
from tests.stream.test_policy_support import T0, event, scan

RULE = "bulk-removable-media-export"

SMALL = """\
id: bulk-test
version: 1
title: bulk test
description: d
clauses: ["§8.3 Table 5 file sharing: removable media encrypted or access-controlled"]
kind: bulk-removable-media
parameters: {min_subjects: 5, window: 15m}
severity: {by_level: {3: medium, 4: high, 5: critical}, raise_at_subjects: 8}
playbook: {check: [c], dispose: [d]}
"""


def usb(i: int, subjects: tuple[str, ...], *, ts: float | None = None, actor: str = "nurse.wang",
        level: int = 4, **kw: object) -> tuple[Event, ScanResult]:
    attrs = dict(kw.pop("attributes", {}) or {})  # type: ignore[call-overload]
    ev = event(f"copy-{actor}-{i}", str(kw.pop("channel", "file-copy")), ts=T0 + i * 10 if ts is None else ts,
               actor=actor, device=str(kw.pop("device", "USB\\VID_0781&PID_5567\\4C5300")), source_kind="log",
               attributes={"records": len(subjects), **attrs}, **kw)  # type: ignore[arg-type]
    return ev, scan(level, subjects)


def run(
    policy: Policy, items: list[tuple[Event, ScanResult]], store: MemoryWindowStore | None = None
) -> list[Alert]:
    windows = store if store is not None else MemoryWindowStore()
    out: list[Alert] = []
    for ev, sc in items:
        out.extend(policy.evaluate(ev, sc, windows))
    return out


@pytest.fixture(scope="module")
def small() -> Policy:
    return load_policy_text(SMALL)


def test_n_minus_one_subjects_no_alert_n_alerts(small: Policy) -> None:
    items = [usb(i, (f"p{i}",)) for i in range(5)]
    assert run(small, items[:4]) == []
    alerts = run(small, items)
    assert len(alerts) == 1 and alerts[0].subjects == 5 and alerts[0].rule_id == "bulk-test"


def test_same_subject_twice_counts_once(small: Policy) -> None:
    items = [usb(i, (f"p{i % 4}",)) for i in range(12)]  # 12 copies, 4 people
    assert run(small, items) == []
    assert run(small, [*items, usb(12, ("p4", "p0"))])[-1].subjects == 5


def test_subjects_outside_the_window_expire(small: Policy) -> None:
    early = [usb(i, (f"p{i}",)) for i in range(4)]
    late = usb(0, ("p4",), ts=T0 + 15 * 60 + 40)  # 15 min after the 4th copy: p0..p3 are gone
    assert run(small, [*early, late]) == []
    inside = usb(0, ("p4",), ts=T0 + 15 * 60 - 1)  # p0 (at T0) still inside (T0+899-900, T0+899]
    assert [a.subjects for a in run(small, [*early, inside])] == [5]


def test_principals_are_separate(small: Policy) -> None:
    items = [usb(i, (f"p{i}",), actor="a" if i % 2 else "b") for i in range(8)]
    assert run(small, items) == []
    alerts = run(small, [*items, usb(8, ("p8",), actor="b")])
    assert [(a.actor, a.subjects) for a in alerts] == [("b", 5)]


def test_device_is_the_principal_without_an_actor(small: Policy) -> None:
    items = [usb(i, (f"p{i}",), actor="", channel="usb") for i in range(5)]
    (a,) = run(small, items)
    assert a.details["principal"].startswith("device:USB")


def test_updated_alert_keeps_its_id_and_grows(small: Policy) -> None:
    alerts = run(small, [usb(i, (f"p{i}",)) for i in range(9)])
    assert len({a.alert_id for a in alerts}) == 1 and len(alerts) == 5
    assert [a.subjects for a in alerts] == [5, 6, 7, 8, 9]
    assert [a.last_seen for a in alerts] == [T0 + i * 10 for i in range(4, 9)]
    assert {a.observed_at for a in alerts} == {T0}
    assert [a.severity for a in alerts] == ["high", "high", "high", "critical", "critical"]  # raise at 8
    last = alerts[-1]
    assert last.event_ids == tuple(f"copy-nurse.wang-{i}" for i in range(9))
    assert last.subject_hashes == tuple(f"p{i}" for i in range(9))


def test_replay_yields_identical_alerts(small: Policy) -> None:
    items = [usb(i, (f"p{i}", f"q{i}")) for i in range(6)]
    assert run(small, items) == run(small, items)  # fresh window state each time
    store = MemoryWindowStore()
    first = run(small, items, store)
    again = run(small, items, store)  # at-least-once redelivery into the same state
    assert {a.alert_id for a in again} == {first[-1].alert_id} and again[-1] == first[-1]


def test_next_window_bucket_is_a_new_alert(small: Policy) -> None:
    a1 = run(small, [usb(i, (f"p{i}",)) for i in range(5)])[-1]
    a2 = run(small, [usb(i, (f"p{i}",), ts=T0 + 900 + i) for i in range(5)])[-1]
    assert a1.alert_id != a2.alert_id and a2.details["window"]["length"] == "15m"


@pytest.mark.parametrize(
    ("why", "kw", "counts"),
    [
        ("usb channel", {"channel": "usb"}, True),
        ("file-copy naming a device", {}, True),
        ("file-copy flagged removable", {"device": "", "attributes": {"removable": True}}, True),
        ("file-copy with media usb", {"device": "", "attributes": {"media": "USB"}}, True),
        ("file-copy to a share", {"device": "", "attributes": {"media": "smb"}}, False),
        ("explicitly not removable", {"attributes": {"removable": False}}, False),
        # the log sensor's file-copy format (sensors/logs/formats/file_copy.py)
        ("log sensor: optical", {"attributes": {"device_bus": "optical", "device_removable": True}}, True),
        ("log sensor: share", {"attributes": {"device_bus": "network", "device_removable": False}}, False),
        ("log sensor: local disk named", {"attributes": {"device_bus": "local"}}, False),
        ("log sensor: fixed usb", {"attributes": {"device_bus": "usb", "device_removable": False}}, False),
        ("network upload", {"channel": "http"}, False),
        ("L2 content", {"level": 2}, False),
    ],
)
def test_what_counts_as_a_removable_copy(small: Policy, why: str, kw: dict, counts: bool) -> None:  # type: ignore[type-arg]
    items = [usb(i, (f"p{i}",), **kw) for i in range(5)]  # type: ignore[arg-type]
    assert bool(run(small, items)) is counts, why


def test_encrypted_media_can_be_excluded() -> None:
    items = [usb(i, (f"p{i}",), encrypted=True) for i in range(5)]
    assert run(load_policy_text(SMALL), items)[-1].encrypted is True
    strict = load_policy_text(SMALL.replace("window: 15m}", "window: 15m, include_encrypted: false}"))
    assert run(strict, items) == []


def test_record_counts_are_reported_not_counted(small: Policy) -> None:
    big = [usb(i, (f"p{i % 2}",), attributes={"records": 5000}) for i in range(4)]
    assert run(small, big) == []  # 20,000 rows but 2 identified people: no bulk alert
    (a,) = run(small, [usb(0, ("a", "b", "c", "d", "e"), attributes={"records": 700})])
    assert a.subjects == 5 and a.details["records"] == 700 and a.details["events_reporting_records"] == 1
    (b,) = run(small, [usb(0, ("a", "b", "c", "d", "e"), attributes={"records": 9, "records_estimated": 90})])
    assert b.details["records"] == 90  # a sensor that saw only a sample extrapolates


def test_bundled_rule_threshold_is_20_in_an_hour() -> None:
    policy = load_policy()
    items = [usb(i * 6, (f"p{i}",)) for i in range(20)]  # one copy a minute
    assert run(policy, items[:19]) == []
    (a,) = run(policy, items)[-1:]
    assert (a.rule_id, a.subjects, a.severity, a.max_level) == (RULE, 20, "high", 4)
    assert a.clauses[0] == ("GB/T 39725-2020 §8.3 Table 5 file sharing: removable media encrypted or "
                            "access-controlled; audit file size, content and time")
    d = a.details
    assert d["window"]["length"] == "1h" and d["parameters"]["min_subjects"] == 20
    assert d["channels"] == ["file-copy"] and d["devices"] == ["USB\\VID_0781&PID_5567\\4C5300"]
    assert d["playbook"]["id"] == RULE and d["playbook"]["dispose"]
    json.dumps(a.to_dict(), allow_nan=False)


def test_alert_bounds_and_level(small: Policy) -> None:
    items = [usb(i, tuple(f"p{i}-{j}" for j in range(30)), level=5 if i == 3 else 4) for i in range(5)]
    a = run(small, items)[-1]
    assert a.subjects == 150 and len(a.subject_hashes) == 100 and a.max_level == 5
    assert a.severity == "critical" and len(a.evidence) <= 10
    assert a.details["grading_reason"] == "L5 set by event copy-nurse.wang-3; this event: test grading L4"
