"""Timestamps found in log records, to wall-clock epoch seconds.

Logs carry time in many shapes: ISO-8601 with or without zone, epoch seconds or milliseconds,
BSD syslog "Nov 25 01:28:03" (no year, local time), ``dmesg -T`` "[Mon Nov 25 01:28:03 2024]".
Kernel monotonic stamps ("[12345.678]") are seconds since boot, not wall time, and are never
returned from here. Times without a zone are local time, as syslog writes them.
"""

from __future__ import annotations

import math
import time
from datetime import datetime

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}

#: Epoch values above these are milliseconds / microseconds (year 5138 in seconds).
_MS_THRESHOLD = 1e11
_US_THRESHOLD = 1e14


def parse_epoch(v: float) -> float | None:
    if isinstance(v, bool) or not math.isfinite(v) or v < 0:
        return None
    if v > _US_THRESHOLD:
        return v / 1e6
    if v > _MS_THRESHOLD:
        return v / 1e3
    return float(v)


def parse_iso(s: str) -> float | None:
    """ISO-8601 (``T`` or space, ``Z``/offset or local, fraction with . or ,); None if not."""
    s = s.strip()
    if len(s) < 10 or not s[:4].isdigit():
        return None
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s.replace(",", ".", 1))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return time.mktime(dt.timetuple()) + dt.microsecond / 1e6
    return dt.timestamp()


def parse_timestamp(v: object) -> float | None:
    """A JSON value that should be a time: number = epoch (s/ms/µs), string = ISO-8601 or digits."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return parse_epoch(float(v))
    if isinstance(v, str):
        t = v.strip()
        try:
            return parse_epoch(float(t))
        except ValueError:
            return parse_iso(t)
    return None


def parse_bsd(stamp: str, reference: float) -> float | None:
    """'Nov 25 01:28:03[.123456]' in local time; the year is the one that puts it nearest before
    ``reference`` (the file mtime), so a December line read in January lands in the old year."""
    try:
        mon, day, clock = stamp.split()
        hh, mm, rest = clock.split(":")
        sec = float(rest)
        month = _MONTHS[mon]
        year = time.localtime(reference).tm_year
        for y in (year, year - 1):
            ts = time.mktime((y, month, int(day), int(hh), int(mm), int(sec), 0, 0, -1))
            ts += sec - int(sec)
            if ts <= reference + 2 * 86400:
                return ts
    except (ValueError, KeyError, OverflowError):
        return None
    return None


def parse_ctime(stamp: str) -> float | None:
    """``dmesg -T`` style 'Mon Nov 25 01:28:03 2024' (local time)."""
    try:
        return time.mktime(time.strptime(" ".join(stamp.split()), "%a %b %d %H:%M:%S %Y"))
    except (ValueError, OverflowError):
        return None

