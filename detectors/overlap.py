"""Overlap resolution: one finding per stretch of text.

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


def resolve(hits: list[Hit], entities: Mapping[str, EntitySpec]) -> list[Hit]:
    if len(hits) < 2:
        return hits

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
