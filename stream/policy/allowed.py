"""Allowed-by-approval records: what a covered flow leaves behind instead of an alert.

A flow covered by a valid approval must not page anyone, but it must not vanish either: §9.2
asks the security office to audit data usage, §7 g) lets a subject ask for the history of uses
and disclosures, and Annex D wants export approvals archived. So the alert a rule would have
raised is turned into a record in the same alert store, clearly marked:

* ``severity: info`` and ``triage_state: suppressed`` (out of the analyst's queue);
* title ``Allowed by approval <id>: <rule title>``;
* ``details.decision = "allowed-by-approval"``, ``details.approval`` (id, purpose, scope, expiry,
  source file:line) and ``details.would_have_been`` (severity and alert id of the suppressed alert);
* one record per (rule, approval, principal, day), re-emitted as the day's use grows: distinct
  subjects and events are counted in windows (like the bulk rules), so a month of approved
  exports is about 30 records per principal, not one per event, and a replay yields the same ids.

Query them with ``healthdlp alerts --state suppressed`` or ``details.decision`` in SQL.
"""

from __future__ import annotations

import dataclasses
import math

from model.alerts import Alert, iso_utc, make_alert_id
from model.events import Event
from model.findings import ScanResult
from model.taxonomy import Severity
from stream.policy.alerting import MAX_EVENT_IDS, MAX_SUBJECT_HASHES
from stream.policy.approvals import Approval
from stream.policy.context import Flow
from stream.policy.rule import Rule
from stream.policy.windows import WindowStore

DECISION = "allowed-by-approval"
#: Records are grouped per principal per day (event time).
LEDGER_WINDOW = 86400.0


def allowed_records(
    rule: Rule, alerts: list[Alert], approval: Approval, event: Event, scan: ScanResult, flow: Flow,
    windows: WindowStore,
) -> list[Alert]:
    """The one allowed-by-approval record that replaces ``alerts`` (what ``rule`` raised for ``event``)."""
    principal = flow.principal(event)
    ts = event.observed_at
    key = f"approval\x1f{approval.id}\x1f{rule.id}@{rule.version}\x1f{principal}"
    subjects = windows.add(key + "\x1fsubjects", scan.subject_hashes, ts, LEDGER_WINDOW)
    events = windows.add(key + "\x1fevents", [event.event_id], ts, LEDGER_WINDOW)
    bucket = math.floor(ts / LEDGER_WINDOW) * LEDGER_WINDOW
    top = max(alerts, key=lambda a: (Severity(a.severity).rank, a.subjects))
    details = dict(top.details)
    details.update({
        "decision": DECISION,
        "approval": approval.to_dict(),
        "would_have_been": {"severity": top.severity, "alert_ids": [a.alert_id for a in alerts]},
        "ledger": {"day_start": iso_utc(bucket), "events": events.count, "subjects": subjects.count,
                   "principal": principal},
    })
    return [dataclasses.replace(
        top,
        alert_id=make_alert_id(rule.id, rule.version, [f"approval={approval.id}", f"principal={principal}",
                                                       f"bucket={bucket!r}"]),
        title=f"Allowed by approval {approval.id}: {rule.title}",
        severity=Severity.INFO.value,
        triage_state="suppressed",
        subjects=max(subjects.count, top.subjects),
        subject_hashes=subjects.members[:MAX_SUBJECT_HASHES],
        event_ids=events.members[:MAX_EVENT_IDS],
        observed_at=min(events.first_seen, top.observed_at),
        last_seen=max(events.last_seen, top.last_seen),
        details=details,
    )]
