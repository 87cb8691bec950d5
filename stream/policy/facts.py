"""Per-event facts every rule's alert needs, computed once per event instead of once per rule.

With a thousand rules an event can raise fifty alerts, and each alert builder used to recompute
the same values from the same (event, scan, flow): the distinct subject hashes, the sorted
categories, the masked evidence, the endpoint texts, the principal, the window member string,
the flow's ``to_dict``. :func:`facts_for` computes each of them lazily, at most once per event,
and keeps them on the event's :class:`~stream.policy.context.Flow` (built once per event by
``Context.resolve``). The cache is keyed by the identity of the event and the scan, so an
evaluator called directly with a reused flow and another scan still gets the right facts.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

from model.events import Event
from model.findings import ScanResult
from model.taxonomy import LEVEL_NAMES
from stream.policy.alerting import distinct, endpoint_text, is_encrypted, masked_evidence, record_count

if TYPE_CHECKING:
    from stream.policy.context import Flow

#: Evidence kept per event in a window's member string (an alert keeps at most MAX_EVIDENCE overall).
EVIDENCE_PER_EVENT = 3


class EventFacts:
    """Derived, masked values of one (event, scan, flow); each computed on first use."""

    def __init__(self, event: Event, scan: ScanResult, flow: Flow) -> None:
        self.event = event
        self.scan = scan
        self.flow = flow
        self._members: dict[int, str] = {}

    @cached_property
    def subjects(self) -> tuple[str, ...]:
        return distinct(self.scan.subject_hashes)

    @cached_property
    def category_set(self) -> frozenset[str]:
        return frozenset(c.value for c in self.scan.categories)

    @cached_property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted(self.category_set))

    @cached_property
    def entity_set(self) -> frozenset[str]:
        return frozenset(self.scan.entity_types)

    @cached_property
    def special_classes(self) -> frozenset[str]:
        """The §11.1 special-disease classes of the findings (``class:<name>`` explanation notes)."""
        return frozenset(f.explanation.note[6:] for f in self.scan.findings if f.explanation.note.startswith("class:"))

    @cached_property
    def evidence(self) -> tuple[str, ...]:
        return masked_evidence(self.scan.findings)

    @cached_property
    def src_text(self) -> str:
        return endpoint_text(self.event.src)

    @cached_property
    def dst_text(self) -> str:
        return endpoint_text(self.event.dst)

    @cached_property
    def encrypted(self) -> bool:
        return is_encrypted(self.event)

    @cached_property
    def records(self) -> int | None:
        return record_count(self.event)

    @cached_property
    def principal(self) -> str:
        return self.flow.principal(self.event)

    @cached_property
    def level_name(self) -> str:
        return LEVEL_NAMES.get(self.scan.record_level, "")

    @cached_property
    def flow_dict(self) -> dict[str, Any]:
        return self.flow.to_dict()

    def member_at(self, level: int) -> str:
        """The masked, bounded summary of this event a grouped alert's window keeps (see grouping),
        with the event's level or the one a kind judged it at."""
        members = self._members
        found = members.get(level)
        if found is None:
            event = self.event
            found = members[level] = json.dumps(
                [event.event_id, level, self.records, list(self.scan.entity_types), list(self.categories),
                 list(masked_evidence(self.scan.findings, EVIDENCE_PER_EVENT)), event.channel, event.device,
                 self.encrypted],
                ensure_ascii=False, separators=(",", ":"),
            )
        return found


def facts_for(event: Event, scan: ScanResult, flow: Flow) -> EventFacts:
    """The facts of ``(event, scan)``, shared by every rule evaluated against ``flow``."""
    facts = flow.facts
    if facts is None or facts.event is not event or facts.scan is not scan:
        facts = flow.facts = EventFacts(event, scan, flow)
    return facts
