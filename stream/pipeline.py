"""The pure processing core: events → scan → policy → alerts, bad events → dead letters.

The faust agents, the embedded runner and ``healthdlp scan`` all call :meth:`Pipeline.process`
on a batch of events; only the transport around it differs. One event that makes a detector or a
rule raise must not cost the rest of the batch, so each event is processed under its own guard
and a failure becomes a :class:`~model.events.DeadLetter` (stage ``detect`` or ``policy``) whose
payload is the event's wire encoding, ready to be replayed once the bug is fixed.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from detectors import build_engine
from model.alerts import Alert
from model.codec import encode_batch
from model.config import Config
from model.events import DeadLetter, Event
from model.findings import ScanResult
from stream.policy import MemoryWindowStore, Policy, WindowStore, load_policy

log = logging.getLogger(__name__)

#: Longest exception message kept in a dead letter's detail.
MAX_DETAIL = 300
#: Digit runs and CJK text in an exception message may be content (a KeyError on an ID, a name).
_SCRUB = re.compile(r"\d{4,}|[\u3400-\u9fff\uf900-\ufaff]+")


class Scanner(Protocol):
    """What the pipeline needs of the detectors engine (``detectors.Engine``)."""

    def scan(self, event: Event) -> ScanResult: ...


@dataclass(frozen=True)
class PipelineResult:
    alerts: tuple[Alert, ...]  # latest version of each alert id raised or updated by the batch
    dead_letters: tuple[DeadLetter, ...]
    events: int
    findings: int


@dataclass
class PipelineStats:
    """Running counters since the pipeline was built (for metrics and the run summary)."""

    events: int = 0
    findings: int = 0
    alerts_by_rule: Counter[str] = field(default_factory=Counter)
    dead_letters_by_reason: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        d = {"events": self.events, "findings": self.findings, "alerts": sum(self.alerts_by_rule.values()),
             "dead_letters": sum(self.dead_letters_by_reason.values())}
        d.update({f"alerts.{k}": v for k, v in sorted(self.alerts_by_rule.items())})
        d.update({f"dead_letters.{k}": v for k, v in sorted(self.dead_letters_by_reason.items())})
        return d


def scrub_exception(exc: BaseException) -> str:
    """``Class: message`` with possible content (long digit runs, CJK text) masked, bounded: an
    exception raised on content may quote it, and dead-letter details go to logs and the store."""
    msg = _SCRUB.sub(lambda m: "*" * len(m.group()), str(exc))
    if len(msg) > MAX_DETAIL:
        msg = msg[:MAX_DETAIL] + "…"
    return f"{type(exc).__name__}: {msg}"


def safe_detail(stage: str, event: Event, exc: BaseException) -> str:
    return f"{stage} failed on event {event.event_id} ({event.channel}): {scrub_exception(exc)}"


class Pipeline:
    def __init__(self, scanner: Scanner, policy: Policy, windows: WindowStore | None = None) -> None:
        self.scanner = scanner
        self.policy = policy
        self.windows: WindowStore = windows if windows is not None else MemoryWindowStore()
        self.stats = PipelineStats()

    def process(self, events: Sequence[Event]) -> PipelineResult:
        """Scan and evaluate each event; never raises for one bad event (it is dead-lettered)."""
        alerts: dict[str, Alert] = {}
        letters: list[DeadLetter] = []
        findings = 0
        for ev in events:
            try:
                scan = self.scanner.scan(ev)
            except Exception as e:
                letters.append(self._dead_letter("detect", "detector-error", ev, e))
                continue
            findings += len(scan.findings)
            try:
                raised = self.policy.evaluate(ev, scan, self.windows)
            except Exception as e:
                letters.append(self._dead_letter("policy", "policy-error", ev, e))
                continue
            for a in raised:
                alerts[a.alert_id] = a  # a growing window alert: keep its latest version
        self.stats.alerts_by_rule.update(a.rule_id for a in alerts.values())
        self.stats.events += len(events)
        self.stats.findings += findings
        return PipelineResult(tuple(alerts.values()), tuple(letters), len(events), findings)

    def _dead_letter(self, stage: str, reason: str, ev: Event, exc: Exception) -> DeadLetter:
        detail = safe_detail(stage, ev, exc)
        log.warning("dead letter: %s", detail)
        self.stats.dead_letters_by_reason[reason] += 1
        try:  # the event as a one-event envelope: re-sendable to the events topic as it is
            payload = encode_batch([ev], ev.sensor_id, ev.observed_at)
        except (TypeError, ValueError):
            payload = b""
        return DeadLetter(
            stage=stage,
            reason=reason,
            detail=detail,
            source=f"sensor:{ev.sensor_id} event:{ev.event_id}",
            observed_at=ev.observed_at,
            payload=payload,
        )


def build_pipeline(cfg: Config, hash_key: bytes, windows: WindowStore | None = None) -> Pipeline:
    """Detectors from ``cfg.detectors``, rules from ``cfg.policy.rules`` (ConfigError on bad rules)."""
    policy = load_policy(cfg.policy.rules)
    engine = build_engine(cfg.detectors, hash_key, edm=cfg.detectors.edm_index or None)
    return Pipeline(engine, policy, windows)
