"""The pure pipeline core with the REAL detectors engine and the bundled rules."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from healthdlp.synth import Patient, Synth, csv_export, patient_json
from model.codec import decode_batch
from model.config import Config, PolicyConfig
from model.events import Endpoint, Event, TlsInfo
from model.findings import ScanResult
from sensors.logs import scan_log_file
from stream.pipeline import Pipeline, PipelineResult, build_pipeline
from stream.policy import BUNDLED_RULES, MemoryWindowStore, WindowSnapshot

T0 = 1_764_000_000.0


@pytest.fixture(scope="module")
def pipeline_parts() -> Pipeline:
    """Built once (the engine compiles its catalogue); tests take fresh Pipelines around its parts.

    The pipeline mechanics are pinned with the two v1 rules (cleartext, bulk removable media);
    the context-aware bundled rules have their own tests (test_policy_flows.py, test_policy_packs.py).
    """
    v1 = tuple(str(BUNDLED_RULES / f) for f in ("transmission.yaml", "removable-media.yaml"))
    return build_pipeline(Config(policy=PolicyConfig(rules=v1)), b"test-hash-key-not-secret")


def fresh(
    parts: Pipeline, scanner: object | None = None, windows: MemoryWindowStore | None = None
) -> Pipeline:
    return Pipeline(scanner or parts.scanner, parts.policy, windows)  # type: ignore[arg-type]


def http_post(p: Patient, i: int = 0, *, tls: bool = False) -> Event:
    body = patient_json(p)
    return Event(
        event_id=f"http-{i}", sensor_id="net-1", observed_at=T0 + i, source_kind="net", channel="http",
        src=Endpoint("10.2.0.15", 52311), dst=Endpoint("10.9.0.20", 8080), encrypted=tls,
        tls=TlsInfo(version="TLS1.3") if tls else None, content=b"" if tls else body,
        content_type="application/json", size=len(body),
        attributes={"method": "POST", "path": "/api/emr/patients", "status": 201},
    )


def usb_copy(p: Patient, i: int, actor: str = "nurse.wang") -> Event:
    body = csv_export([p]).encode("utf-8")
    return Event(
        event_id=f"usb-{actor}-{i}", sensor_id="log-1", observed_at=T0 + 30 * i, source_kind="log",
        channel="file-copy", actor=actor, device="USB\\VID_0781&PID_5567\\4C530001",
        content=body, content_type="text/csv", size=len(body),
        attributes={"removable": True, "path": f"E:\\export\\{i:03d}.csv", "records": 1},
    )


def raw_values(patients: Iterable[Patient]) -> list[str]:
    return [v for p in patients for v in (p.citizen_id, p.name, p.mobile)]


def assert_no_raw(alerts: Iterable[object], patients: Iterable[Patient]) -> None:
    text = json.dumps([a.to_dict() for a in alerts], ensure_ascii=False)  # type: ignore[attr-defined]
    leaked = [v for v in raw_values(patients) if v in text]
    assert not leaked, f"raw values in alert JSON: {leaked}"


def test_http_post_of_a_patient_raises_one_cleartext_alert(pipeline_parts: Pipeline) -> None:
    p = Synth(1).patient(special=False)
    result = fresh(pipeline_parts).process([http_post(p)])
    assert (result.events, len(result.dead_letters)) == (1, 0) and result.findings >= 2
    (a,) = result.alerts
    assert a.rule_id == "cleartext-health-data" and a.max_level >= 4 and a.severity in ("high", "critical")
    assert "CN_RESIDENT_ID" in a.entities and a.subjects >= 1 and a.evidence
    assert (a.src, a.dst, a.channel, a.encrypted) == ("10.2.0.15:52311", "10.9.0.20:8080", "http", False)
    assert_no_raw(result.alerts, [p])


def test_the_same_post_over_tls_raises_nothing(pipeline_parts: Pipeline) -> None:
    result = fresh(pipeline_parts).process([http_post(Synth(1).patient(), tls=True)])
    assert result.alerts == () and result.dead_letters == ()


def test_25_usb_copies_of_distinct_patients_raise_one_bulk_alert(pipeline_parts: Pipeline) -> None:
    patients = Synth(7).patients(25)
    events = [usb_copy(p, i) for i, p in enumerate(patients)]
    result = fresh(pipeline_parts).process(events)
    bulk = [a for a in result.alerts if a.rule_id == "bulk-removable-media-export"]
    assert len(bulk) == 1 and result.dead_letters == ()
    (a,) = bulk
    assert a.subjects == 25 and len(a.subject_hashes) == 25 and len(a.event_ids) == 25
    assert a.actor == "nurse.wang" and a.max_level >= 4 and a.details["records"] == 25
    assert (a.observed_at, a.last_seen) == (T0, T0 + 30 * 24)
    assert_no_raw(result.alerts, patients)


def test_event_by_event_gives_the_same_final_alert_as_one_batch(pipeline_parts: Pipeline) -> None:
    events = [usb_copy(p, i) for i, p in enumerate(Synth(7).patients(25))]
    batch = fresh(pipeline_parts).process(events).alerts
    one_by_one = fresh(pipeline_parts)
    seen = [a for ev in events for a in one_by_one.process([ev]).alerts]
    assert len({a.alert_id for a in seen}) == 1 and len(seen) == 6  # 20th..25th copy update it
    assert seen[-1] == batch[0]


def test_replay_yields_the_same_alert_ids(pipeline_parts: Pipeline) -> None:
    s = Synth(11)
    events = [http_post(s.patient(), i) for i in range(3)]
    events += [usb_copy(p, i) for i, p in enumerate(s.patients(21))]
    first = fresh(pipeline_parts).process(events)
    replay = fresh(pipeline_parts).process(events)
    assert [a.alert_id for a in first.alerts] == [a.alert_id for a in replay.alerts]
    assert first.alerts == replay.alerts and len(first.alerts) == 4


class PoisonEngine:
    """The real engine, except that it raises for one event id (a detector bug on odd content)."""

    def __init__(self, engine: object, bad_id: str, message: str) -> None:
        self.engine, self.bad_id, self.message = engine, bad_id, message

    def scan(self, event: Event) -> ScanResult:
        if event.event_id == self.bad_id:
            raise UnicodeError(self.message)
        return self.engine.scan(event)  # type: ignore[attr-defined, no-any-return]


def test_a_poison_event_is_dead_lettered_and_the_rest_processed(pipeline_parts: Pipeline) -> None:
    s = Synth(3)
    victim = s.patient()
    events = [http_post(s.patient(), i) for i in range(5)]
    events[2] = http_post(victim, 2)
    poison = PoisonEngine(pipeline_parts.scanner, "http-2", f"bad byte near {victim.citizen_id}")
    pipe = fresh(pipeline_parts, poison)
    result = pipe.process(events)
    assert result.events == 5 and len(result.alerts) == 4
    assert "http-2" not in {e for a in result.alerts for e in a.event_ids}
    (dl,) = result.dead_letters
    assert (dl.stage, dl.reason, dl.observed_at) == ("detect", "detector-error", T0 + 2)
    assert "UnicodeError" in dl.detail and "http-2" in dl.detail
    assert victim.citizen_id not in dl.detail  # the message's digits are masked
    assert decode_batch(dl.payload) == [events[2]]  # replayable as it is
    assert pipe.stats.as_dict()["dead_letters.detector-error"] == 1


class ExplodingWindows(MemoryWindowStore):
    """Window state that fails for one principal (a broken table backend)."""

    def add(self, key: str, members: Iterable[str], ts: float, window_s: float) -> WindowSnapshot:
        if "actor:mallory" in key:
            raise ConnectionError("table partition unavailable")
        return super().add(key, members, ts, window_s)


def test_a_policy_error_is_dead_lettered_and_the_rest_processed(pipeline_parts: Pipeline) -> None:
    s = Synth(5)
    events = [usb_copy(s.patient(), 0, actor="mallory")]
    events += [usb_copy(p, i) for i, p in enumerate(s.patients(20))]
    result = fresh(pipeline_parts, windows=ExplodingWindows()).process(events)
    (dl,) = result.dead_letters
    assert (dl.stage, dl.reason) == ("policy", "policy-error") and "ConnectionError" in dl.detail
    assert [a.subjects for a in result.alerts] == [20]


def test_counters(pipeline_parts: Pipeline) -> None:
    s = Synth(9)
    pipe = fresh(pipeline_parts, PoisonEngine(pipeline_parts.scanner, "usb-nurse.wang-0", "x"))
    r1: PipelineResult = pipe.process([http_post(s.patient(), 0), http_post(s.patient(), 1, tls=True)])
    r2 = pipe.process([usb_copy(p, i) for i, p in enumerate(s.patients(21))])
    stats = pipe.stats.as_dict()
    assert stats["events"] == 23 and stats["findings"] == r1.findings + r2.findings > 0
    assert stats["alerts.cleartext-health-data"] == 1 and stats["alerts.bulk-removable-media-export"] == 1
    assert stats["dead_letters"] == 1 and stats["alerts"] == 2


def test_real_log_sensor_file_copy_records_to_sd_and_optical_media(
    pipeline_parts: Pipeline, tmp_path: Path
) -> None:
    """End to end from the endpoint agent's file-copy JSON lines (sensors/logs) to one bulk alert."""
    patients = Synth(42).patients(21)
    lines = []
    for i, p in enumerate(patients):
        sample = csv_export([p])
        lines.append(json.dumps({
            "v": 1, "ts": T0 + 60 * i, "user": "nurse.wang", "host": "ws-12", "path": f"D:\\exp\\{i}.csv",
            "dest_path": f"F:\\{i}.csv", "size": len(sample.encode()), "content_sample": sample,
            "device": {"bus": "sd" if i % 2 else "optical", "serial": "SN123"},
        }, ensure_ascii=False))
    lines.append(json.dumps({  # the same kind of file to a network share never counts
        "v": 1, "ts": T0 + 9, "user": "nurse.wang", "host": "ws-12", "path": "D:\\x.csv",
        "dest_path": "\\\\nas\\x", "size": 10,
        "content_sample": csv_export(Synth(43).patients(1)), "device": {"bus": "network"},
    }, ensure_ascii=False))
    log = tmp_path / "file-copy.jsonl"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    events, letters, _ = scan_log_file(str(log), Config().logs, "log-1", fmt="file-copy")
    assert len(events) == 22 and letters == []
    result = fresh(pipeline_parts).process(sorted(events, key=lambda e: e.observed_at))
    (a,) = result.alerts
    assert a.subjects == 21 and a.details["channels"] == ["file-copy", "usb"] and a.details["records"] == 21
    assert a.details["devices"] == ["SN123"] and a.actor == "nurse.wang"
    assert_no_raw(result.alerts, patients)
