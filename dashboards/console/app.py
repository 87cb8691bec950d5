"""Routing and request handling, independent of the HTTP server (a plain function of the request).

Pages: ``/`` queue, ``/alerts/<id>`` detail, ``/tuning``. JSON: ``/api/alerts``,
``/api/alerts/<id>``, ``/api/stats``, ``POST /api/alerts/<id>/triage``. HTML forms post to
``/alerts/<id>/triage`` with a per-server CSRF token; the JSON endpoint requires
``Content-Type: application/json``, which a cross-site form cannot send without a preflight this
server never answers.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from dashboards.console.data import ConsoleData, RuleStats
from dashboards.console.filters import parse_filter
from dashboards.console.html import error_page
from dashboards.console.view_detail import detail_page
from dashboards.console.view_queue import queue_page
from dashboards.console.view_tuning import TUNING_DAYS, tuning_page
from dashboards.glossary import explain_clause, level_name
from dashboards.playbooks import PlaybookSet, render_playbook
from dashboards.triage import TRIAGE_ACTIONS, TRIAGE_STATES, InvalidInput, parse_triage
from model.alerts import Alert, iso_utc

ALERT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_BODY = 16 * 1024
STATIC_TYPES = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""


class Console:
    """The console application: ``handle(request) -> response``; never raises for bad input."""

    def __init__(
        self, store: Any, playbooks: PlaybookSet, database: str | None = None, csrf_token: str | None = None
    ) -> None:
        self.data = ConsoleData(store, database or store_database(store))
        self.playbooks = playbooks
        self.csrf = csrf_token or secrets.token_urlsafe(32)

    def handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except InvalidInput as e:
            return self._error(req, 400, "Invalid input", e.problems)

    def _route(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        api = bool(parts) and parts[0] == "api"
        rest = parts[1:] if api else parts
        if req.method == "POST":
            if len(rest) == 3 and rest[0] == "alerts" and rest[2] == "triage":
                return self._triage_json(req, rest[1]) if api else self._triage_form(req, rest[1])
            return self._error(req, 405 if rest else 404, "Method not allowed")
        if req.method not in ("GET", "HEAD"):
            return self._error(req, 405, "Method not allowed")
        if not parts:
            return self._queue(req, api=False)
        if parts == ["healthz"]:
            return _json({"ok": True})
        if len(parts) == 2 and parts[0] == "static":
            return _static(parts[1])
        if rest == ["alerts"]:
            return self._queue(req, api)
        if len(rest) == 2 and rest[0] == "alerts":
            return self._detail(req, rest[1], api)
        if (api and rest == ["stats"]) or (not api and rest == ["tuning"]):
            return self._tuning(req, api)
        return self._error(req, 404, "No such page")

    # --- pages and API -------------------------------------------------------------------
    def _queue(self, req: Request, api: bool) -> Response:
        f = parse_filter(req.query)
        q = self.data.queue(f)
        if api:
            return _json(
                {
                    "filter": f.as_dict(),
                    "total": q.total,
                    "shown": len(q.alerts),
                    "counts": dict(q.counts),
                    "alerts": [alert_json(a) for a in q.alerts],
                }
            )
        rules = self.data.rule_ids()
        return _html(queue_page(f, q, rules))

    def _load(self, req: Request, alert_id: str) -> Alert | Response:
        if not ALERT_ID.match(alert_id):
            return self._error(req, 404, "No such alert")
        alert = self.data.alert(alert_id)
        return alert if alert is not None else self._error(req, 404, "No such alert")

    def _detail(
        self,
        req: Request,
        alert_id: str,
        api: bool,
        error: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        alert = self._load(req, alert_id)
        if isinstance(alert, Response):
            return alert
        history = self.data.history(alert.alert_id)
        rendered = render_playbook(self.playbooks.for_rule(alert.rule_id), alert, history)
        related = self.data.related(alert)
        rule = next((r for r in self.data.rule_stats(30) if r.rule_id == alert.rule_id), None)
        if api:
            return _json(detail_json(alert, history, rendered, related, rule))
        return _html(detail_page(alert, history, rendered, related, rule, self.csrf, error), status)

    def _tuning(self, req: Request, api: bool) -> Response:
        raw = (req.query.get("days") or ["30"])[-1]
        if not raw.isdigit() or int(raw) not in TUNING_DAYS:
            raise InvalidInput({"days": f"must be one of {', '.join(map(str, TUNING_DAYS))}"})
        days, now = int(raw), time.time()
        rules = self.data.rule_stats(days, now)
        per_rule = self.data.per_day("rule_id", days, now)
        per_entity = self.data.per_day("entity", days, now)
        principals = self.data.top("actor", days, now)
        destinations = self.data.top("dst", days, now)
        dead = self.data.dead_letters()
        if api:
            return _json(
                {
                    "days": days,
                    "rules": [vars_rule(r) for r in rules],
                    "per_rule": per_rule,
                    "per_entity": per_entity,
                    "principals": principals,
                    "destinations": destinations,
                    "dead_letters": dead,
                }
            )
        today = datetime.fromtimestamp(now, tz=UTC).date()
        return _html(tuning_page(days, rules, per_rule, per_entity, principals, destinations, dead, today))

    # --- triage --------------------------------------------------------------------------
    def _triage_form(self, req: Request, alert_id: str) -> Response:
        form = _form(req)
        token = (form.get("csrf") or [""])[-1]
        if not hmac.compare_digest(token.encode(), self.csrf.encode()):
            return self._error(req, 403, "The form expired; reload the alert and try again")
        alert = self._load(req, alert_id)
        if isinstance(alert, Response):
            return alert
        try:
            state, note, who = (form[k][-1] if form.get(k) else None for k in ("state", "note", "who"))
            t = parse_triage(state, note, who)
        except InvalidInput as e:
            return self._detail(req, alert_id, api=False, error=e.problems, status=400)
        self.data.set_triage(alert.alert_id, t.state, t.note, t.who)
        return Response(303, b"", headers={"Location": f"/alerts/{alert.alert_id}"})

    def _triage_json(self, req: Request, alert_id: str) -> Response:
        if req.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return self._error(req, 415, "Content-Type must be application/json")
        if len(req.body) > MAX_BODY:
            return self._error(req, 413, "Body too large")
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            return self._error(req, 400, "Body is not JSON")
        if not isinstance(body, dict):
            return self._error(req, 400, "Body must be a JSON object")
        alert = self._load(req, alert_id)
        if isinstance(alert, Response):
            return alert
        t = parse_triage(body.get("state"), body.get("note", ""), body.get("who"))
        self.data.set_triage(alert.alert_id, t.state, t.note, t.who)
        return _json(
            {
                "alert_id": alert.alert_id,
                "state": t.state,
                "who": t.who,
                "history": [entry_json(e) for e in self.data.history(alert.alert_id)],
            }
        )

    def _error(
        self, req: Request, status: int, message: str, problems: Mapping[str, str] | None = None
    ) -> Response:
        if req.path.startswith("/api/"):
            return _json({"error": message, "problems": dict(problems or {})}, status)
        return _html(error_page(status, message, dict(problems or {})), status)


def store_database(store: Any) -> str:
    """The database the store writes to; the AlertStore API does not name it, so look, else default."""
    for obj in (store, getattr(store, "_cfg", None)):
        name = getattr(obj, "database", None)
        if isinstance(name, str) and name:
            return name
    return "healthdlp"


# --- JSON shapes --------------------------------------------------------------------------
def alert_json(a: Alert) -> dict[str, Any]:
    """The documented alert JSON minus subject hashes (minimum necessary: the count is enough)."""
    d = a.to_dict()
    d.pop("subject_hashes", None)
    d["level_name"] = level_name(a.max_level)
    return d


def entry_json(e: Any) -> dict[str, Any]:
    return {"at": iso_utc(e.at), "state": e.state, "who": e.who, "note": e.note}


def vars_rule(r: RuleStats) -> dict[str, Any]:
    return {
        "rule_id": r.rule_id,
        "alerts": r.alerts,
        "false_positive": r.false_positive,
        "confirmed": r.confirmed,
        "open": r.open,
        "fp_rate": r.fp_rate,
    }


def detail_json(
    alert: Alert, history: Any, rendered: Any, related: Any, rule: RuleStats | None
) -> dict[str, Any]:
    return {
        "alert": alert_json(alert),
        "clauses": [
            {"ref": c.ref, "title": c.title, "meaning": c.meaning}
            for c in (explain_clause(x) for x in alert.clauses)
        ],
        "history": [entry_json(e) for e in history],
        "actions": [
            {"action": t.action, "state": t.state, "label": t.label, "needs_note": t.needs_note}
            for t in TRIAGE_ACTIONS
        ],
        "states": TRIAGE_STATES,
        "playbook": {
            "id": rendered.playbook.playbook_id,
            "title": rendered.playbook.title,
            "grade": {
                "grade": rendered.grade.grade,
                "label": rendered.grade.label,
                "meaning": rendered.grade.meaning,
            },
            "summary": rendered.summary,
            "steps": [
                {
                    "phase": s.phase,
                    "title": s.title,
                    "actions": list(s.actions),
                    "clauses": [c.ref for c in s.clauses],
                }
                for s in rendered.steps
            ],
            "report": rendered.report,
        },
        "related": [dict(r, observed_at=iso_utc(float(r["observed_at"]))) for r in related],
        "rule_stats": vars_rule(rule) if rule else None,
    }


# --- helpers ------------------------------------------------------------------------------
def _json(obj: Any, status: int = 200) -> Response:
    return Response(
        status, json.dumps(obj, ensure_ascii=False, default=str).encode(), "application/json; charset=utf-8"
    )


def _html(text: str, status: int = 200) -> Response:
    return Response(status, text.encode())


def _form(req: Request) -> dict[str, list[str]]:
    if len(req.body) > MAX_BODY:
        raise InvalidInput({"body": "too large"})
    return parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20)


def _static(name: str) -> Response:
    if name not in STATIC_TYPES:
        return Response(404, b"not found", "text/plain; charset=utf-8")
    data = (resources.files("dashboards.console.static") / name).read_bytes()
    return Response(200, data, STATIC_TYPES[name], {"Cache-Control": "max-age=300"})
