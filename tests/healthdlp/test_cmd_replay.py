"""``healthdlp replay``: the same capture under the bundled rules and under a tuned copy."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from healthdlp import cmd_replay
from healthdlp.synth import Synth, patient_json
from sensors.net import craft
from stream.policy import BUNDLED_RULES


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--config")
    cmd_replay.register(p.add_subparsers(dest="command", required=True))
    return p.parse_args(list(argv))


@pytest.fixture()
def capture(tmp_path: Path) -> Path:
    convs = []
    for i, p in enumerate(Synth(5).patients(3, special=False)):
        req = craft.http_request("POST", "/api/emr", body=patient_json(p), content_type="application/json")
        conv = craft.Conversation(client="10.2.0.15", server="10.9.0.20", sport=41000 + i, dport=80,
                                  start_ts=1_764_000_000.0 + i)
        convs.append(craft.conversation([("c", req), ("s", craft.http_response(b"{}"))], conv))
    return craft.write_conversations(tmp_path / "emr.pcap", convs)


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEALTHDLP_CONFIG", raising=False)
    monkeypatch.setenv("HEALTHDLP_HASH_KEY", "replay-test-key")
    monkeypatch.chdir(tmp_path)


def test_a_vetoed_interface_shows_as_removed_alerts(env: None, capture: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    tuned = tmp_path / "tuned"
    shutil.copytree(BUNDLED_RULES, tuned)
    f = tuned / "transmission.yaml"
    f.write_text(f.read_text().replace("approvals: ignore\n", "approvals: ignore\nunless: {dst_host: [10.9.0.0/16]}\n"))
    args = parse("replay", "--rules", str(tuned), "--from", str(capture))
    assert args.func(args) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("cleartext-health-data"))
    assert line.split()[1:] == ["3", "0", "-3"]
    assert out.count("  - cleartext-health-data") == 3 and "only the candidate alerts" not in out

    args = parse("replay", "--rules", str(BUNDLED_RULES), "--from", str(capture), "--format", "jsonl")
    assert args.func(args) == 0
    assert capsys.readouterr().out == ""  # same policy on both sides: no differences


def test_jsonl_and_since(env: None, capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tuned = tmp_path / "tuned"
    shutil.copytree(BUNDLED_RULES, tuned)
    f = tuned / "transmission.yaml"
    f.write_text(f.read_text().replace("raise_at_subjects: 10", "raise_at_subjects: 1"))
    args = parse("replay", "--rules", str(tuned), "--from", str(capture), "--format", "jsonl")
    assert args.func(args) == 0
    rows = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert len(rows) == 3 and {r["change"] for r in rows} == {"changed"}
    assert {(r["before"]["severity"], r["alert"]["severity"]) for r in rows} == {("high", "critical")}
    args = parse("replay", "--rules", str(tuned), "--since", "7d")  # embedded defaults: no Kafka, no stored events
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "names no kafka.bootstrap" in err and "--from FILES" in err


@pytest.mark.parametrize(("argv", "message"), [
    (("--since", "7d", "--from", "x.pcap"), "either --from FILES or --since"),
    (("--since", "seven days"), "neither a duration (7d, 24h, 90m) nor an ISO time"),
    (("--since", "1d", "--until", "2d"), "is empty"),
    (("--until", "1d"), "--until needs --since"),
    (("--baseline", "stored", "--from", "x.pcap"), "give --since"),
    ((), "give --from FILES"),
])
def test_argument_errors_exit_2(env: None, argv: tuple[str, ...], message: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("replay", "--rules", str(BUNDLED_RULES), *argv)
    assert args.func(args) == 2
    assert message in capsys.readouterr().err


def test_a_config_without_kafka_is_the_embedded_mode(env: None, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "healthdlp.yaml"
    cfg.write_text("sensor_id: ward-7\nkafka:\n  events_topic: ev\n")
    args = parse("--config", str(cfg), "replay", "--rules", str(BUNDLED_RULES), "--since", "7d")
    assert args.func(args) == 2
    assert f"({cfg}) names no kafka.bootstrap" in capsys.readouterr().err


def test_progress_bar_draws_only_when_enabled() -> None:
    import io

    out = io.StringIO()
    bar = cmd_replay.ProgressBar(out, enabled=True, width=10)
    bar(250, 1000, force=True)
    bar(260, 1000)  # within 0.1 s of the last draw: skipped
    bar(1000, 1000, force=True)
    bar.close()
    assert out.getvalue() == "\r[##........] 250/1,000 records\r[##########] 1,000/1,000 records\n"
    quiet = io.StringIO()
    off = cmd_replay.ProgressBar(quiet, enabled=False)
    off(1, 2, force=True)
    off.close()
    assert quiet.getvalue() == ""
