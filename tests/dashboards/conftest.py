"""A real embedded store (chdb) with known alerts, and the console served from it on a free port."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from dashboards.console import ConsoleServer, start_console
from model.alerts import Alert
from model.config import StoreConfig

NOW = time.time()
HOUR = 3600.0


def alert(n: int, **kw: Any) -> Alert:
    base: dict[str, Any] = dict(
        alert_id=f"{n:032x}",
        rule_id="cleartext-health-data",
        rule_version=1,
        title="Personal health data sent over an unencrypted channel",
        severity="high",
        clauses=("§8.2 Table 4 (transmission: encryption, in every flow scenario)", "§10.1 (cryptography)"),
        channel="hl7-mllp",
        src="10.1.2.3:40000",
        dst="203.0.113.9:2575",
        actor="svc-his",
        encrypted=False,
        entities=("CN_RESIDENT_ID", "DIAGNOSIS"),
        categories=("personal_attribute", "health_status"),
        max_level=4,
        subjects=12,
        evidence=("110101********1234", "张*"),
        subject_hashes=(f"h{n}a", f"h{n}b"),
        event_ids=(f"evt-{n}-1", f"evt-{n}-2"),
        observed_at=NOW - n * HOUR,
        last_seen=NOW - n * HOUR + 1800,  # half an hour of activity: the 1h filter holds for 30 min of a slow run
        sensor_id="net-1",
        details={
            "grading_reason": "identifier and diagnosis in one record",
            "severity_reason": "L4 -> high",
            "playbook": {"check": ["Who talks to whom"], "dispose": ["Block the flow"]},
            "findings": 3,
        },
    )
    base.update(kw)
    return Alert(**base)


ALERTS: dict[str, Alert] = {
    "crit": alert(1, severity="critical", max_level=5, subjects=40, categories=("health_status",)),
    "high_http": alert(2, channel="http", dst="198.51.100.7:80"),
    "usb": alert(
        3,
        rule_id="bulk-removable-media-export",
        title="Bulk copy to removable media",
        channel="usb",
        src="ws-ward7",
        dst="usb:Kingston-1234",
        actor="nurse.li",
        subjects=120,
        clauses=("§8.3 Table 5 file sharing: removable media encrypted or access-controlled",),
    ),
    "old": alert(240, severity="medium", max_level=3, channel="fhir", actor="", src="10.9.9.9:5000"),
    "xss": alert(
        4,
        severity="low",
        max_level=3,
        title="<script>alert('title')</script>",
        evidence=("<img src=x onerror=alert(1)>",),
        actor="<b>mallory</b>",
    ),
    "triage": alert(5, severity="medium", max_level=3, actor="svc-lab"),
    "form": alert(6, severity="medium", max_level=3, actor="svc-lab"),
    "custom": alert(7, rule_id="site-custom-rule", severity="info", max_level=2, actor="svc-lab"),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from store import open_store

    cfg = StoreConfig(backend="chdb", chdb_path=str(tmp_path_factory.mktemp("chdb") / "db"))
    s = open_store(cfg)
    s.migrate()
    s.insert_alerts(list(ALERTS.values()))
    yield s
    s.close()


@pytest.fixture(scope="module")
def console(store: Any) -> Iterator[ConsoleServer]:
    srv = start_console(store, port=0)
    yield srv
    srv.close()
