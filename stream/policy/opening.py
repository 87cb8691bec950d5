"""Kind ``opening-form-egress``: data above what the destination's opening form allows (§6.5, §8.3).

Table 2 gives each opening form a sharing type, and §6.5/§10.2 say what each type may carry:

* **public** (website publication, anonymous online query): statistical summaries or anonymised
  data only, i.e. L1;
* **controlled** (file sharing, API access, user online query): de-identified data with a data use
  agreement; identifiable data (L4+) needs an approval (§11.4: LDS and identifiable sets only by
  local operation, virtual desktop or sandbox) — an approval in the context covers it;
* **enclave** (data analysis platform): "no raw data may be exported", results only after review.

And de-identified data goes "only to controlled or enclave sharing" (§10.2): a flow *declared*
de-identified (``attributes.deidentified: true``) into a public form is a violation whatever its
level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

from model.alerts import Alert
from model.events import Event
from model.findings import ScanResult
from stream.policy.base import Evaluator, Gate
from stream.policy.context import ZONES, Flow
from stream.policy.grouping import event_alert
from stream.policy.params import Param, level, names
from stream.policy.rule import Rule
from stream.policy.windows import WindowStore

NAME = "opening-form-egress"


def declared_deidentified(event: Event) -> bool:
    return event.attributes.get("deidentified") is True


@dataclass(frozen=True)
class OpeningFormEvaluator:
    #: keeps no window state: a twin rule's alerts can be derived from another twin's (stream.policy.policy)
    stateless: ClassVar[bool] = True
    rule: Rule
    public_max: int
    controlled_max: int
    enclave_export_max: int
    enclave_zones: frozenset[str]

    @property
    def gate(self) -> Gate:
        return (0, None)

    def _in_enclave(self, zone: str, sharing: str) -> bool:
        return zone in self.enclave_zones or sharing == "enclave"

    def violation(self, event: Event, lv: int, flow: Flow) -> tuple[str, int] | None:
        """(why, the maximum level that applied) or None."""
        src, dst = flow.src, flow.dst
        if self._in_enclave(src.zone, src.sharing) and not self._in_enclave(dst.zone, dst.sharing):
            if lv > self.enclave_export_max:
                return (f"L{lv} data left the enclave {src.asset or src.zone} for {dst.asset or dst.zone}: "
                        "no raw data may be exported from a data analysis platform", self.enclave_export_max)
        if dst.sharing == "public":
            if declared_deidentified(event):
                return ("data declared de-identified went to a completely public form "
                        f"({dst.opening_form}); de-identified data only through controlled or enclave forms",
                        self.public_max)
            if lv > self.public_max:
                return (f"L{lv} data went to a completely public form ({dst.opening_form}) that may carry "
                        f"L{self.public_max} only", self.public_max)
        if dst.sharing == "controlled" and lv > self.controlled_max:
            return (f"L{lv} (identifiable) data went out through a controlled form ({dst.opening_form}) "
                    f"without an approval covering it (controlled forms: up to L{self.controlled_max})",
                    self.controlled_max)
        return None

    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore, flow: Flow) -> list[Alert]:
        if not (flow.dst.sharing or flow.src.sharing or flow.src.zone in self.enclave_zones):
            return []
        found = self.violation(event, scan.record_level, flow)
        if found is None:
            return []
        why, allowed = found
        return [event_alert(self.rule, NAME, event, scan, flow, {
            "violation": why, "opening_form": flow.dst.opening_form, "sharing": flow.dst.sharing,
            "allowed_max_level": allowed, "declared_deidentified": declared_deidentified(event),
        })]


class OpeningFormEgress:
    name = NAME
    summary = "data above what the destination's opening form (public/controlled/enclave) allows"
    params: ClassVar[Mapping[str, Param]] = MappingProxyType({
        "public_max_level": Param(1, level, "highest level a completely public form may carry (§6.5)"),
        "controlled_max_level": Param(3, level, "highest level a controlled form may carry without an approval"),
        "enclave_export_max_level": Param(1, level, "highest level that may leave an enclave (reviewed results)"),
        "enclave_zones": Param(("research-enclave",), names(ZONES, what="zone"),
                               "zones treated as enclaves besides assets with opening_form: analysis-platform"),
    })

    def bind(self, rule: Rule) -> Evaluator:
        p = rule.parameters
        return OpeningFormEvaluator(rule, int(p["public_max_level"]), int(p["controlled_max_level"]),
                                    int(p["enclave_export_max_level"]), frozenset(p["enclave_zones"]))
