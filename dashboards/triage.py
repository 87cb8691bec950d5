"""The triage vocabulary: states an alert moves through and the actions that move it.

The states follow the OCSF finding status set (New / In Progress / Resolved …) that SOC tooling
already speaks, plus the two a DLP analyst needs most: *escalated* (handed to incident response
under the emergency plan, GB/T 39725 §9.4) and *false_positive* (the verdict that feeds the
per-rule false-positive rate in the tuning view).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TriageAction:
    action: str  # the button
    state: str  # the state it sets
    label: str
    hint: str
    needs_note: bool = False


TRIAGE_ACTIONS: tuple[TriageAction, ...] = (
    TriageAction("acknowledge", "acknowledged", "Acknowledge", "I have seen it and own it."),
    TriageAction("investigate", "investigating", "Investigating", "Scoping: subjects, level, channel."),
    TriageAction("escalate", "escalated", "Escalate", "Hand to incident response (§9.4).", True),
    TriageAction("false_positive", "false_positive", "False positive", "Not health data / not a leak.", True),
    TriageAction("resolve", "resolved", "Resolved", "Handled; report written where required.", True),
    TriageAction("suppress", "suppressed", "Suppress", "Known, approved flow: cite the approval.", True),
)

#: Every state an alert can be in, in workflow order, with a one-line meaning.
TRIAGE_STATES: dict[str, str] = {
    "new": "Not yet looked at",
    "acknowledged": "Owned by an analyst",
    "investigating": "Scope being assessed",
    "escalated": "Handed to incident response",
    "false_positive": "Closed: detector or rule was wrong",
    "resolved": "Closed: handled",
    "suppressed": "Closed: known, approved flow (suppressed)",
}
OPEN_STATES: frozenset[str] = frozenset({"new", "acknowledged", "investigating", "escalated"})
CLOSED_STATES: frozenset[str] = frozenset({"false_positive", "resolved", "suppressed"})

MAX_NOTE_CHARS = 2000
MAX_WHO_CHARS = 64
_WHO = re.compile(r"^[\w.@+\- ]{1,64}$", re.UNICODE)


class InvalidInput(ValueError):
    """Bad request input: ``problems`` maps each field to what is wrong with it (all at once)."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.problems.items()))


@dataclass(frozen=True, slots=True)
class TriageRequest:
    state: str
    note: str
    who: str


def parse_triage(state: object, note: object, who: object) -> TriageRequest:
    """Validate a triage change from a form or JSON body; InvalidInput lists every problem.

    Notes are free text and are stored as given (the console escapes on output); control
    characters other than newlines and tabs are dropped so a note cannot forge log lines.
    """
    issues: dict[str, str] = {}
    if not isinstance(state, str) or state not in TRIAGE_STATES or state == "new":
        choices = ", ".join(s for s in TRIAGE_STATES if s != "new")
        issues["state"] = f"must be one of {choices}"
    if note is None:
        note = ""
    if not isinstance(note, str):
        issues["note"] = "must be text"
        note = ""
    elif len(note) > MAX_NOTE_CHARS:
        issues["note"] = f"must be at most {MAX_NOTE_CHARS} characters"
    if not isinstance(who, str) or not _WHO.match(who.strip()):
        issues["who"] = "must be 1-64 letters, digits, spaces or . _ @ + -"
        who = ""
    action = next((a for a in TRIAGE_ACTIONS if a.state == state), None)
    if action is not None and action.needs_note and not str(note).strip():
        issues.setdefault("note", f"a note is required for {action.label.lower()}")
    if issues:
        raise InvalidInput(issues)
    clean = "".join(ch for ch in str(note) if ch in "\n\t" or ch.isprintable())
    return TriageRequest(str(state), clean.strip(), str(who).strip())


@dataclass(frozen=True, slots=True)
class TriageEntry:
    """One row of an alert's triage history (the store's append-only ``alert_triage`` table)."""

    at: float
    state: str
    who: str
    note: str
