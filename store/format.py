"""Render alerts for a terminal (``healthdlp alerts``) or as JSON lines.

The table is fixed-width in *display* columns: CJK characters (masked Chinese names, ward names)
take two cells, so they are measured with ``unicodedata.east_asian_width`` instead of ``len``.
Every cell is made printable: evidence comes from network data, and an ANSI escape sequence in
it must not be able to repaint an analyst's terminal.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from model.alerts import Alert

#: (header, width) of the fixed columns; evidence takes what is left of the line.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("TIME (UTC)", 19),
    ("SEVERITY", 8),
    ("RULE", 22),
    ("CHANNEL", 9),
    ("SRC → DST", 34),
    ("TLS", 3),
    ("LVL", 3),
    ("SUBJ", 5),
    ("ENTITIES", 22),
)
MIN_EVIDENCE = 16


def printable(text: str) -> str:
    """One line, no control characters (escape sequences, tabs, newlines become visible or spaces)."""
    out: list[str] = []
    for ch in text:
        if ch in "\t\n\r":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf"):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _cell_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    return sum(_cell_width(c) for c in text)


def fit(text: str, width: int) -> str:
    """``text`` cut (with an ellipsis) or padded to exactly ``width`` display cells."""
    text = printable(text)
    if display_width(text) <= width:
        return text + " " * (width - display_width(text))
    out: list[str] = []
    used = 0
    for ch in text:
        w = _cell_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…" + " " * (width - 1 - used)


def _time(ts: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ts, tz=tz).strftime("%Y-%m-%d %H:%M:%S")


def _cells(a: Alert, tz: tzinfo) -> list[str]:
    return [
        _time(a.last_seen, tz),
        a.severity,
        a.rule_id,
        a.channel,
        f"{a.src or '?'} → {a.dst or '?'}",
        "yes" if a.encrypted else "no",
        f"L{a.max_level}" if a.max_level else "-",
        str(a.subjects),
        ",".join(a.entities),
        " | ".join(a.evidence),
    ]


def format_table(alerts: Sequence[Alert], *, width: int = 180, tz: tzinfo = UTC) -> str:
    """A header, one line per alert (time = last seen) and a count line.

    ``width`` is the target line width; evidence gets what the fixed columns leave, but at least
    ``MIN_EVIDENCE`` cells.
    """
    fixed = sum(w for _, w in COLUMNS) + 2 * len(COLUMNS)
    ev_width = max(MIN_EVIDENCE, width - fixed)
    headers = [*(h for h, _ in COLUMNS), "EVIDENCE"]
    widths = [*(w for _, w in COLUMNS), ev_width]
    lines = ["  ".join(fit(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for a in alerts:
        cells = _cells(a, tz)
        lines.append("  ".join(fit(c, w) for c, w in zip(cells, widths, strict=True)).rstrip())
    n = len(alerts)
    lines.append(f"{n} alert{'s' if n != 1 else ''}")
    return "\n".join(lines)  # no trailing newline: made for print()


def format_jsonl(alerts: Sequence[Alert]) -> str:
    """One documented alert JSON object (Alert.to_dict) per line."""
    return "".join(json.dumps(a.to_dict(), ensure_ascii=False) + "\n" for a in alerts)
