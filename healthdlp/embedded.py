"""The embedded runner: sensors → detectors → policy in one process, no Kafka.

``healthdlp scan`` and ``healthdlp demo`` use it. It runs the very same sensor, detector and
policy code as the distributed pipeline (only the transport differs), so what an analyst sees
from a scan of a capture is what the faust workers would have raised on the same traffic.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from model.alerts import Alert
from model.codec import dead_letter_to_json
from model.config import Config
from model.events import DeadLetter, Event
from sensors.logs import scan_log_file
from sensors.net import scan_pcap
from stream.pipeline import Pipeline

PCAP_MAGICS = (
    b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4",  # pcap µs, both byte orders
    b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",  # pcap ns
    b"\x0a\x0d\x0d\x0a",  # pcapng section header block
)
#: Events handed to the pipeline at once: big enough to amortise, small enough to stream.
BATCH = 500


def input_kind(path: Path) -> str:
    """'pcap' by magic number (not by file name: captures are often renamed), else 'log'."""
    with path.open("rb") as f:
        head = f.read(4)
    return "pcap" if head in PCAP_MAGICS else "log"


def iter_inputs(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named, and every regular file below directories named, in a stable order."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if child.is_file() and not child.name.startswith("."):
                    yield child
        elif p.is_file():
            yield p
        else:
            raise FileNotFoundError(f"{p}: no such file or directory")


@dataclass
class RunSummary:
    files: int = 0
    events: int = 0
    findings: int = 0
    alerts: dict[str, Alert] = field(default_factory=dict)
    dead_letters: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    sensor_stats: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    def sorted_alerts(self) -> list[Alert]:
        return sorted(self.alerts.values(), key=lambda a: (a.observed_at, a.rule_id, a.alert_id))


def _keep_latest(store: dict[str, Alert], alerts: Iterable[Alert]) -> None:
    """A windowed alert is re-emitted as it grows; keep the latest state of each alert id."""
    for a in alerts:
        old = store.get(a.alert_id)
        if old is None or (a.last_seen, a.subjects) >= (old.last_seen, old.subjects):
            store[a.alert_id] = a


class DeadLetterFile:
    """The embedded mode's dead-letter queue: JSON lines with the raw payload, mode 0600.

    Raw payloads may hold personal health data, so they go to this local file (the embedded
    equivalent of the DLQ topic), never into the alert database or logs.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def write(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            for dl in letters:
                f.write(json.dumps(dead_letter_to_json(dl), ensure_ascii=False) + "\n")


def _batches(events: Sequence[Event], n: int) -> Iterator[Sequence[Event]]:
    for i in range(0, len(events), n):
        yield events[i : i + n]


def run_offline(
    cfg: Config,
    paths: Iterable[str | Path],
    pipeline: Pipeline,
    *,
    on_dead_letters: Callable[[Sequence[DeadLetter]], None] | None = None,
    on_alerts: Callable[[Sequence[Alert]], None] | None = None,
    progress: Callable[[Path, int], None] | None = None,
) -> RunSummary:
    """Scan files (captures and logs), run detection and policy, return the alerts and counters."""
    t0 = time.perf_counter()
    summary = RunSummary()
    for path in iter_inputs(paths):
        summary.files += 1
        if input_kind(path) == "pcap":
            events, letters, stats = scan_pcap(str(path), cfg.net, cfg.sensor_id)
        else:
            events, letters, stats = scan_log_file(str(path), cfg.logs, cfg.sensor_id)
        summary.sensor_stats.update({k: v for k, v in stats.items() if isinstance(v, int)})
        events = sorted(events, key=lambda e: e.observed_at)
        summary.events += len(events)
        summary.channels.update(e.channel for e in events)
        all_letters = list(letters)
        for batch in _batches(events, BATCH):
            result = pipeline.process(batch)
            summary.findings += result.findings
            all_letters.extend(result.dead_letters)
            _keep_latest(summary.alerts, result.alerts)
            if on_alerts is not None and result.alerts:
                on_alerts(result.alerts)
        summary.dead_letters.update(dl.reason for dl in all_letters)
        if on_dead_letters is not None:
            on_dead_letters(all_letters)
        if progress is not None:
            progress(path, len(events))
    summary.elapsed = time.perf_counter() - t0
    return summary
