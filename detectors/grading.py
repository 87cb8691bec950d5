"""Record-level grading of one event (GB/T 39725-2020 §6.2, with the §13 sensor-side cues).

A message is graded as a whole, not as the maximum of its parts:
* any special disease (the eight §11.1 classes) → level 5;
* a direct identifier together with health content (health status or medical application data)
  → level 4, because the health facts are then about a known person (§6.2 level 4);
* otherwise the highest level among the findings.

Subjects are counted by the strongest identifier type present (resident ID > record number >
phone > e-mail > bank card > name, ``subject_rank`` in entities.yaml): fifty patients listed
with ID and phone each are fifty subjects, not a hundred.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from detectors.catalogue import EntitySpec
from model.findings import Finding
from model.taxonomy import DataCategory

HEALTH_CATEGORIES = frozenset({DataCategory.HEALTH_STATUS, DataCategory.MEDICAL_APPLICATION})


@dataclass(frozen=True, slots=True)
class Grade:
    level: int
    categories: tuple[DataCategory, ...]
    subject_hashes: tuple[str, ...]
    reason: str


def _by_rank(ids: Sequence[Finding], entities: Mapping[str, EntitySpec]) -> set[str]:
    best = min(entities[f.entity_type].subject_rank for f in ids)
    chosen = {f.entity_type for f in ids if entities[f.entity_type].subject_rank == best}
    return {f.value_hash for f in ids if f.entity_type in chosen}


def subject_hashes(findings: Sequence[Finding], entities: Mapping[str, EntitySpec]) -> tuple[str, ...]:
    """Distinct subjects. Structured findings whose field path names a record (``row[3]::身份证号``,
    ``entry[2].Patient::identifier[0].value``) count one subject per record, by the record's
    strongest identifier (rank, then priority); other findings count by the strongest type present."""
    ids = [f for f in findings if f.is_identifier and f.entity_type in entities]
    if not ids:
        return ()
    records: dict[str, Finding] = {}
    loose: list[Finding] = []
    for f in ids:
        rec, sep, _ = f.field_path.partition("::")
        if not sep:
            loose.append(f)
            continue
        e = entities[f.entity_type]
        cur = records.get(rec)
        if cur is None or (e.subject_rank, -e.priority) < (
            entities[cur.entity_type].subject_rank,
            -entities[cur.entity_type].priority,
        ):
            records[rec] = f
    out = {f.value_hash for f in records.values()}
    if loose:
        best_record = min((entities[f.entity_type].subject_rank for f in records.values()), default=99)
        if min(entities[f.entity_type].subject_rank for f in loose) < best_record or not records:
            out |= _by_rank(loose, entities)
    return tuple(sorted(out))


def grade(findings: Sequence[Finding], entities: Mapping[str, EntitySpec]) -> Grade:
    if not findings:
        return Grade(0, (), (), "no findings")
    categories = tuple(sorted({f.category for f in findings}, key=lambda c: c.value))
    subjects = subject_hashes(findings, entities)
    special = sorted(
        {f.explanation.note.removeprefix("class:") for f in findings if f.entity_type == "SPECIAL_DISEASE"}
    )
    if special:
        return Grade(
            5,
            categories,
            subjects,
            f"special disease ({', '.join(special)}): §6.2 level 5, §11.1 special-disease classes",
        )
    identifiers = sorted({f.entity_type for f in findings if f.is_identifier})
    health = sorted({f.entity_type for f in findings if f.category in HEALTH_CATEGORIES})
    if identifiers and health:
        return Grade(
            4,
            categories,
            subjects,
            f"direct identifier ({', '.join(identifiers)}) with health content ({', '.join(health)}): "
            "§6.2 level 4",
        )
    top = max(findings, key=lambda f: f.level)
    return Grade(
        top.level, categories, subjects, f"highest finding level ({top.entity_type}): §6.2 level {top.level}"
    )
