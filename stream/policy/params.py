"""Typed rule parameters: each rule kind declares its parameters as a table of :class:`Param`.

A parameter parser takes the raw YAML value and returns the typed value or raises ``ValueError``
with a message meant for the person editing the rule; the loader adds file:line. Parsed values
stay JSON-able (a duration becomes seconds) because they are copied into alert details.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from model import durations
from model.taxonomy import CHANNELS, CLEARTEXT_CAPABLE, MAX_LEVEL, MIN_LEVEL

Parser = Callable[[Any], Any]

#: Longest window a rule may ask for: window state is per principal and must stay bounded.
MAX_WINDOW_S = 31 * 86400.0



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
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"1h"``, ``"1h30m"``, ``"1d"`` (the grammar of
    :mod:`model.durations`); positive and ≤ 31 days, because window state is kept per principal."""
    if _is_int(v) or isinstance(v, float):
        seconds = float(v)
    elif isinstance(v, str) and v.strip():
        try:
            seconds = durations.parse_duration(v)
        except ValueError:
            raise ValueError(f"must be a duration such as '15m', '1h' or '1h30m', not {v!r}") from None
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


# -- parsers for the context-aware kinds ---------------------------------------------------------


def optional(parse: Parser) -> Parser:
    """``null`` (the default: not checked) or a value ``parse`` accepts."""
    return lambda v: None if v is None else parse(v)


def names(known: tuple[str, ...] | None = None, *, allow_empty: bool = True, what: str = "name") -> Parser:
    """A list of strings (a single string is a list of one); checked against ``known`` when given."""

    def parse(v: Any) -> tuple[str, ...]:
        items = [v] if isinstance(v, str) else v
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            raise ValueError(f"must be a list of {what}s")
        if not items and not allow_empty:
            raise ValueError(f"must name at least one {what}")
        if known is not None:
            bad = [i for i in items if i not in known]
            if bad:
                close = difflib.get_close_matches(bad[0], known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(known)}"
                raise ValueError(f"unknown {what} {bad[0]!r}{hint}")
        return tuple(dict.fromkeys(i.strip() for i in items))

    return parse


def optional_channels(v: Any) -> tuple[str, ...] | None:
    """``null`` (any channel) or channel names."""
    return None if v is None else channels(v)


def level_thresholds(v: Any) -> dict[str, int]:
    """``{3: 200, 4: 50, 5: 10}``: level → count; kept with string keys (JSON-able alert details)."""
    if not isinstance(v, dict) or not v:
        raise ValueError("must map levels (1-5) to counts, e.g. {4: 50, 5: 10}")
    out: dict[int, int] = {}
    for k, n in v.items():
        lv = int(k) if str(k).isdigit() else None
        if lv is None or not MIN_LEVEL <= lv <= MAX_LEVEL:
            raise ValueError(f"level {k!r} must be {MIN_LEVEL}..{MAX_LEVEL}")
        if not _is_int(n) or n < 1:
            raise ValueError(f"the count for L{lv} must be an integer ≥ 1, not {n!r}")
        out[lv] = int(n)
    ordered = sorted(out.items())
    for (lo, nlo), (hi, nhi) in itertools.pairwise(ordered):
        if nhi > nlo:
            raise ValueError(f"L{hi} ({nhi}) must not need more subjects than L{lo} ({nlo})")
    return {str(k): n for k, n in ordered}


_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)-([01]?\d|2[0-4]):([0-5]\d)$")


def hours(v: Any) -> str:
    """Working hours ``"07:30-19:00"`` (local time; an end before the start spans midnight)."""
    if not isinstance(v, str) or not _HHMM.match(v.strip()):
        raise ValueError(f"must be a time range such as '07:30-19:00', not {v!r}")
    return v.strip()


def parse_hours(text: str) -> tuple[int, int]:
    """Minutes after midnight of the start and end of ``"HH:MM-HH:MM"``."""
    m = _HHMM.match(text)
    assert m is not None
    return int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def field_groups(v: Any) -> tuple[tuple[str, ...], ...]:
    """Field-name alternatives per quasi-identifier, e.g. ``[[birthDate, dob], [gender, sex]]``."""
    if not isinstance(v, list):
        raise ValueError("must be a list of field-name lists, e.g. [[birthDate, dob], [gender, sex]]")
    out = []
    for g in v:
        items = [g] if isinstance(g, str) else g
        if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
            raise ValueError("each entry must be a field name or a non-empty list of alternative names")
        out.append(tuple(items))
    return tuple(out)
