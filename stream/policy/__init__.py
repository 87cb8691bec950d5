"""The policy engine: rules are YAML data, rule kinds are code, windows are pluggable state.

``load_policy(paths, context)`` validates every rule and context file (file:line errors for all
problems) and binds each rule to its kind from the explicit registry
:data:`stream.policy.kinds.KINDS`. ``Policy.evaluate(event, scan, windows)`` resolves the event
against the context (scenario, roles, zones, opening form, approvals) and is a pure function of
the event, its scan result and the window state, so the faust worker, the embedded runner and
the tests all run the same decisions. Rule format, kinds, context and tuning: docs/policy.md.
"""

from stream.policy.approvals import Approval, ApprovalBook, Verdict
from stream.policy.base import Evaluator, RuleKind
from stream.policy.conditions import CONDITIONS, Match
from stream.policy.context import Context, Flow, Side, empty_context, load_context, load_context_text
from stream.policy.kinds import KINDS
from stream.policy.loader import BUNDLED_RULES, load_policy, load_policy_text
from stream.policy.policy import Policy
from stream.policy.rule import Playbook, Rule
from stream.policy.severity import SeverityModel
from stream.policy.windows import MemoryWindowStore, WindowSnapshot, WindowStore, new_window_state, window_add

__all__ = [
    "BUNDLED_RULES",
    "CONDITIONS",
    "KINDS",
    "Approval",
    "ApprovalBook",
    "Context",
    "Evaluator",
    "Flow",
    "Match",
    "MemoryWindowStore",
    "Playbook",
    "Policy",
    "Rule",
    "RuleKind",
    "SeverityModel",
    "Side",
    "Verdict",
    "WindowSnapshot",
    "WindowStore",
    "empty_context",
    "load_context",
    "load_context_text",
    "load_policy",
    "load_policy_text",
    "new_window_state",
    "window_add",
]
