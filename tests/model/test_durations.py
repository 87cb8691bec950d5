"""model.durations: the one duration grammar of rule windows, ``alerts --since`` and ``replay --since``."""

from __future__ import annotations

import pytest

from model.durations import parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("15m", 900), ("24h", 86400), ("7d", 7 * 86400), ("2w", 14 * 86400),
    ("250ms", 0.25), ("1h30m", 5400), ("1h 30m", 5400), ("1.5h", 5400), ("1d12h", 129600), ("0s", 0),
])
def test_accepted(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", " ", "7", "d7", "-7d", "7 days", "1y", "1.5", "h1", "1h30", "1e3s"])
def test_refused_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a duration \(e\.g\. '90s'"):
        parse_duration(text)
