"""Shared per-event work in the policy (facts, filter verdicts, twin windows, rule index) changes no decision.

A policy of many rules — twins (same kind, parameters and match, other ids), variants with other
thresholds and match blocks — must raise exactly the alerts that each rule raises alone, in its
own policy with its own window store, on a randomized stream of events.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from detectors import build_engine
from healthdlp.synth import Synth, csv_export, hl7_adt, patient_json
from model.alerts import Alert
from model.config import DetectorsConfig
from model.events import Endpoint, Event, TlsInfo
from model.findings import ScanResult
from stream.policy import BUNDLED_RULES, MemoryWindowStore, load_policy
from stream.policy import policy as policy_module
from stream.policy.facts import facts_for
from stream.policy.kinds import KINDS
from stream.policy.policy import Policy

POLICY = Path(__file__).resolve().parents[2] / "stream" / "policy"
PACKS = sorted(p for p in (POLICY / "packs").iterdir() if p.is_dir())
KEY = b"shared-eval-key"
T0 = 1_764_036_000.0
CLIENTS = ["10.12.3.41", "10.50.3.3", "10.60.1.1", "100.70.1.9", "203.0.113.50"]
SERVERS = [("192.0.2.5", 80), ("198.51.100.33", 80), ("203.0.113.130", 80), ("10.10.1.20", 8080),
           ("10.9.0.20", 80), ("93.184.216.34", 80)]


def make_events(n: int, seed: int) -> list[Event]:
    rng = random.Random(seed)
    synth = Synth(seed)
    users = [f"D{10000 + i}" for i in range(6)]
    out: list[Event] = []
    for i in range(n):
        common: dict[str, Any] = {"event_id": f"s{seed}-{i}", "sensor_id": "t", "observed_at": T0 + i * 20.0,
                                  "actor": rng.choice(users) if rng.random() < 0.7 else ""}
        src = Endpoint(rng.choice(CLIENTS), 40000 + i)
        host, port = rng.choice(SERVERS)
        kind = rng.random()
        if kind < 0.35:
            body = patient_json(synth.patient())
            out.append(Event(source_kind="net", channel=rng.choice(["http", "fhir"]), src=src, dst=Endpoint(host, port),
                             content=body, content_type="application/json", size=len(body),
                             attributes={"direction": rng.choice(["c2s", "s2c"])}, **common))
        elif kind < 0.45:
            body = hl7_adt(synth.patient(), f"M{i}")
            out.append(Event(source_kind="net", channel="hl7-mllp", src=src, dst=Endpoint("10.10.1.20", 2575),
                             content=body, content_type="x-application/hl7-v2+er7", size=len(body), **common))
        elif kind < 0.6:
            body = csv_export(synth.patients(rng.randint(1, 6))).encode()
            out.append(Event(source_kind="log", channel="usb", device=rng.choice(["USB-ENC-001", "KINGSTON-9"]),
                             content=body, content_type="text/csv", size=len(body),
                             attributes={"records": body.count(b"\n") - 1}, **common))
        elif kind < 0.8:
            p = synth.patient()
            body = f"patient_id=P{i:06d}\n患者姓名: {p.name}\n住院号: ZY{i:08d}".encode()
            out.append(Event(source_kind="log", channel="his-audit", src=src, dst=Endpoint("EMR"), content=body,
                             content_type="text/plain", size=len(body),
                             attributes={"department": rng.choice(["心内科", "骨科"]),
                                         "patient_department": rng.choice(["心内科", "骨科"]), "action": "view"},
                             **{**common, "actor": rng.choice(users)}))
        else:
            out.append(Event(source_kind="net", channel="tls", src=src, dst=Endpoint(host, 443), encrypted=True,
                             tls=TlsInfo(version="TLS1.3", sni="portal.hospital.example"), **common))
    return out


def base_rules() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for f in [*sorted(BUNDLED_RULES.glob("*.yaml")), *(p / "rules.yaml" for p in PACKS)]:
        if not f.name.endswith(".test.yaml"):
            data = yaml.safe_load(f.read_text(encoding="utf-8"))
            docs.extend(data if isinstance(data, list) else [data])
    return docs


def rule_set(seed: int) -> list[dict[str, Any]]:
    """Every base rule, a twin of each, and random variants (lower thresholds, match blocks)."""
    rng = random.Random(seed)
    base = base_rules()
    rules = [dict(r) for r in base]
    for i, r in enumerate(base):
        rules.append({**r, "id": f"{r['id']}-twin{i}"})
        # twins that differ in what the alert shows of the rule: version, title, playbook, severity
        rules.append({**r, "id": f"{r['id']}-retitled{i}", "version": 7, "title": f"Site copy {i}: {r['title']}",
                      "playbook": {"check": [f"site check {i}"], "dispose": [f"site step {i}"]}})
        rules.append({**r, "id": f"{r['id']}-regraded{i}", "severity": {"by_level": {3: "critical"}}})
    for i in range(30):
        r = dict(rng.choice(base))
        r["id"] = f"{r['id']}-var{i}"
        params = dict(r.get("parameters") or {})
        if r["kind"] == "subject-fanout":
            params["thresholds"] = {"3": rng.choice([3, 5, 8])}
        elif r["kind"] == "bulk-removable-media":
            params["min_subjects"] = rng.choice([2, 4])
        elif r["kind"] == "doctor-access":
            params["min_anomalies"] = rng.choice([1, 2, 3])
        r["parameters"] = params
        if rng.random() < 0.5:
            r["match"] = {**(r.get("match") or {}), "channel": rng.sample(["http", "fhir", "usb", "his-audit"], 2)}
        rules.append(r)
        if rng.random() < 0.5:  # a twin of the variant
            rules.append({**r, "id": f"{r['id']}-twin"})
    return rules


def canonical(alerts: list[Alert]) -> list[str]:
    return sorted(json.dumps(a.to_dict(), sort_keys=True, ensure_ascii=False, default=str) for a in alerts)


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    return build_engine(DetectorsConfig(), KEY)


@pytest.mark.parametrize("seed", [1, 2])
def test_many_rules_raise_what_each_rule_raises_alone(engine, tmp_path: Path, seed: int) -> None:  # type: ignore[no-untyped-def]
    check_against_singles(engine, tmp_path, seed)


def test_twins_fall_back_to_their_own_evaluator_when_the_keys_are_unknown(
    engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(policy_module, "alert_keys", lambda alert_id: None)
    check_against_singles(engine, tmp_path, 3)


def check_against_singles(engine, tmp_path: Path, seed: int) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "rules.yaml"
    f.write_text(yaml.safe_dump(rule_set(seed), allow_unicode=True, sort_keys=False), encoding="utf-8")
    policy = load_policy([str(f)], [str(p / "context.yaml") for p in PACKS], hash_key=KEY)
    assert policy._shares_windows  # the twins do share windows
    assert sum(a.twin_group >= 0 for a in policy._active) > len(policy._active) // 2  # and are evaluated once
    singles = [Policy([r], [KINDS[r.kind].bind(r)], policy.context) for r in policy.active]
    events = make_events(160, seed)
    scans: list[ScanResult] = [engine.scan(e) for e in events]
    together, alone = MemoryWindowStore(), [MemoryWindowStore() for _ in singles]
    fired = 0
    for e, s in zip(events, scans, strict=True):
        got = policy.evaluate(e, s, together)
        want = [a for p, w in zip(singles, alone, strict=True) for a in p.evaluate(e, s, w)]
        assert canonical(got) == canonical(want), e.event_id
        fired += len(got)
    assert fired > 100  # the stream exercises the rules


def test_facts_follow_the_scan_they_were_computed_for(engine) -> None:  # type: ignore[no-untyped-def]
    policy = load_policy()
    e = make_events(1, 9)[0]
    flow = policy.context.resolve(e)
    s1 = engine.scan(e)
    s2 = ScanResult(findings=(), record_level=0, categories=(), subject_hashes=())
    assert facts_for(e, s1, flow) is facts_for(e, s1, flow)
    assert facts_for(e, s2, flow).subjects == ()
    assert facts_for(e, s1, flow).subjects == tuple(dict.fromkeys(s1.subject_hashes))
