from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from model.config import LogsConfig
from sensors.logs import LogSensor, scan_log_file
from sensors.logs.checkpoint import CheckpointStore
from sensors.sink import ListSink
from tests.sensors.logs.conftest import FlakySink, reasons
from tests.sensors.logs.formats.test_usb_kernel import DMESG


def jl(i: int) -> bytes:
    return json.dumps({"ts": 1732497600 + i, "user": f"u{i}", "message": f"record {i}"}).encode() + b"\n"


def write(path: Path, *chunks: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        for c in chunks:
            f.write(c)


def expected_ids(path: Path, cfg: LogsConfig) -> set[str]:
    events, _, _ = scan_log_file(str(path), cfg, "sensor-1")
    return {e.event_id for e in events}


def test_run_once_reads_flushes_and_checkpoints(tmp_path: Path, logs_cfg: LogsConfig) -> None:
    log = tmp_path / "logs" / "api.log"
    write(log, *(jl(i) for i in range(5)))
    sink = FlakySink()
    s = LogSensor(logs_cfg, "sensor-1", sink)
    counts = s.run_once()
    assert counts["events"] == 5 and counts["lines-read"] == 5
    assert len(sink.flushed_events) == 5
    saved = CheckpointStore(logs_cfg.checkpoint_dir, "sensor-1").load()
    assert [(c.offset, c.line_no, c.fmt) for c in saved] == [(log.stat().st_size, 5, "jsonl")]
    assert s.run_once() == {}  # nothing new: no events, no checkpoint write
    assert {e.event_id for e in sink.events} == expected_ids(log, logs_cfg)  # live ids == offline ids
    s.close()


def test_restart_after_crash_is_exactly_once_by_event_id(tmp_path: Path, logs_cfg: LogsConfig) -> None:
    log = tmp_path / "logs" / "api.log"
    write(log, *(jl(i) for i in range(10)))
    first = FlakySink()
    s1 = LogSensor(logs_cfg, "sensor-1", first)
    s1.run_once()
    s1.close()
    write(log, *(jl(i) for i in range(10, 25)))
    crashed = FlakySink(fail_flushes=1)  # the process dies during delivery: no flush, no checkpoint
    s2 = LogSensor(logs_cfg, "sensor-1", crashed)
    with pytest.raises(ConnectionError):
        s2.run_once()
    del s2
    write(log, *(jl(i) for i in range(25, 30)))
    final = FlakySink()
    s3 = LogSensor(logs_cfg, "sensor-1", final)
    s3.run_once()
    delivered = [e.event_id for e in first.flushed_events + final.flushed_events]
    assert len(delivered) == len(set(delivered)) == 30  # nothing lost, nothing twice
    assert set(delivered) == expected_ids(log, logs_cfg)
    assert [e.attributes["log_line"] for e in final.flushed_events] == list(range(11, 31))
    s3.close()


def test_crash_between_flush_and_checkpoint_resends_same_ids(
    tmp_path: Path, logs_cfg: LogsConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "logs" / "api.log"
    write(log, *(jl(i) for i in range(6)))
    sink1 = FlakySink()
    s1 = LogSensor(logs_cfg, "sensor-1", sink1)

    def die(self: CheckpointStore, entries: object) -> bool:
        raise KeyboardInterrupt("killed after flush, before the checkpoint")

    monkeypatch.setattr(CheckpointStore, "save", die)
    with pytest.raises(KeyboardInterrupt):
        s1.run_once()
    monkeypatch.undo()
    sink2 = FlakySink()
    LogSensor(logs_cfg, "sensor-1", sink2).run_once()
    first = [e.event_id for e in sink1.flushed_events]
    again = [e.event_id for e in sink2.flushed_events]
    assert first == again and len(set(first)) == 6  # re-sent with the same ids: downstream dedupes


def test_flush_failure_rewinds_within_the_same_sensor(tmp_path: Path, logs_cfg: LogsConfig) -> None:
    log = tmp_path / "logs" / "api.log"
    write(log, *(jl(i) for i in range(4)))
    sink = FlakySink(fail_flushes=1)
    s = LogSensor(logs_cfg, "sensor-1", sink)
    with pytest.raises(ConnectionError):
        s.run_once()
    s.run_once()
    assert {e.event_id for e in sink.flushed_events} == expected_ids(log, logs_cfg)
    assert s.stats["flush-failures"] == 1 and s.stats["rewinds"] == 1
    s.close()


def test_malformed_lines_are_dead_lettered_and_processing_continues(
    tmp_path: Path, logs_cfg: LogsConfig
) -> None:
    log = tmp_path / "logs" / "api.log"
    cfg = dataclasses.replace(logs_cfg, max_line_bytes=200)
    write(log, jl(0), b'{"ts": 1, "user": \n', jl(2), b"\n", b'{"user": "\xff"}\n',
          b'{"pad": "' + b"x" * 300 + b'"}\n', b"[1,2]\n", jl(7))
    sink = ListSink()
    s = LogSensor(cfg, "sensor-1", sink)
    s.run_once()
    assert [e.attributes["log_line"] for e in sink.events] == [1, 3, 8]
    assert reasons(sink.dead_letters) == ["json-invalid", "encoding", "line-too-long", "field-type"]
    bad = sink.dead_letters[0]
    assert bad.stage == "log-sensor" and bad.payload == b'{"ts": 1, "user": '
    assert bad.detail.startswith(f"{log}:2: ") and bad.source == str(log)
    assert len(sink.dead_letters[2].payload) == 200
    st = s.stats
    assert st["dead-letters"] == 4 and st["dead-letter.json-invalid"] == 1 and st["lines-blank"] == 1
    s.close()


def test_auto_detection_per_file_and_unknown_format(tmp_path: Path, logs_cfg: LogsConfig) -> None:
    logs = tmp_path / "logs"
    write(logs / "api.log", jl(1))
    write(logs / "kern.log", DMESG.encode())
    copy = {"ts": 1732497600, "user": "u", "host": "h", "path": "a.csv", "dest_path": "E:/a.csv", "size": 3,
            "device": {"bus": "usb", "serial": "S1"}, "content_sample": "a,b\n1,2\n"}
    write(logs / "agent.log", json.dumps(copy).encode() + b"\n")
    write(logs / "access.log", b'127.0.0.1 - - [25/Nov/2024:09:00:00 +0800] "GET / HTTP/1.1" 200 12\n')
    write(logs / "notes.log", b"[INFO] started\nGET /index.html HTTP/1.1 200\n")
    sink = ListSink()
    s = LogSensor(logs_cfg, "sensor-1", sink)
    s.run_once()
    by_fmt = {(e.attributes["format"], e.channel) for e in sink.events}
    assert by_fmt == {("jsonl", "log"), ("usb-kernel", "usb"), ("file-copy", "usb"), ("access-log", "api-log")}
    assert reasons(sink.dead_letters) == ["format-unknown", "format-unknown"]
    assert s.stats["format-detected.unknown"] == 1
    s.close()


def test_forced_format(tmp_path: Path, logs_cfg: LogsConfig) -> None:
    write(tmp_path / "logs" / "a.log", jl(1))
    sink = ListSink()
    LogSensor(dataclasses.replace(logs_cfg, format="usb-kernel"), "s", sink).run_once()
    assert sink.events == [] and sink.dead_letters == []  # JSON is not a kernel line: ignored


def test_restart_finishes_a_rotated_file_it_had_not_finished(tmp_path: Path, logs_cfg: LogsConfig) -> None:
    log = tmp_path / "logs" / "api.log"
    write(log, *(jl(i) for i in range(3)))
    sink1 = FlakySink()
    LogSensor(logs_cfg, "sensor-1", sink1).run_once()
    write(log, jl(3), jl(4))  # written before rotation, unread while the sensor is down
    os.rename(log, tmp_path / "logs" / "api.log.1")
    write(log, jl(5))
    sink2 = FlakySink()
    s2 = LogSensor(logs_cfg, "sensor-1", sink2)
    s2.run_once()
    lines = [(Path(e.attributes["log_file"]).name, e.attributes["log_line"]) for e in sink2.flushed_events]
    assert lines == [("api.log.1", 4), ("api.log.1", 5), ("api.log", 1)]
    assert s2.stats["checkpoint-resumed-rotated"] == 1
    s2.close()


def test_copytruncate_while_down_recovers_from_the_copy(tmp_path: Path, logs_cfg: LogsConfig) -> None:
    log = tmp_path / "logs" / "api.log"
    write(log, *(jl(i) for i in range(3)))
    LogSensor(logs_cfg, "sensor-1", FlakySink()).run_once()
    write(log, jl(3))
    whole_ids = expected_ids(log, logs_cfg)
    shutil.copyfile(log, tmp_path / "logs" / "api.log.1")
    with open(log, "r+b") as f:
        f.truncate(0)
    write(log, jl(100))
    sink = FlakySink()
    s = LogSensor(logs_cfg, "sensor-1", sink)
    s.run_once()
    got = [e.actor for e in sink.flushed_events]
    assert got == ["u3", "u100"]
    assert sink.flushed_events[0].event_id in whole_ids  # same id as if read from the original
    s.close()


def test_replaced_file_with_reused_identity_is_read_from_start(tmp_path: Path, logs_cfg: LogsConfig) -> None:
    log = tmp_path / "logs" / "api.log"
    write(log, *(jl(i) for i in range(3)))
    LogSensor(logs_cfg, "sensor-1", FlakySink()).run_once()
    with open(log, "r+b") as f:  # same inode, new content longer than the old offset
        f.truncate(0)
        f.write(b"".join(jl(i) for i in range(50, 60)))
    sink = FlakySink()
    s = LogSensor(logs_cfg, "sensor-1", sink)
    s.run_once()
    assert [e.actor for e in sink.flushed_events] == [f"u{i}" for i in range(50, 60)]
    assert s.stats["files-replaced"] == 1
    s.close()


def test_usb_correlation_survives_a_restart_mid_sequence(tmp_path: Path, logs_cfg: LogsConfig) -> None:
    log = tmp_path / "logs" / "kern.log"
    lines = DMESG.encode().splitlines(keepends=True)
    write(log, *lines[:8])  # device found, strings, storage detected; no block device yet
    sink1 = FlakySink()
    LogSensor(logs_cfg, "sensor-1", sink1).run_once()
    assert sink1.flushed_events == []
    write(log, *lines[8:])
    sink2 = FlakySink()
    LogSensor(logs_cfg, "sensor-1", sink2).run_once()
    attach = sink2.flushed_events[0]
    assert attach.attributes["action"] == "attach" and attach.device == "4C530001230511115271"
    assert attach.attributes["vendor"] == "SanDisk"


def test_corrupt_checkpoint_rereads_with_same_ids(tmp_path: Path, logs_cfg: LogsConfig) -> None:
    log = tmp_path / "logs" / "api.log"
    write(log, jl(1), jl(2))
    s1 = FlakySink()
    sensor = LogSensor(logs_cfg, "sensor-1", s1)
    sensor.run_once()
    Path(sensor.checkpoint_path).write_bytes(b"{torn")
    s2 = FlakySink()
    again = LogSensor(logs_cfg, "sensor-1", s2)
    again.run_once()
    assert again.stats["checkpoint-corrupt"] == 1
    assert [e.event_id for e in s2.flushed_events] == [e.event_id for e in s1.flushed_events]


def test_run_follows_until_stopped(tmp_path: Path, logs_cfg: LogsConfig) -> None:
    log = tmp_path / "logs" / "api.log"
    write(log, jl(0))
    sink = FlakySink()
    s = LogSensor(logs_cfg, "sensor-1", sink)
    stop = threading.Event()
    th = threading.Thread(target=s.run, args=(stop,), daemon=True)
    th.start()
    try:
        write(log, jl(1), b'{"ts": 1732497602, "user": "u2", "mess')  # a line still being written
        deadline = time.monotonic() + 5
        while len(sink.flushed_events) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        write(log, b'age": "x"}\n')
        while len(sink.flushed_events) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        th.join(5)
    assert not th.is_alive()
    assert [e.actor for e in sink.flushed_events] == ["u0", "u1", "u2"]
    assert CheckpointStore(logs_cfg.checkpoint_dir, "sensor-1").load()[0].offset == log.stat().st_size


def test_scan_log_file_takes_the_unterminated_last_line(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    write(log, jl(0), b'{"user": "last"}')
    events, letters, stats = scan_log_file(str(log), LogsConfig(), "s")
    assert [e.actor for e in events] == ["u0", "last"] and letters == []
    assert stats["lines-unterminated"] == 1 and stats["events"] == 2
    with pytest.raises(ValueError):
        scan_log_file(str(log), LogsConfig(), "s", fmt="nope")


def test_blank_start_does_not_fix_the_format(tmp_path: Path, logs_cfg: LogsConfig) -> None:
    log = tmp_path / "logs" / "api.log"
    write(log, b"\n\n")
    sink = ListSink()
    s = LogSensor(logs_cfg, "sensor-1", sink)
    s.run_once()
    write(log, jl(1))
    s.run_once()
    assert [e.actor for e in sink.events] == ["u1"] and sink.dead_letters == []
    assert s.stats["lines-blank"] == 2
    s.close()


def test_unconfigured_file_is_not_resumed(tmp_path: Path, logs_cfg: LogsConfig) -> None:
    log = tmp_path / "logs" / "api.log"
    write(log, jl(1))
    LogSensor(logs_cfg, "sensor-1", ListSink()).run_once()
    write(log, jl(2))
    other = dataclasses.replace(logs_cfg, paths=(str(tmp_path / "logs" / "*.jsonl"),))
    sink = ListSink()
    s = LogSensor(other, "sensor-1", sink)
    s.run_once()
    assert sink.events == [] and s.stats["checkpoint-dropped"] == 1
    s.close()
