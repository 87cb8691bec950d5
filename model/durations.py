"""One grammar for durations, wherever a person types one.

Rule windows (``window: 1h30m``), ``healthdlp alerts --since 24h`` and ``healthdlp replay --since
2w`` used to have three parsers that each accepted a different subset. An analyst who learns one
should be able to type it everywhere, so the grammar lives here and the callers add only what is
theirs: rule windows their 31-day cap, the command line ISO times as an alternative.
"""

from __future__ import annotations

import re

UNITS: dict[str, float] = {
    "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0,
}
_PIECE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")

#: What the error messages offer as examples.
EXAMPLES = "'90s', '15m', '24h', '1h30m', '7d', '2w'"


def parse_duration(text: str) -> float:
    """Seconds in ``text``: one or more ``<number><unit>`` pieces, units ms s m h d w.

    Blanks are ignored (``"1h 30m"``); decimals are allowed (``"1.5h"``); zero is allowed here and
    refused by callers that need a positive span. Raises ``ValueError`` naming the examples.
    """
    compact = text.replace(" ", "").replace("\t", "")
    pieces = _PIECE.findall(compact)
    if not compact or "".join(n + u for n, u in pieces) != compact:
        raise ValueError(f"{text!r} is not a duration (e.g. {EXAMPLES})")
    return sum(float(n) * UNITS[u] for n, u in pieces)
