"""Internal candidate findings (with the raw value, never leaving the engine) and context words."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Hit:
    """A candidate before overlap resolution; ``value`` is raw and is dropped when it becomes a Finding."""

    detector_id: str
    version: int
    entity: str
    start: int
    end: int
    score: float
    value: str
    pattern: str = ""
    validator: str = ""
    validator_result: str = ""
    context_words: tuple[str, ...] = ()
    note: str = ""
    field_path: str = ""

    @property
    def length(self) -> int:
        return self.end - self.start


def context_words(
    text: str, start: int, end: int, words: tuple[str, ...], window: tuple[int, int]
) -> tuple[str, ...]:
    """Which catalogue words (lower case) occur within ``window`` = (chars before, chars after).

    A plain token window, not NLP: cheap enough to run for every candidate in a stream.
    """
    if not words:
        return ()
    # one lower-cased haystack, NUL-separated so that no word matches across the value
    near = f"{text[max(0, start - window[0]) : start]}\x00{text[end : end + window[1]]}".lower()
    return tuple([w for w in words if w in near])


def clamp(score: float) -> float:
    return 0.0 if score < 0.0 else 1.0 if score > 1.0 else round(score, 4)
