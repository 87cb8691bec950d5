"""Kind cleartext-transfer (bundled rule cleartext-health-data): must-alert and must-not-alert tables."""

from __future__ import annotations

import json

import pytest

from model.alerts import make_alert_id
from model.events import Endpoint, TlsInfo
from model.taxonomy import CLEARTEXT_CAPABLE
from stream.policy import BUNDLED_RULES, MemoryWindowStore, Policy, load_policy
from tests.stream.test_policy_support import event, scan

RULE = "cleartext-health-data"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy([str(BUNDLED_RULES / "transmission.yaml")])  # the other bundled rules: own tests


def _subjects(n: int) -> list[str]:
    return [f"subject-{i:03d}" for i in range(n)]


MUST_ALERT = [
    # (channel, level, subjects, expected severity)
    ("http", 3, 1, "medium"),
    ("fhir", 4, 1, "high"),
    ("hl7-mllp", 5, 1, "critical"),
    ("dicom", 4, 0, "high"),  # graded L4 without a countable subject still must not travel in clear
    ("smtp", 4, 9, "high"),
    ("smtp", 4, 10, "critical"),  # 10 subjects in one message: raised one step
    ("tcp", 3, 12, "high"),
    ("postgres", 5, 50, "critical"),  # already the top: stays critical
    ("ftp-data", 4, 1, "high"),
    ("mysql", 3, 1, "medium"),
]


@pytest.mark.parametrize(("channel", "level", "n", "severity"), MUST_ALERT)
def test_must_alert(policy: Policy, channel: str, level: int, n: int, severity: str) -> None:
    alerts = policy.evaluate(event("ev-1", channel), scan(level, _subjects(n)), MemoryWindowStore())
    assert [(a.rule_id, a.severity, a.max_level, a.subjects) for a in alerts] == [(RULE, severity, level, n)]


MUST_NOT_ALERT = [
    ("L2 data in cleartext", event("e", "http"), scan(2)),
    ("L1 public data", event("e", "http"), scan(1, ())),
    ("nothing found", event("e", "http"), scan(0, (), diagnosis=False)),
    ("sensor says encrypted", event("e", "http", encrypted=True), scan(5)),
    ("TLS handshake seen", event("e", "http", tls=TlsInfo(version="TLS1.3", sni="emr.example")), scan(5)),
    ("tls channel", event("e", "tls", encrypted=True), scan(5)),
    ("tls channel, flag missing", event("e", "tls"), scan(5)),  # not a cleartext-capable channel
    ("usb is not a network transfer", event("e", "usb", source_kind="log"), scan(5)),
    ("log channel", event("e", "api-log", source_kind="log"), scan(4)),
    ("his audit log", event("e", "his-audit", source_kind="log"), scan(4)),
]


@pytest.mark.parametrize(("why", "ev", "sc"), MUST_NOT_ALERT, ids=[m[0] for m in MUST_NOT_ALERT])
def test_must_not_alert(policy: Policy, why: str, ev, sc) -> None:  # type: ignore[no-untyped-def]
    assert policy.evaluate(ev, sc, MemoryWindowStore()) == []


@pytest.mark.parametrize("channel", sorted(CLEARTEXT_CAPABLE))
def test_encrypted_never_triggers_on_any_channel(policy: Policy, channel: str) -> None:
    for ev in (event("e", channel, encrypted=True), event("e", channel, tls=TlsInfo(version="TLS1.2"))):
        assert policy.evaluate(ev, scan(5, _subjects(30)), MemoryWindowStore()) == []


def test_alert_fields(policy: Policy) -> None:
    ev = event("ev-42", "http", actor="dr.li", src=Endpoint("10.0.0.5", 50123), dst=Endpoint("fe80::1", 8080),
               attributes={"records": 3, "path": "/emr/patient?id=110105199001011234"})
    sc = scan(4, _subjects(150))
    (a,) = policy.evaluate(ev, sc, MemoryWindowStore())
    assert a.alert_id == make_alert_id(RULE, 1, ["ev-42"])
    assert (a.channel, a.src, a.dst) == ("http", "10.0.0.5:50123", "[fe80::1]:8080")
    assert (a.actor, a.encrypted) == ("dr.li", False)
    assert a.clauses[0].startswith("GB/T 39725-2020 §8.2 Table 4")
    assert a.entities == ("CN_RESIDENT_ID", "DIAGNOSIS")
    assert a.categories == ("health_status", "personal_attribute")
    assert a.subjects == 150 and a.subject_hashes == tuple(_subjects(100))  # bounded
    assert len(a.evidence) == 10 and all("*" in e for e in a.evidence)
    assert a.event_ids == ("ev-42",) and a.observed_at == a.last_seen == ev.observed_at
    assert a.sensor_id == "sensor-a" and a.severity == "critical"
    d = a.details
    assert d["records"] == 3 and d["grading_reason"] == "test grading L4" and d["playbook"]["id"] == RULE
    assert d["parameters"]["min_level"] == 3
    assert "raised to critical: 150 subjects ≥ 10" in d["severity_reason"]
    assert "110105199001011234" not in json.dumps(a.to_dict(), ensure_ascii=False)  # attributes never copied


def test_alert_id_is_deterministic_per_event(policy: Policy) -> None:
    sc = scan(4)
    a1 = policy.evaluate(event("ev-1"), sc, MemoryWindowStore())
    a2 = policy.evaluate(event("ev-1"), sc, MemoryWindowStore())
    b = policy.evaluate(event("ev-2"), sc, MemoryWindowStore())
    assert a1 == a2 and a1[0].alert_id != b[0].alert_id
