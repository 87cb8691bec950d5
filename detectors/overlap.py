"""Overlap resolution: one finding per stretch of text.

0. A free-text hit inside (or on) a structured personal-attribute field loses to it: the layout
   says what the value is, so "Spencer Green" in an address line is no person name and "Stroke"
   in a DICOM PatientName no diagnosis. A special disease is never hidden this way.
1. Identical spans claimed by several detectors: the entity with the higher catalogue priority
   wins (an 18-digit ID that also passes Luhn is a CN_RESIDENT_ID, not a BANK_CARD); a
   structured hit (with a field path) beats a free-text hit of the same entity.
2. Then greedily, best first: higher level (never under-report a special disease hidden in a
   longer plain diagnosis), longer span, higher score, higher priority.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping

from detectors.catalogue import EntitySpec
from detectors.hit import Hit
from model.taxonomy import DataCategory


def resolve(hits: list[Hit], entities: Mapping[str, EntitySpec]) -> list[Hit]:
    if len(hits) < 2:
        return hits

    hits = _drop_inside_personal_fields(hits, entities)
    prio = {name: e.priority for name, e in entities.items()}
    level = {name: e.level for name, e in entities.items()}
    by_span: dict[tuple[int, int], Hit] = {}
    for h in hits:
        key = (h.start, h.end)
        cur = by_span.get(key)
        if cur is None or (prio[h.entity], bool(h.field_path), h.score) > (
            prio[cur.entity],
            bool(cur.field_path),
            cur.score,
        ):
            by_span[key] = h
    ranked = sorted(
        by_span.values(), key=lambda h: (-level[h.entity], h.start - h.end, -h.score, -prio[h.entity], h.start)
    )
    starts: list[int] = []  # kept spans are disjoint: only the nearest one to the left can overlap
    ends: dict[int, int] = {}
    kept: list[Hit] = []
    for h in ranked:
        i = bisect.bisect_left(starts, h.end)
        if i and ends[starts[i - 1]] > h.start:
            continue
        bisect.insort(starts, h.start)
        ends[h.start] = h.end
        kept.append(h)
    kept.sort(key=lambda h: (h.start, h.end))
    return kept


def _drop_inside_personal_fields(hits: list[Hit], entities: Mapping[str, EntitySpec]) -> list[Hit]:
    """Rule 0: drop free-text hits lying within a structured personal-attribute hit."""
    fields = sorted(
        (h.start, h.end)
        for h in hits
        if h.field_path and entities[h.entity].category == DataCategory.PERSONAL_ATTRIBUTE
    )
    if not fields:
        return hits
    starts = [s for s, _ in fields]
    reach: list[int] = []  # reach[i]: the furthest end among fields[: i + 1]
    for _, e in fields:
        reach.append(max(e, reach[-1]) if reach else e)

    def inside(h: Hit) -> bool:
        i = bisect.bisect_right(starts, h.start)
        return i > 0 and reach[i - 1] >= h.end

    return [h for h in hits if h.field_path or h.entity == "SPECIAL_DISEASE" or not inside(h)]
