"""Bounded content samples of files a log names, and the record counts they imply.

An auditd PATH record or a Sysmon FileCreate says *which* file went to a USB stick, not what was
in it. When the sensor runs on the same host and may read that file, a bounded sample of its
head lets the detectors see the content and the policy count records, the same as for an
endpoint agent's file-copy event. Only regular files are opened (a FIFO or a device named in a
log must never block or be read), without following the sample past ``limit`` bytes.
"""

from __future__ import annotations

import ntpath
import os
import stat
from dataclasses import dataclass
from typing import Any

from sensors.logs.formats.file_copy import infer_records


@dataclass(frozen=True, slots=True)
class FileSample:
    data: bytes  # at most the configured limit
    size: int  # the file's size when sampled
    complete: bool  # the sample is the whole file


def sample_file(path: str, limit: int) -> FileSample | None:
    """The head of a readable regular file, or None (not absolute, missing, unreadable, not regular)."""
    if not path or not os.path.isabs(path):
        return None
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        data = os.pread(fd, limit, 0) if limit > 0 else b""
    except OSError:
        return None
    finally:
        os.close(fd)
    return FileSample(data, st.st_size, len(data) >= st.st_size)


def record_attributes(content: bytes, complete: bool, size: int) -> dict[str, Any]:
    """``records`` (whole lines of CSV/JSON-lines in the sample) and, for a partial sample,
    ``records_estimated`` extrapolated by size, as the file-copy format does."""
    if not content:
        return {}
    inferred = infer_records(content, complete)
    if inferred is None:
        return {}
    out: dict[str, Any] = {"records": inferred, "records_source": "sample"}
    if not complete:
        out["records_estimated"] = max(inferred, round(inferred * size / len(content)))
    return out


def is_removable(path: str, prefixes: tuple[str, ...]) -> bool:
    """Is ``path`` under one of the removable mount prefixes (case-insensitive for Windows paths)?"""
    if not path:
        return False
    if _is_windows_path(path):
        low = path.lower()
        return any(low.startswith(p.lower()) for p in prefixes if _is_windows_path(p))
    return any(path.startswith(p) for p in prefixes if not _is_windows_path(p))


def _is_windows_path(p: str) -> bool:
    return (len(p) >= 2 and p[1] == ":" and p[0].isalpha()) or p.startswith("\\\\")


def mount_point(path: str, prefixes: tuple[str, ...]) -> str:
    """The removable mount a path is on: ``/media/alice/USB`` for ``/media/alice/USB/x.csv``."""
    if _is_windows_path(path):
        drive, _ = ntpath.splitdrive(path)
        return drive + "\\" if drive else ""
    for p in prefixes:
        if path.startswith(p):
            rest = path[len(p):].split("/")
            # /media/<user>/<label>/... and /run/media/<user>/<label>/...: two levels; /mnt/<x>: one
            depth = 2 if p.rstrip("/").endswith("media") and len(rest) > 2 else 1
            return p + "/".join(rest[:depth])
    return ""
