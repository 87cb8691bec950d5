"""What a rule kind is: a parameter table plus ``bind(rule) -> Evaluator``.

Rules are data; kinds are the code behind them (``stream.policy.kinds.KINDS``). Binding happens
once at load time, so an evaluator holds its parameters already typed and the hot path does no
dictionary lookups or re-validation. An evaluator is a pure function of (event, scan, window
state, resolved flow): it is tested with real events and hand-built scan results, no Kafka, no
detectors.

An evaluator may expose ``gate`` = (lowest record level it can fire on, channels it watches or
None for any): the policy indexes rules by it so that, with a thousand rules, an event only
visits the few that could fire (bench/bench_policy.py). It may also expose ``index_key`` =
(index field, values), a necessary exact-value condition of its own in the index's vocabulary
(``"flow:scenario"``, ``"flow:dst.zone"``, ``"channel"`` ...), e.g. the scenarios a
scenario-mismatch rule judges.

Twin rules (same kind, parameters, match, unless, severity and clauses) are evaluated once per
event and the others' alerts derived (``stream.policy.policy``) only if the evaluator keeps no
state (class attribute ``stateless = True``) or its windows are shared with its twins (a
dataclass field ``window_ns``, set by the policy, see :func:`window_prefix`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from model.alerts import Alert
from model.events import Event
from model.findings import ScanResult
from stream.policy.params import Param
from stream.policy.rule import Rule
from stream.policy.windows import WindowStore

if TYPE_CHECKING:
    from stream.policy.context import Flow

#: (min record level, channels or None): what an evaluator can fire on at all.
Gate = tuple[int, frozenset[str] | None]
OPEN_GATE: Gate = (0, None)


class Evaluator(Protocol):
    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore, flow: Flow) -> list[Alert]:
        """Alerts this rule raises for one event (usually none). Must not raise on odd content."""
        ...


class RuleKind(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def params(self) -> Mapping[str, Param]: ...

    def bind(self, rule: Rule) -> Evaluator:
        """An evaluator for ``rule`` (parameters already parsed); ValueError for cross-parameter problems."""
        ...


def window_prefix(rule: Rule, shared: str = "") -> str:
    """The prefix of a rule's window keys: ``id@version``, or the namespace it shares with its twins.

    Rules of the same kind with the same parameters and the same match/unless blocks feed exactly
    the same events into their windows, so the policy lets them share one set of windows (keyed by
    the first twin's prefix) instead of updating a copy per rule. A rule without twins keeps its
    own prefix, so its window state is unchanged.
    """
    return shared or f"{rule.id}@{rule.version}"
