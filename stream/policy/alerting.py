"""Helpers that turn an event and its scan into alert fields, keeping only masked data.

The alert is the one artefact that leaves the detection core for Kafka, ClickHouse and the
console, so everything here is bounded and masked: evidence comes from ``Finding.masked`` only,
subjects are keyed hashes, attributes are never copied wholesale (a URL or file name can hold an
identifier), and counts are reported instead of content.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from model.alerts import make_alert_id
from model.events import Endpoint, Event
from model.findings import Finding

if TYPE_CHECKING:
    from stream.policy.rule import Rule

MAX_EVIDENCE = 10
MAX_SUBJECT_HASHES = 100
MAX_EVENT_IDS = 100


def is_encrypted(event: Event) -> bool:
    """Encrypted if the sensor says so or saw a TLS handshake (then it never saw the content)."""
    return event.encrypted or event.tls is not None


def endpoint_text(ep: Endpoint | None) -> str:
    return "" if ep is None else str(ep)


def masked_evidence(findings: Iterable[Finding], limit: int = MAX_EVIDENCE) -> tuple[str, ...]:
    """Distinct masked renderings, in content order, at most ``limit``."""
    out: dict[str, None] = {}
    for f in sorted(findings, key=lambda f: (f.start, f.end)):
        if f.masked and f.masked not in out:
            out[f.masked] = None
            if len(out) >= limit:
                break
    return tuple(out)


def distinct(items: Iterable[str], limit: int | None = None) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(items))
    return out if limit is None else out[:limit]


def _count(v: object) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def record_count(event: Event) -> int | None:
    """Rows in an export or entries in a bundle, when a sensor reported them: ``records``, or the
    larger ``records_estimated`` a sensor extrapolates when it only saw a sample of the file."""
    n, est = _count(event.attributes.get("records")), _count(event.attributes.get("records_estimated"))
    if est is not None and (n is None or est > n):
        return est
    return n


def parameters_for_details(parameters: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in parameters.items()}


#: id(rule) -> (rule, parameters, playbook) as alert details show them; the rule is kept to check identity.
_RULE_DETAILS: dict[int, tuple[Rule, dict[str, Any], dict[str, Any]]] = {}


def rule_details(rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
    """A rule's ``parameters`` and ``playbook`` as every alert's details show them, built once per rule.

    Shared by that rule's alerts: alerts are frozen values and nothing edits their nested details.
    """
    hit = _RULE_DETAILS.get(id(rule))
    if hit is None or hit[0] is not rule:
        if len(_RULE_DETAILS) >= 65_536:
            _RULE_DETAILS.clear()
        hit = _RULE_DETAILS[id(rule)] = (rule, parameters_for_details(dict(rule.parameters)), rule.playbook.to_dict())
    return hit[1], hit[2]


#: alert id -> the keys it was made from (see :func:`rule_alert_id`); bounded, only a recent past is needed.
_ID_KEYS: dict[str, tuple[str, ...]] = {}


def rule_alert_id(rule: Rule, keys: Iterable[str]) -> str:
    """``make_alert_id`` for ``rule``, remembering the keys so a twin rule's id can be derived.

    The policy evaluates rules that differ only in id, version, title and playbook once per event
    and derives each twin's alerts from the first one's (:mod:`stream.policy.policy`); the alert id
    hashes the rule id with the keys, so the twin's id needs the keys, not the first id.
    """
    ks = tuple(keys)
    aid = make_alert_id(rule.id, rule.version, ks)
    if len(_ID_KEYS) >= 65_536:
        _ID_KEYS.clear()
    _ID_KEYS[aid] = ks
    return aid


def alert_keys(alert_id: str) -> tuple[str, ...] | None:
    """The keys ``alert_id`` was made from by :func:`rule_alert_id`, or None if not (or no longer) known."""
    return _ID_KEYS.get(alert_id)
