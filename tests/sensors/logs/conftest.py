"""Fixtures for the log sensor tests: a config pointing at tmp_path, sinks that fail on demand."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from model.config import LogsConfig
from model.events import DeadLetter, Event
from sensors.logs.formats.base import LineContext
from sensors.sink import ListSink


class FlakySink(ListSink):
    """A sink whose flush raises ``fail_flushes`` times: a broker outage, or a crash mid-delivery."""

    def __init__(self, fail_flushes: int = 0) -> None:
        super().__init__()
        self.fail_flushes = fail_flushes
        self.flushed_events: list[Event] = []

    def flush(self) -> None:
        if self.fail_flushes > 0:
            self.fail_flushes -= 1
            raise ConnectionError("broker unavailable")
        self.flushed_events = list(self.events)


@pytest.fixture
def logs_cfg(tmp_path: Path) -> LogsConfig:
    return LogsConfig(paths=(str(tmp_path / "logs" / "*.log"),), checkpoint_dir=str(tmp_path / "ckpt"),
                      poll_interval=0.01)


def make_ctx(line_no: int = 1, offset: int = 0, source: str = "/var/log/test.log",
             fallback: float = 1_700_000_000.0) -> LineContext:
    return LineContext(source, line_no, offset, f"head{offset}", "sensor-1", fallback, Counter())


def reasons(letters: list[DeadLetter]) -> list[str]:
    return [d.reason for d in letters]
