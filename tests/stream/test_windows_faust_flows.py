"""Window state of every windowed kind survives a restart through the faust table's changelog.

All kinds keep their state through the one ``WindowStore.add`` (distinct members with expiry),
so the mechanism proven on the real broker for the bulk rule (test_e2e_worker.py) and for the
doctor-access pack (test_e2e_worker_flows.py) carries every kind. Here each windowed kind's own
YAML case runs through a real faust Table: the first half of the events, then a "restart" — a new
app and store whose table holds only what the changelog recorded, decoded from its JSON — then
the second half. The final alerts must equal a single uninterrupted run in memory.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import faust
import pytest

from model.alerts import Alert
from model.yamlsrc import LineDict, LineList, load_yaml_file
from stream.policy import MemoryWindowStore, Policy, load_policy
from stream.policy.context import build_context
from stream.policy.testcases import TEST_KEY, build_events, build_scan
from stream.windows_faust import FaustWindowStore, define_window_table

POLICY = Path(__file__).resolve().parents[2] / "stream" / "policy"
#: (test file, case name) per windowed kind
CASES = [
    ("rules/flows.test.yaml", "50 special-disease patients across http, usb and the HIS log in an hour alert"),
    ("rules/flows.test.yaml", "250 subjects toward a cross-border zone reach the draft limit"),
    ("rules/flows.test.yaml", "full birth date + sex + postcode rows give k = 1 over 60 records"),
    ("rules/flows.test.yaml", "20 patients copied to removable media in an hour alert"),
    ("packs/doctor-access/rules.test.yaml", "five off-hours accesses reach the permission-lock level"),
    ("packs/secondary-use/rules.test.yaml",
     "a rare diagnosis shared by 4 of 40 records fails the re-identification test"),
    ("packs/patient-query/rules.test.yaml", "one account receiving four different people in a day alerts (IDOR)"),
]


def _load(file: str, name: str) -> tuple[Policy, list[Any]]:
    path = POLICY / file
    doc = load_yaml_file(path)
    base = path.parent
    rules = [str(base / r) for r in doc["rules"]]
    ctx_spec = doc.get("context")
    if isinstance(ctx_spec, LineDict):
        policy = load_policy(rules, hash_key=TEST_KEY)
        ctx = build_context([ctx_spec], ["inline"])
        ctx.hash_key = TEST_KEY
        policy = policy.with_context(ctx)
    else:
        policy = load_policy(rules, [str(base / c) for c in ctx_spec or []], hash_key=TEST_KEY)
    cases: LineList = doc["cases"]
    case = next(c for c in cases if c["name"] == name)
    issues: list[Any] = []
    events = build_events(case["given"], "x", "c", issues)
    built = [(ev, build_scan(spec, at, f"c-{ev.event_id}", issues)) for ev, spec, at in events]
    assert not issues
    return policy, sorted(built, key=lambda p: p[0].observed_at)


def _table(name: str) -> tuple[faust.App, FaustWindowStore]:
    app = faust.App(name, broker="kafka://127.0.0.1:1", store="memory://", topic_partitions=3)
    return app, FaustWindowStore(define_window_table(app, 3))


def _drain_changelog(app: faust.App) -> list[tuple[str, Any]]:
    out = []
    q = app.producer.buffer.pending
    while not q.empty():
        m = q.get_nowait().message
        out.append((json.loads(m.key), json.loads(m.value) if m.value is not None else None))
    return out


def _keep(latest: dict[str, Alert], alerts: list[Alert]) -> None:
    for a in alerts:
        latest[a.alert_id] = a


@pytest.mark.parametrize(("file", "name"), CASES, ids=[c[1][:40] for c in CASES])
def test_state_round_trips_through_the_changelog(file: str, name: str) -> None:
    policy, items = _load(file, name)
    expected: dict[str, Alert] = {}
    mem = MemoryWindowStore()
    for ev, sc in items:
        _keep(expected, policy.evaluate(ev, sc, mem))
    assert expected, "the case must raise an alert for the comparison to mean something"

    async def run() -> dict[str, Alert]:
        got: dict[str, Alert] = {}
        app, store = _table("rt-a")
        half = len(items) // 2
        for ev, sc in items[:half]:
            store.mark(1)
            _keep(got, policy.evaluate(ev, sc, store))
            store.apply()
        log = _drain_changelog(app)
        assert log, "window state must reach the changelog"
        _app2, restarted = _table("rt-b")  # a new worker: only the changelog is left
        for key, value in log:
            if value is None:
                restarted.table.data.pop(key, None)
            else:
                restarted.table.data[key] = value
        for ev, sc in items[half:]:
            restarted.mark(1)
            _keep(got, policy.evaluate(ev, sc, restarted))
            restarted.apply()
        return got

    got = asyncio.run(run())
    assert {k: (a.rule_id, a.subjects, a.severity, a.event_ids) for k, a in got.items() if k in expected} == \
        {k: (a.rule_id, a.subjects, a.severity, a.event_ids) for k, a in expected.items()}
