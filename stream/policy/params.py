"""Typed rule parameters: each rule kind declares its parameters as a table of :class:`Param`.

A parameter parser takes the raw YAML value and returns the typed value or raises ``ValueError``
with a message meant for the person editing the rule; the loader adds file:line. Parsed values
stay JSON-able (a duration becomes seconds) because they are copied into alert details.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from model.taxonomy import CHANNELS, CLEARTEXT_CAPABLE, MAX_LEVEL, MIN_LEVEL

Parser = Callable[[Any], Any]

#: Longest window a rule may ask for: window state is per principal and must stay bounded.
MAX_WINDOW_S = 31 * 86400.0

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


@dataclass(frozen=True)
class Param:
    """One parameter of a rule kind: its default (already parsed), its parser, and what it means."""

    default: Any
    parse: Parser
    doc: str


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def level(v: Any) -> int:
    """A GB/T 39725 §6.2 level, 1 (public) to 5 (special disease)."""
    if not _is_int(v) or not MIN_LEVEL <= v <= MAX_LEVEL:
        raise ValueError(f"must be a level from {MIN_LEVEL} to {MAX_LEVEL}, not {v!r}")
    return int(v)


def int_at_least(minimum: int) -> Parser:
    def parse(v: Any) -> int:
        if not _is_int(v) or v < minimum:
            raise ValueError(f"must be an integer ≥ {minimum}, not {v!r}")
        return int(v)

    return parse


def boolean(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"must be true or false, not {v!r}")
    return v


def parse_duration(v: Any) -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"1h"``, ``"1h30m"``, ``"1d"``; positive and ≤ 31 days."""
    if _is_int(v) or isinstance(v, float):
        seconds = float(v)
    elif isinstance(v, str) and v.strip():
        text = v.strip().replace(" ", "")
        pieces = _DURATION.findall(text)
        if not pieces or "".join(n + u for n, u in pieces) != text:
            raise ValueError(f"must be a duration such as '15m', '1h' or '1h30m', not {v!r}")
        seconds = sum(float(n) * _UNITS[u] for n, u in pieces)
    else:
        raise ValueError(f"must be a duration such as '15m', '1h' or '1h30m', not {v!r}")
    if not 0 < seconds <= MAX_WINDOW_S:
        raise ValueError(f"must be more than 0 and at most 31 days, not {v!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact rendering: 3600 → '1h', 900 → '15m', 5400 → '90m', 45 → '45s'."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds:g}s"


def _channel_list(v: Any, allowed: frozenset[str], what: str) -> tuple[str, ...]:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise ValueError("must be a non-empty list of channel names")
    bad = []
    for c in items:
        if c not in allowed:
            close = difflib.get_close_matches(c, sorted(allowed), n=1)
            bad.append(f"{c!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    if bad:
        raise ValueError(f"unknown {what}: {', '.join(bad)}; known: {', '.join(sorted(allowed))}")
    return tuple(dict.fromkeys(items))


def channels(v: Any) -> tuple[str, ...]:
    """Channel names from model.taxonomy.CHANNELS."""
    return _channel_list(v, CHANNELS, "channel")


def cleartext_channels(v: Any) -> tuple[str, ...]:
    """Channels that can carry cleartext (model.taxonomy.CLEARTEXT_CAPABLE); 'tls' makes no sense here."""
    return _channel_list(v, CLEARTEXT_CAPABLE, "cleartext-capable channel")
