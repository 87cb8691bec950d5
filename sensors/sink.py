"""Where sensors put what they extract: events and dead letters.

A sensor does not know whether it feeds Kafka (``sensors.kafka_sink.KafkaSink``), the embedded
pipeline, or ``healthdlp scan``; it only calls :class:`EventSink`. That keeps capture and parsing
testable without a broker and lets the same sensor code run in every mode.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from model.events import DeadLetter, Event


class EventSink(Protocol):
    def emit(self, event: Event) -> None:
        """Accept one event. May buffer; ``flush`` forces delivery."""

    def dead_letter(self, letter: DeadLetter) -> None:
        """Accept input that could not become an event; it is counted and kept, never dropped."""

    def flush(self) -> None:
        """Block until everything accepted so far is delivered (or raise)."""


class ListSink:
    """Collects in memory: for ``scan``, the embedded runner and tests."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.dead_letters: list[DeadLetter] = []
        self.dead_letter_counts: Counter[str] = Counter()

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def dead_letter(self, letter: DeadLetter) -> None:
        self.dead_letters.append(letter)
        self.dead_letter_counts[letter.reason] += 1

    def flush(self) -> None:
        return None
