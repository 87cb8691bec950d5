"""Builders shared by the policy tests: real Events and hand-built ScanResults.

The policy is a pure function of (event, scan, window state), so building the scan by hand is
the honest way to pin its decisions; the pipeline tests run the real detectors engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from model.events import Endpoint, Event, TlsInfo
from model.findings import Explanation, Finding, ScanResult
from model.taxonomy import DataCategory

T0 = 1_764_000_000.0  # 2025-11-24T16:00:00Z, a multiple of 3600


def event(
    event_id: str = "e1",
    channel: str = "http",
    *,
    ts: float = T0,
    encrypted: bool = False,
    tls: TlsInfo | None = None,
    actor: str = "",
    device: str = "",
    src: Endpoint | None = None,
    dst: Endpoint | None = None,
    source_kind: str = "net",
    attributes: Mapping[str, Any] | None = None,
    sensor_id: str = "sensor-a",
) -> Event:
    return Event(
        event_id=event_id,
        sensor_id=sensor_id,
        observed_at=ts,
        source_kind=source_kind,
        channel=channel,
        src=src if src is not None else Endpoint("10.1.2.3", 51544),
        dst=dst if dst is not None else Endpoint("10.9.8.7", 80),
        actor=actor,
        device=device,
        encrypted=encrypted,
        tls=tls,
        content=b"(content is not read by the policy)",
        content_type="application/json",
        size=64,
        attributes=dict(attributes or {}),
    )


def finding(
    value_hash: str,
    *,
    entity: str = "CN_RESIDENT_ID",
    level: int = 4,
    category: DataCategory = DataCategory.PERSONAL_ATTRIBUTE,
    masked: str = "",
    start: int = 0,
    identifier: bool = True,
) -> Finding:
    return Finding(
        detector_id=entity.lower(),
        detector_version=1,
        entity_type=entity,
        start=start,
        end=start + 18,
        score=0.95,
        category=category,
        level=level,
        value_hash=value_hash,
        masked=masked or f"1101**********{value_hash[-4:]:>04}",
        explanation=Explanation(pattern="18-digit", validator="gb11643", validator_result="valid"),
        is_identifier=identifier,
    )


def scan(level: int, subjects: Iterable[str] = ("subj-1",), *, diagnosis: bool = True) -> ScanResult:
    """A scan with one identifier finding per subject (plus a diagnosis finding) graded ``level``."""
    subs = tuple(subjects)
    fs = [finding(s, start=i * 40) for i, s in enumerate(subs)]
    cats = {DataCategory.PERSONAL_ATTRIBUTE} if subs else set()
    if diagnosis:
        fs.append(finding("dx", entity="DIAGNOSIS", level=level, category=DataCategory.HEALTH_STATUS,
                          masked="诊断:**", start=len(subs) * 40, identifier=False))
        cats.add(DataCategory.HEALTH_STATUS)
    return ScanResult(
        findings=tuple(fs),
        record_level=level,
        categories=tuple(sorted(cats, key=lambda c: c.value)),
        subject_hashes=subs,
        grading_reason=f"test grading L{level}",
    )


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``needle`` (for exact file:line asserts)."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[occurrence - 1]
