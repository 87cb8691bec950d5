"""The policy engine: rules are YAML data, rule kinds are code, windows are pluggable state.

``load_policy(paths)`` validates every rule (file:line errors for all problems) and binds each to
its kind from the explicit registry :data:`stream.policy.kinds.KINDS`. ``Policy.evaluate(event,
scan, windows)`` is a pure function of the event, its scan result and the window state, so the
faust worker, the embedded runner and the tests all run the same decisions. Rule format, kinds
and tuning: docs/policy.md.
"""

from stream.policy.base import Evaluator, RuleKind
from stream.policy.conditions import CONDITIONS, Match
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
    "Evaluator",
    "Match",
    "MemoryWindowStore",
    "Playbook",
    "Policy",
    "Rule",
    "RuleKind",
    "SeverityModel",
    "WindowSnapshot",
    "WindowStore",
    "load_policy",
    "load_policy_text",
    "new_window_state",
    "window_add",
]
