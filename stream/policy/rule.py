"""A validated policy rule: YAML data describing *when* to alert; its kind says *how*.

Rules are frozen: the loader builds them once at startup, and every worker evaluates the same
objects. ``parameters`` holds the kind's parameters already parsed and with defaults filled in,
as JSON-able values, because they are copied into every alert's details (an analyst must see
which threshold fired).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from model.events import Event
from stream.policy.conditions import Match
from stream.policy.severity import SeverityModel

if TYPE_CHECKING:
    from stream.policy.context import Flow


@dataclass(frozen=True)
class Playbook:
    """What the analyst checks first and the §9.4 emergency-disposal steps if the alert is real."""

    id: str
    check: tuple[str, ...]
    dispose: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "check": list(self.check), "dispose": list(self.dispose)}


@dataclass(frozen=True)
class Rule:
    id: str
    version: int
    title: str
    description: str
    clauses: tuple[str, ...]
    kind: str
    severity: SeverityModel
    playbook: Playbook
    parameters: Mapping[str, Any] = field(default_factory=dict)
    match: Match = field(default_factory=Match)
    unless: Match | None = None
    enabled: bool = True
    source: str = ""  # file:line of the rule, for messages
    #: A flow covered by a valid approval becomes an allowed-by-approval record instead of an alert.
    honour_approvals: bool = True

    def applies(self, event: Event, flow: Flow | None = None) -> bool:
        """The generic ``match`` holds and the ``unless`` veto does not."""
        if not self.match.matches(event, flow):
            return False
        return self.unless is None or not self.unless.matches(event, flow)
