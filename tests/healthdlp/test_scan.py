"""`healthdlp scan` end to end in-process: captures and logs in, alert JSON lines out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from healthdlp.cli import main
from healthdlp.synth import Synth, csv_export, hl7_adt, patient_json
from sensors.net import craft

ROOT = Path(__file__).resolve().parents[2]


def _scan(capsys: pytest.CaptureFixture[str], *paths: Path) -> list[dict]:
    assert main(["scan", *map(str, paths), "--format", "jsonl", "--quiet"]) == 0
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HEALTHDLP_HASH_KEY", "test-key")
    monkeypatch.delenv("HEALTHDLP_CONFIG", raising=False)
    return tmp_path


def test_hl7_over_mllp_cleartext_is_level4_alert(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    synth = Synth(seed=1)
    patients = synth.patients(3, special=False)
    turns = []
    for i, p in enumerate(patients):
        turns += [("c", craft.mllp(hl7_adt(p, f"C{i}"))), ("s", craft.mllp(craft.hl7_ack(f"C{i}")))]
    pcap = craft.write_pcap(env / "hl7.pcap", craft.conversation(turns, craft.Conversation(dport=2575)))
    alerts = _scan(capsys, pcap)
    hl7 = [a for a in alerts if a["channel"] == "hl7-mllp"]
    assert len(hl7) == 3, alerts
    for a in hl7:
        assert a["rule_id"] == "cleartext-health-data"
        assert a["max_level"] >= 4 and a["encrypted"] is False
        assert a["subjects"] >= 1 and a["clauses"]
    text = json.dumps(alerts, ensure_ascii=False)
    for p in patients:  # no raw identifier anywhere in the output
        assert p.citizen_id not in text and p.mobile not in text and p.mrn not in text


def test_tls_only_capture_has_no_cleartext_alert(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conv = craft.conversation(
        [("c", craft.tls_client_hello("his.example")), ("s", craft.tls_server_hello()),
         ("c", craft.tls_app_data(4000, seed=3)), ("s", craft.tls_app_data(9000, seed=4))],
        craft.Conversation(dport=443),
    )
    pcap = craft.write_pcap(env / "tls.pcap", conv)
    assert _scan(capsys, pcap) == []


def test_http_post_of_patient_record(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = Synth(seed=2).patient(special=True)
    req = craft.http_request("POST", "/api/emr", body=patient_json(p), content_type="application/json", user="dr.x")
    pcap = craft.write_pcap(env / "post.pcap", craft.conversation([("c", req), ("s", craft.http_response(b"{}"))]))
    (alert,) = _scan(capsys, pcap)
    assert alert["channel"] == "http" and alert["actor"] == "dr.x"
    assert alert["max_level"] == 5 and alert["severity"] == "critical"
    assert "SPECIAL_DISEASE" in alert["entities"] and "CN_RESIDENT_ID" in alert["entities"]
    assert p.citizen_id not in json.dumps(alert, ensure_ascii=False)


def _copy_line(user: str, i: int, sample: str) -> str:
    return json.dumps({
        "v": 1, "ts": f"2026-11-20T10:{i:02d}:00+08:00", "user": user, "host": "WS-1",
        "path": f"C:/x/{i}.csv", "dest_path": f"E:/{i}.csv", "size": len(sample), "content_sample": sample,
        "device": {"bus": "usb", "serial": "SER123", "vendor": "V", "product": "P"},
    }, ensure_ascii=False)


def test_usb_bulk_copy_counts_distinct_subjects_across_files(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    synth = Synth(seed=3)
    patients = synth.patients(24)
    lines = [_copy_line("u1", i, csv_export(patients[i * 6 : (i + 1) * 6])) for i in range(4)]
    lines.append(_copy_line("u1", 9, csv_export(patients[:6])))  # the same six again: not new subjects
    lines.append(_copy_line("u2", 10, csv_export(patients[:3])))  # another user, below the threshold
    log = env / "copies.jsonl"
    log.write_text("\n".join(lines) + "\nnot json at all\n", encoding="utf-8")
    alerts = [a for a in _scan(capsys, log) if a["rule_id"] == "bulk-removable-media-export"]
    assert len(alerts) == 1
    (a,) = alerts
    assert a["subjects"] == 24 and a["actor"] == "u1" and a["channel"] == "usb"
    assert a["max_level"] >= 4


def test_bundled_samples(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alerts = _scan(capsys, ROOT / "healthdlp" / "samples")
    by_rule: dict[str, list[dict]] = {}
    for a in alerts:
        by_rule.setdefault(a["rule_id"], []).append(a)
    assert {a["channel"] for a in by_rule["cleartext-health-data"]} == {"http", "fhir", "hl7-mllp"}
    (bulk,) = by_rule["bulk-removable-media-export"]
    assert bulk["subjects"] == 30 and bulk["actor"] == "zhang.wei"
    assert not any(a["dst"].endswith(":443") for a in alerts)  # the TLS session
    assert not any("beds" in json.dumps(a) for a in alerts)  # the public query


def test_dead_letters_are_written_and_counted(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = env / "bad.jsonl"
    log.write_text('{"a": 1}\n{broken\n', encoding="utf-8")
    dl = env / "dl.jsonl"
    assert main(["scan", str(log), "--dead-letters", str(dl)]) == 0
    err = capsys.readouterr().err
    assert "dead letters:" in err and "json-invalid=1" in err
    (rec,) = [json.loads(x) for x in dl.read_text().splitlines()]
    assert rec["reason"] == "json-invalid" and rec["payload_b64"]
    assert dl.stat().st_mode & 0o777 == 0o600


def test_missing_path_is_a_clear_error(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "nope.pcap"]) == 2
    assert "nope.pcap" in capsys.readouterr().err


def test_config_error_reports_file_and_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = env / "bad.yaml"
    cfg.write_text("store:\n  backnd: chdb\n")
    assert main(["--config", str(cfg), "rules", "check"]) == 2
    assert f"{cfg}:2: unknown key 'backnd'" in capsys.readouterr().err


def test_rules_check_lists_bundled_rules(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check"]) == 0
    out = capsys.readouterr().out
    assert "cleartext-health-data" in out and "bulk-removable-media-export" in out


def test_sensor_subcommands_parse_paths_after_options() -> None:
    from healthdlp.cli import build_parser

    args = build_parser().parse_args(["sensor", "logs", "--once", "a.log", "b/*.jsonl"])
    assert args.kind == "logs" and args.once and args.paths == ["a.log", "b/*.jsonl"]
    args = build_parser().parse_args(["sensor", "net", "--pcap", "x.pcap", "y.pcapng"])
    assert args.kind == "net" and args.pcap == ["x.pcap", "y.pcapng"]
