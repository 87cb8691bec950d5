"""Where each followed file has been read to, persisted so a restart neither loses nor repeats lines.

One JSON file per sensor in ``LogsConfig.checkpoint_dir``, replaced atomically (temporary file,
fsync, rename, fsync of the directory): after a crash it holds either the previous or the new
state, never a torn one. The sensor saves it only after the sink's ``flush()`` returned, so
every line before a checkpointed offset has been delivered; lines after it may be delivered
again after a crash, with the same event ids (ids derive from file fingerprint + offset), and
downstream deduplicates them by id.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("healthdlp.sensors.logs")

CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class FileCheckpoint:
    """One file: identity (dev, ino, head fingerprint), how far it was consumed, parser state."""

    path: str
    dev: int
    ino: int
    fp: str  # blake2b-128 of the file's first fp_len bytes
    fp_len: int  # up to 1024; shorter while the file was shorter
    offset: int  # bytes consumed: every line before it was delivered
    line_no: int  # lines before offset (for file:line in dead letters)
    skipping: bool = False  # inside an over-long line, already dead-lettered
    fmt: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    draining: bool = False  # a rotated file still being finished

    @classmethod
    def from_json(cls, d: Any) -> FileCheckpoint:
        if not isinstance(d, dict):
            raise ValueError("file entry is not an object")
        state = d.get("state") or {}
        if not isinstance(state, dict):
            raise ValueError("file entry 'state' is not an object")
        fmt = d.get("fmt")
        return cls(
            path=str(d["path"]), dev=int(d["dev"]), ino=int(d["ino"]), fp=str(d["fp"]),
            fp_len=int(d["fp_len"]), offset=int(d["offset"]), line_no=int(d.get("line_no", 0)),
            skipping=bool(d.get("skipping", False)), fmt=None if fmt is None else str(fmt), state=state,
            draining=bool(d.get("draining", False)),
        )


def _safe_name(sensor_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", sensor_id) or "sensor"


class CheckpointStore:
    """Load and atomically save the checkpoint of one sensor."""

    def __init__(self, directory: str | Path, sensor_id: str) -> None:
        self.directory = Path(directory)
        self.path = self.directory / f"logs-{_safe_name(sensor_id)}.json"
        self.sensor_id = sensor_id
        self._last: bytes | None = None

    def load(self) -> list[FileCheckpoint]:
        """The saved entries; none if there is no checkpoint. A corrupt file is set aside (renamed
        ``.corrupt-<time>``) and reading starts afresh: lines are then re-sent with their same ids,
        which downstream deduplicates, rather than the sensor refusing to start."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or doc.get("version") != CHECKPOINT_VERSION:
                raise ValueError(f"not a version {CHECKPOINT_VERSION} log checkpoint")
            entries = [FileCheckpoint.from_json(e) for e in doc.get("files", [])]
        except (ValueError, KeyError, TypeError) as e:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            os.replace(self.path, aside)
            log.error("log checkpoint %s is unreadable (%s); set aside as %s, reading files from the start",
                      self.path, e, aside)
            raise CorruptCheckpoint(str(aside)) from None
        self._last = raw
        return entries

    def save(self, entries: list[FileCheckpoint]) -> bool:
        """Write atomically; skipped (False) when nothing changed since the last save."""
        doc = {"version": CHECKPOINT_VERSION, "sensor_id": self.sensor_id, "saved_at": 0.0,
               "files": [asdict(e) for e in entries]}
        body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")
        if body == self._last:
            return False
        doc["saved_at"] = time.time()
        data = json.dumps(doc, sort_keys=True, indent=1).encode("utf-8")
        atomic_write(self.path, data)
        self._last = body
        return True


class CorruptCheckpoint(Exception):
    """The checkpoint could not be read and was set aside; ``str(e)`` is where it went."""


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
