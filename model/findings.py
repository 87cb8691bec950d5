"""Findings: what a detector found in one event, without the raw value.

A Finding never holds the matched text. It carries a masked rendering for evidence and a keyed
hash (HMAC) of the normalized value so that distinct data subjects can be counted across
channels and time without storing identifiers (mission non-negotiable).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.taxonomy import DataCategory


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a detector fired: which pattern, what the validator said, which context words moved the score."""

    pattern: str = ""
    validator: str = ""
    validator_result: str = ""
    context_words: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected entity. ``start``/``end`` are character offsets into the decoded content."""

    detector_id: str
    detector_version: int
    entity_type: str
    start: int
    end: int
    score: float
    category: DataCategory
    level: int
    value_hash: str
    masked: str
    explanation: Explanation = field(default_factory=Explanation)
    field_path: str = ""  # structured location, e.g. "PID-3" or "Patient.identifier[0]"
    is_identifier: bool = False  # a direct identifier of a data subject (counts subjects)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """All findings for one event plus the record-level grade (§6.2 grading of the whole message)."""

    findings: tuple[Finding, ...]
    record_level: int
    categories: tuple[DataCategory, ...]
    subject_hashes: tuple[str, ...]  # keyed hashes of the distinct data subjects seen
    grading_reason: str = ""

    @property
    def entity_types(self) -> tuple[str, ...]:
        return tuple(sorted({f.entity_type for f in self.findings}))
