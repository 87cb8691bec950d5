"""Kind ``unauthorized-endpoint``: data above what the receiving endpoint is authorised for.

§6.2 Table (L5: "only the attending staff, under strict control") and §8.1 Table 3 (L5: strict
identity authentication and access control; L4: strictly control environment and recipients)
make the *recipient* the control for the highest levels. The context says which endpoints are
authorised for which level (``max_level`` of an asset; ``defaults.max_level`` for every endpoint
it does not list, 4 unless changed), so "L5 outside authorised endpoints" is one comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

from model.alerts import Alert
from model.events import Event
from model.findings import ScanResult
from model.taxonomy import CLEARTEXT_CAPABLE
from stream.policy.base import Evaluator, Gate
from stream.policy.context import Flow
from stream.policy.grouping import event_alert
from stream.policy.params import Param, level, names, optional_channels
from stream.policy.rule import Rule
from stream.policy.windows import WindowStore

NAME = "unauthorized-endpoint"
#: Channels where the destination is a real endpoint (network peers, removable media).
DEFAULT_CHANNELS = tuple(sorted(CLEARTEXT_CAPABLE | {"usb", "file-copy"}))


@dataclass(frozen=True)
class UnauthorizedEndpointEvaluator:
    #: keeps no window state: a twin rule's alerts can be derived from another twin's (stream.policy.policy)
    stateless: ClassVar[bool] = True
    rule: Rule
    min_level: int
    channels: frozenset[str] | None
    allowed_assets: frozenset[str]

    @property
    def gate(self) -> Gate:
        return (self.min_level, self.channels)

    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore, flow: Flow) -> list[Alert]:
        lv = scan.record_level
        dst = flow.dst
        if lv < self.min_level or lv <= dst.max_level or (dst.asset and dst.asset in self.allowed_assets):
            return []
        why = (f"L{lv} reached {dst.asset or 'an endpoint the context does not list'} "
               f"(authorised up to L{dst.max_level})")
        return [event_alert(self.rule, NAME, event, scan, flow, {"violation": why,
                                                                  "authorised_max_level": dst.max_level})]


class UnauthorizedEndpoint:
    name = NAME
    summary = "data at or above min_level reaching an endpoint not authorised for its level"
    params: ClassVar[Mapping[str, Param]] = MappingProxyType({
        "min_level": Param(5, level, "lowest record level checked against the endpoint's authorisation"),
        "channels": Param(DEFAULT_CHANNELS, optional_channels, "channels checked (null: every channel)"),
        "allowed_assets": Param((), names(what="asset id"), "asset ids always authorised (in addition to max_level)"),
    })

    def bind(self, rule: Rule) -> Evaluator:
        p = rule.parameters
        ch = p["channels"]
        return UnauthorizedEndpointEvaluator(rule, int(p["min_level"]), None if ch is None else frozenset(ch),
                                             frozenset(p["allowed_assets"]))
