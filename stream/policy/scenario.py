"""Kind ``scenario-mismatch``: a flow of a §11 scenario carrying what that scenario must not carry.

Each §11 scenario defines what its flows are for, so unexpected content is the signal:

* commercial-insurance docking (§11.7) exchanges identity, payment and case-front-page data
  within the fields the subject authorised — health-status data beyond those is a mismatch
  (``allowed_categories``);
* a patient-query session (§11.2) must not display HIV, hepatitis and similar results
  (``forbidden_classes: [infectious, sexual_reproductive]`` — the special-disease class a
  SPECIAL_DISEASE finding carries in its explanation note, ``class:<name>``);
* a medical device talking to its manufacturer's cloud (§11.8) must be encrypted
  (``require_encryption``), with ``match: {dst_zone: internet}`` or ``dst_role: processor``.

The rule applies only to flows whose resolved scenarios include one of ``scenarios``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from model.alerts import Alert
from model.events import Event
from model.findings import ScanResult
from model.taxonomy import CLEARTEXT_CAPABLE, DataCategory
from stream.policy.alerting import is_encrypted
from stream.policy.base import Evaluator, Gate
from stream.policy.context import SCENARIOS, Flow
from stream.policy.facts import facts_for
from stream.policy.grouping import event_alert
from stream.policy.params import Param, boolean, level, names, optional
from stream.policy.rule import Rule
from stream.policy.windows import WindowStore

NAME = "scenario-mismatch"
CATEGORIES = tuple(c.value for c in DataCategory)
#: The §11.1 special-disease classes as the detectors name them (catalogue/dictionaries/special_diseases.yaml).
SPECIAL_CLASSES = ("sexual_reproductive", "infectious", "mental_illness", "malignant_tumour", "hereditary", "anal",
                   "rare", "other_incurable")


@dataclass(frozen=True)
class ScenarioEvaluator:
    #: keeps no window state: a twin rule's alerts can be derived from another twin's (stream.policy.policy)
    stateless: ClassVar[bool] = True
    rule: Rule
    scenarios: frozenset[str]
    min_level: int
    allowed: frozenset[str]
    forbidden_categories: frozenset[str]
    forbidden_entities: frozenset[str]
    forbidden_classes: frozenset[str]
    max_level: int | None
    require_encryption: bool

    @property
    def gate(self) -> Gate:
        return (self.min_level, None)

    @property
    def index_key(self) -> tuple[str, frozenset[str]]:
        """Only flows resolved to one of ``scenarios`` can fire (the policy's rule index)."""
        return ("flow:scenario", self.scenarios)

    def violations(self, event: Event, scan: ScanResult, flow: Flow | None = None) -> list[str]:
        out = []
        facts = facts_for(event, scan, flow) if flow is not None else None
        cats = facts.category_set if facts is not None else frozenset(c.value for c in scan.categories)
        if self.allowed and cats - self.allowed:
            out.append(f"categories beyond the scenario's scope: {', '.join(sorted(cats - self.allowed))}")
        if cats & self.forbidden_categories:
            out.append(f"forbidden categories: {', '.join(sorted(cats & self.forbidden_categories))}")
        ents = (facts.entity_set if facts is not None else frozenset(scan.entity_types)) & self.forbidden_entities
        if ents:
            out.append(f"forbidden entities: {', '.join(sorted(ents))}")
        if self.forbidden_classes:
            classes = facts.special_classes if facts is not None else \
                {f.explanation.note[6:] for f in scan.findings if f.explanation.note.startswith("class:")}
            hit = classes & self.forbidden_classes
            if hit:
                out.append(f"special-disease results that must not be shown: {', '.join(sorted(hit))}")
        if self.max_level is not None and scan.record_level > self.max_level:
            out.append(f"L{scan.record_level} above the scenario's maximum L{self.max_level}")
        if self.require_encryption and event.channel in CLEARTEXT_CAPABLE and not is_encrypted(event):
            out.append("unencrypted transmission")
        return out

    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore, flow: Flow) -> list[Alert]:
        if scan.record_level < self.min_level or not any(s in self.scenarios for s in flow.scenarios):
            return []
        found = self.violations(event, scan, flow)
        if not found:
            return []
        extra: dict[str, Any] = {"scenario": next(s for s in flow.scenarios if s in self.scenarios),
                                 "violations": found}
        return [event_alert(self.rule, NAME, event, scan, flow, extra)]


class ScenarioMismatch:
    name = NAME
    summary = "a flow of one of the scenarios carrying categories, entities, levels or cleartext it must not"
    params: ClassVar[Mapping[str, Param]] = MappingProxyType({
        "scenarios": Param((), names(SCENARIOS, allow_empty=False, what="scenario"), "scenarios this rule judges"),
        "min_level": Param(1, level, "lowest record level looked at"),
        "allowed_categories": Param((), names(CATEGORIES, what="category"),
                                    "the scenario's data scope; any other category is a mismatch (empty: any)"),
        "forbidden_categories": Param((), names(CATEGORIES, what="category"), "categories that must never appear"),
        "forbidden_entities": Param((), names(what="entity type"), "entity types that must never appear"),
        "forbidden_classes": Param((), names(SPECIAL_CLASSES, what="special-disease class"),
                                   "special-disease classes (§11.1) that must never appear"),
        "max_level": Param(None, optional(level), "highest record level the scenario may carry (null: any)"),
        "require_encryption": Param(False, boolean,
                                    "the scenario's network flows (cleartext-capable channels) must be encrypted"),
    })

    def bind(self, rule: Rule) -> Evaluator:
        p = rule.parameters
        if not p["scenarios"]:
            raise ValueError("parameter 'scenarios' is required (which scenarios the rule judges)")
        checks = (p["allowed_categories"], p["forbidden_categories"], p["forbidden_entities"],
                  p["forbidden_classes"], p["max_level"] is not None, p["require_encryption"])
        if not any(checks):
            raise ValueError("give at least one check: allowed_categories, forbidden_categories, "
                             "forbidden_entities, forbidden_classes, max_level or require_encryption")
        return ScenarioEvaluator(
            rule, frozenset(p["scenarios"]), int(p["min_level"]), frozenset(p["allowed_categories"]),
            frozenset(p["forbidden_categories"]), frozenset(p["forbidden_entities"]),
            frozenset(p["forbidden_classes"]), p["max_level"], bool(p["require_encryption"]),
        )
