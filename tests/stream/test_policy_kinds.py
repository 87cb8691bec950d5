"""The context-aware kinds beyond their YAML cases: parameters, approvals, allowed records, the index."""

from __future__ import annotations

import json
import random

import pytest

from model.events import Endpoint
from model.yamlsrc import ConfigError
from stream.policy import MemoryWindowStore, load_policy_text
from stream.policy.context import load_context_text
from tests.stream.test_policy_support import T0, event, scan

HEAD = """\
id: rx
version: 1
title: t
description: d
clauses: ["§8.3 Table 5"]
severity: {by_level: {1: low, 3: medium, 4: high}}
playbook: {check: [c], dispose: [d]}
"""


@pytest.mark.parametrize(("body", "message"), [
    ("kind: scenario-mismatch\nparameters: {max_level: 3}", "parameter 'scenarios' is required"),
    ("kind: scenario-mismatch\nparameters: {scenarios: [patient-query]}", "give at least one check"),
    ("kind: scenario-mismatch\nparameters: {scenarios: [patient-querry], max_level: 3}",
     "unknown scenario 'patient-querry' (did you mean 'patient-query'?)"),
    ("kind: scenario-mismatch\nparameters: {scenarios: [patient-query], forbidden_classes: [hiv]}",
     "unknown special-disease class 'hiv'"),
    ("kind: subject-fanout\nparameters: {thresholds: {3: 10, 4: 50}}",
     "L4 (50) must not need more subjects than L3 (10)"),
    ("kind: subject-fanout\nparameters: {thresholds: {6: 10}}", "level '6' must be 1..5"),
    ("kind: doctor-access\nparameters: {working_hours: '7-19'}", "must be a time range such as '07:30-19:00'"),
    ("kind: doctor-access\nparameters: {checks: [off_hour]}", "unknown check 'off_hour' (did you mean 'off_hours'?)"),
    ("kind: cross-border-volume\nparameters: {count: people}", "must be one of subjects, records"),
    ("kind: deid-assertion\nparameters: {quasi_identifiers: [[]]}", "non-empty list of alternative names"),
    ("kind: opening-form-egress\napprovals: sometimes", "'approvals' must be honour or ignore"),
    ("kind: opening-form-egress\nseverity: {by_level: {1: low}, raise_on_zones: [internett]}",
     "raise_on_zones: unknown 'internett'; did you mean 'internet'?"),
])
def test_bad_parameters_are_config_errors(body: str, message: str) -> None:
    text = HEAD + body + "\n"
    if "severity:" in body:
        text = text.replace("severity: {by_level: {1: low, 3: medium, 4: high}}\n", "")
    with pytest.raises(ConfigError) as e:
        load_policy_text(text, "r.yaml")
    assert message in str(e.value)


def test_severity_raises_on_zone_and_channel_add_up() -> None:
    policy = load_policy_text(HEAD.replace("severity: {by_level: {1: low, 3: medium, 4: high}}",
                                           "severity: {by_level: {1: low}, raise_on_zones: [internet], "
                                           "raise_on_channels: [http]}")
                              + "kind: unauthorized-endpoint\nparameters: {min_level: 5}\n")
    (a,) = policy.evaluate(event("e", dst=Endpoint("93.184.216.34", 80)), scan(5), MemoryWindowStore())
    assert a.severity == "high"  # low → medium (zone) → high (channel)
    assert a.details["severity_reason"] == ("L5 special disease → low; raised to medium: destination zone internet; "
                                            "raised to high: channel http")
    assert a.details["flow"]["dst"] == {"asset": "", "role": "unknown", "zone": "internet", "matched_by": "default"}


CTX = load_context_text("""\
assets:
  - {id: partner-sftp, role: user, zone: partner, opening_form: file-sharing, cidrs: [198.51.100.0/24],
     scenarios: [clinical-research]}
  - {id: lab, role: user, zone: partner, cidrs: [203.0.113.0/24], scenarios: [clinical-research]}
approvals:
  - {id: A1, purpose: clinical-research, max_level: 4, destinations: [partner-sftp], expires: 2025-12-31,
     valid_from: 2025-01-01, scope: {categories: [personal_attribute, health_status], datasets: [ds1]},
     principals: [alice]}
  - {id: A2, purpose: secondary-use, max_level: 4, destinations: [lab], expires: 2026-12-31}
""")


def _verdict(ts: float = T0, actor: str = "alice", dst: str = "198.51.100.9", level: int = 4, **attrs):  # type: ignore[no-untyped-def]
    ev = event("e", ts=ts, actor=actor, dst=Endpoint(dst, 22), attributes=attrs)
    return CTX.resolve(ev).approvals(ev, scan(level))


