from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sensors.logs.checkpoint import CheckpointStore, CorruptCheckpoint, FileCheckpoint


def entry(offset: int = 10) -> FileCheckpoint:
    return FileCheckpoint(path="/var/log/a.log", dev=1, ino=2, fp="ab" * 16, fp_len=1024, offset=offset,
                          line_no=3, fmt="usb-kernel", state={"devices": {"1-1": {"vid": "0781"}}})


def test_roundtrip_and_skip_when_unchanged(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "ck", "sensor/01")
    assert store.load() == []
    assert store.save([entry()]) is True
    assert store.save([entry()]) is False  # nothing changed: no write, no fsync
    assert store.path.name == "logs-sensor_01.json"
    assert CheckpointStore(tmp_path / "ck", "sensor/01").load() == [entry()]
    doc = json.loads(store.path.read_text())
    assert doc["version"] == 1 and doc["sensor_id"] == "sensor/01"


def test_write_is_atomic_when_the_rename_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CheckpointStore(tmp_path, "s")
    store.save([entry(10)])
    before = store.path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("power lost")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.save([entry(20)])
    monkeypatch.undo()
    assert store.path.read_bytes() == before  # the old state, whole
    assert [p.name for p in tmp_path.iterdir()] == [store.path.name]  # no temp file left behind
    assert CheckpointStore(tmp_path, "s").load()[0].offset == 10


def test_write_is_fsynced_before_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    CheckpointStore(tmp_path, "s").save([entry()])
    assert calls == ["fsync", "replace", "fsync"]  # file data, rename, directory


@pytest.mark.parametrize(
    "body", [b"{torn", b'{"version": 99, "files": []}', b'{"version": 1, "files": [{}]}']
)
def test_corrupt_checkpoint_is_set_aside(tmp_path: Path, body: bytes) -> None:
    store = CheckpointStore(tmp_path, "s")
    store.path.write_bytes(body)
    with pytest.raises(CorruptCheckpoint) as e:
        store.load()
    assert not store.path.exists() and Path(str(e.value)).read_bytes() == body


def test_line_context_event_id_equals_make_event_id() -> None:
    """LineContext.event_id is a one-update fast path; it must stay the documented make_event_id."""
    from collections import Counter

    from model.events import make_event_id
    from sensors.logs.formats.base import LineContext

    for head, offset, ordinal in [("ab" * 16, 0, 0), ("h\u00e9ad", 98765, 3), ("'quote\"", 1 << 40, 100)]:
        ctx = LineContext("f", 1, offset, head, "s", 0.0, Counter())
        assert ctx.event_id(ordinal) == make_event_id("log", head, offset, ordinal)