def test_approval_verdicts() -> None:
    assert _verdict().covered is not None and _verdict().covered.id == "A1"  # type: ignore[union-attr]
    assert _verdict(dataset="ds1").covered is not None
    cases = {
        "expired on 2025-12-31": _verdict(ts=1_767_196_800.0),  # 2026-01-01 00:00 +08:00
        "not valid before 2025-01-01": _verdict(ts=1_700_000_000.0),
        "level L5 above the approved maximum L4": _verdict(level=5),
        "dataset 'ds2' is not in the approved scope": _verdict(dataset="ds2"),
        "flow scenario 'clinical-research' is not the approved purpose 'secondary-use'": _verdict(dst="203.0.113.5"),
        "the cited approval is not in the context": _verdict(approval_id="ZZ"),
        "destination 'lab' is not approved": _verdict(dst="203.0.113.5", approval_id="A1"),
    }
    for reason, v in cases.items():
        assert v.covered is None and v.relied_in_vain, reason
        assert any(reason in r for _, rs in v.problems for r in rs), (reason, v.problems)
    # an approval naming principals is not relied on by someone else (nothing to violate)
    other = _verdict(actor="mallory")
    assert other.covered is None and not other.relied_in_vain
    # 2025-12-31 23:59 local is still valid (expiry is the end of the day in the site's zone)
    assert _verdict(ts=1_767_196_740.0).covered is not None


def test_allowed_records_are_one_per_principal_approval_and_day() -> None:
    rules = HEAD + "kind: opening-form-egress\n"
    policy = load_policy_text(rules).with_context(CTX)
    windows = MemoryWindowStore()
    out = []
    for i, day in enumerate((0, 0, 0, 1)):
        ev = event(f"e{i}", ts=T0 + day * 86400 + i * 60, actor="alice", dst=Endpoint("198.51.100.9", 22))
        out += policy.evaluate(ev, scan(4, (f"s{i}",)), windows)
    assert all(a.details["decision"] == "allowed-by-approval" and a.severity == "info" for a in out)
    assert all(a.triage_state == "suppressed" and a.title.startswith("Allowed by approval A1: ") for a in out)
    assert len({a.alert_id for a in out[:3]}) == 1 and out[3].alert_id != out[0].alert_id
    last = out[2]
    assert last.details["ledger"]["events"] == 3 and last.subjects == 3 and len(last.event_ids) == 3
    assert last.details["would_have_been"]["severity"] == "high" and last.details["approval"]["id"] == "A1"
    json.dumps(last.to_dict(), allow_nan=False)


def test_index_only_skips_rules_that_could_not_fire() -> None:
    """Decisions with the dispatch index equal a brute-force pass over every rule."""
    docs = []
    for i in range(40):
        kind = ("cleartext-transfer", "unauthorized-endpoint", "subject-fanout", "opening-form-egress")[i % 4]
        match = ("", f"match: {{actor: [u{i % 7}]}}\n", f"match: {{channel: [{('http', 'usb', 'fhir')[i % 3]}]}}\n",
                 "match: {dst_zone: [partner, internet]}\n")[i % 4]
        extra = "parameters: {thresholds: {3: 3}}\n" if kind == "subject-fanout" else ""
        docs.append(HEAD.replace("id: rx", f"id: rule{i}") + f"kind: {kind}\n{match}{extra}")
    text = "".join("- " + d.replace("\n", "\n  ").rstrip() + "\n" for d in docs)
    policy = load_policy_text(text).with_context(CTX)
    rng = random.Random(7)
    brute = load_policy_text(text).with_context(CTX)
    brute._index.candidates = lambda ev, flow: list(range(len(brute._active)))  # type: ignore[method-assign]
    w1, w2 = MemoryWindowStore(), MemoryWindowStore()
    for n in range(400):
        ev = event(f"e{n}", channel=rng.choice(["http", "usb", "fhir", "his-audit"]), ts=T0 + n,
                   actor=rng.choice(["", "u1", "u2", "u3"]), encrypted=rng.random() < 0.3,
                   dst=Endpoint(rng.choice(["10.0.0.1", "198.51.100.9", "93.184.216.34"]), 443))
        sc = scan(rng.randint(0, 5), [f"s{rng.randint(0, 30)}"])
        assert policy.evaluate(ev, sc, w1) == brute.evaluate(ev, sc, w2)


def test_alerts_carry_the_flow_and_no_raw_attributes() -> None:
    policy = load_policy_text(HEAD + "kind: opening-form-egress\n").with_context(CTX)
    ev = event("e", actor="bob", dst=Endpoint("198.51.100.9", 22),
               attributes={"path": "/export/110105199001011234.csv"})
    (a,) = policy.evaluate(ev, scan(5), MemoryWindowStore())
    d = a.to_dict()
    flow = d["details"]["flow"]
    assert flow["dst"]["asset"] == "partner-sftp" and flow["crossing"] == "intranet->partner"
    assert "110105199001011234" not in json.dumps(d, ensure_ascii=False)


def test_doctor_working_hours_span_midnight_and_respect_days() -> None:
    night = load_policy_text(HEAD + "kind: doctor-access\nparameters: {checks: [off_hours], "
                             "working_hours: '19:00-08:00', working_days: [mon]}\n")
    monday_23 = 1_763_996_400.0  # Mon 2025-11-24 23:00 +08:00
    tuesday_23 = monday_23 + 86400
    ev = lambda ts: event("e", channel="his-audit", ts=ts, actor="dr.x", source_kind="log")  # noqa: E731
    assert night.evaluate(ev(monday_23), scan(4), MemoryWindowStore()) == []
    assert night.evaluate(ev(monday_23 - 6 * 3600), scan(4), MemoryWindowStore())  # 17:00: off for the night shift
    (a,) = night.evaluate(ev(tuesday_23), scan(4), MemoryWindowStore())
    assert a.details["anomalies"] == ["outside working hours (Tue 23:00 local)"]
