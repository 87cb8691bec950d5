"""The triage console over a real chdb store, exercised through HTTP like a browser would."""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from dashboards.console import ConsoleServer
from tests.dashboards.conftest import ALERTS

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def get(srv: ConsoleServer, path: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(srv.url + path, timeout=20) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def get_json(srv: ConsoleServer, path: str) -> tuple[int, Any]:
    status, _, body = get(srv, path)
    return status, json.loads(body)


def post(srv: ConsoleServer, path: str, body: bytes, ctype: str) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(srv.url + path, data=body, method="POST", headers={"Content-Type": ctype})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=20) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def ids(payload: dict[str, Any]) -> list[str]:
    return [a["alert_id"] for a in payload["alerts"]]


# --- queue ------------------------------------------------------------------------------------
def test_queue_default_is_last_7_days_newest_first(console: ConsoleServer) -> None:
    status, data = get_json(console, "/api/alerts")
    assert status == 200
    got = ids(data)
    assert ALERTS["old"].alert_id not in got  # 10 days old
    assert got[:3] == [ALERTS["crit"].alert_id, ALERTS["high_http"].alert_id, ALERTS["usb"].alert_id]
    assert data["total"] == len(ALERTS) - 1
    assert data["counts"] == {"critical": 1, "high": 2, "medium": 2, "low": 1, "info": 1}
    assert all("subject_hashes" not in a for a in data["alerts"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("severity=critical", ["crit"]),
        ("severity=high", ["crit", "high_http", "usb"]),
        ("rule=bulk-removable-media-export", ["usb"]),
        ("channel=http", ["high_http"]),
        ("level=5", ["crit"]),
        ("range=30d&channel=fhir", ["old"]),
        ("range=1h", ["crit"]),  # last_seen 30 min into the last hour: activity overlaps
        ("rule=site-custom-rule&state=new", ["custom"]),
    ],
)
def test_queue_filters(console: ConsoleServer, query: str, expected: list[str]) -> None:
    status, data = get_json(console, "/api/alerts?" + query)
    assert status == 200
    assert sorted(ids(data)) == sorted(ALERTS[k].alert_id for k in expected)
    assert data["total"] == len(expected)


def test_queue_sort_by_subjects(console: ConsoleServer) -> None:
    _, data = get_json(console, "/api/alerts?sort=subjects")
    subjects = [a["subjects"] for a in data["alerts"]]
    assert subjects == sorted(subjects, reverse=True) and subjects[0] == 120


def test_queue_rejects_bad_filters_with_every_problem(console: ConsoleServer) -> None:
    status, data = get_json(console, "/api/alerts?severity=urgent&level=9&channel=carrier-pigeon&sort=x")
    assert status == 400
    assert set(data["problems"]) == {"severity", "level", "channel", "sort"}
    status, _, html = get(console, "/?rule=%3Cscript%3E")
    assert status == 400 and "<script>" not in html


def test_queue_html_counts_and_rows(console: ConsoleServer) -> None:
    status, headers, html = get(console, "/")
    assert status == 200
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert re.search(r"<b>1</b> critical", html) and re.search(r"<b>2</b> high", html)
    assert f"/alerts/{ALERTS['usb'].alert_id}" in html
    assert "L5 special disease" in html and "nurse.li" in html


# --- detail -----------------------------------------------------------------------------------
def test_detail_shows_every_fact_and_the_playbook(console: ConsoleServer) -> None:
    a = ALERTS["crit"]
    status, _, html = get(console, f"/alerts/{a.alert_id}")
    assert status == 200
    for needle in (
        a.rule_id,
        "hl7-mllp",
        "10.1.2.3:40000 → 203.0.113.9:2575",
        "svc-his",
        "cleartext",
        "L5 special disease",
        "Health status data (健康状况数据)",
        "evt-1-1",
        "evt-1-2",
        "110101********1234",
        "identifier and diagnosis in one record",
        "Measures by flow scenario (Table 4)",
        "Who talks to whom",
        "40</b>",
    ):
        assert needle in html, needle
    # playbook for this rule, with the alert's facts filled in, and the report draft
    assert "Playbook: Health data sent in cleartext" in html
    assert "Stop cleartext traffic from 10.1.2.3:40000 to 203.0.113.9:2575" in html
    assert "grade P1" in html
    assert "1. EVENT DESCRIPTION" in html and "Copy incident report draft" in html
    assert "h1a" not in html  # subject hashes are never shown


def test_cleartext_is_only_claimed_for_network_protocols(console: ConsoleServer) -> None:
    assert "⚠ cleartext" in get(console, f"/alerts/{ALERTS['crit'].alert_id}")[2]  # hl7-mllp
    assert "⚠ cleartext" not in get(console, f"/alerts/{ALERTS['usb'].alert_id}")[2]  # removable media


def test_detail_api(console: ConsoleServer) -> None:
    a = ALERTS["usb"]
    status, data = get_json(console, f"/api/alerts/{a.alert_id}")
    assert status == 200
    assert data["alert"]["alert_id"] == a.alert_id and data["alert"]["level_name"] == "L4 identifying"
    assert data["playbook"]["id"] == "bulk-removable-media-export"
    assert data["playbook"]["grade"]["grade"] == "P1"  # L4 and 120 subjects
    assert next(s["phase"] for s in data["playbook"]["steps"]) == "contain"
    assert data["clauses"][0]["title"] == "Measures by opening form (Table 5)"
    assert "subject_hashes" not in data["alert"]


def test_unknown_rule_gets_default_playbook(console: ConsoleServer) -> None:
    _, data = get_json(console, f"/api/alerts/{ALERTS['custom'].alert_id}")
    assert data["playbook"]["id"] == "default"


def test_related_alerts_by_same_principal(console: ConsoleServer) -> None:
    _, data = get_json(console, f"/api/alerts/{ALERTS['crit'].alert_id}")
    related = {r["alert_id"] for r in data["related"]}
    assert ALERTS["high_http"].alert_id in related and ALERTS["crit"].alert_id not in related
    assert ALERTS["usb"].alert_id not in related


@pytest.mark.parametrize(
    "path",
    [
        "/alerts/" + "f" * 32,
        "/api/alerts/" + "f" * 32,
        "/alerts/..%2F..",
        "/api/alerts/%3Cscript%3E",
        "/nope",
        "/static/../app.py",
        "/static/x.js",
    ],
)
def test_unknown_is_404(console: ConsoleServer, path: str) -> None:
    assert get(console, path)[0] == 404


def test_stored_markup_is_escaped(console: ConsoleServer) -> None:
    a = ALERTS["xss"]
    for path in ("/", f"/alerts/{a.alert_id}"):
        _, _, html = get(console, path)
        assert "<script>alert('title')" not in html and "<img src=x" not in html and "<b>mallory" not in html
        assert "&lt;script&gt;alert(&#x27;title&#x27;)" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in get(console, f"/alerts/{a.alert_id}")[2]


# --- triage -----------------------------------------------------------------------------------
def test_triage_json_changes_state_and_history(console: ConsoleServer) -> None:
    a = ALERTS["triage"]
    body = json.dumps({"state": "acknowledged", "who": "analyst.wang", "note": "looking"}).encode()
    status, _, text = post(console, f"/api/alerts/{a.alert_id}/triage", body, "application/json")
    assert status == 200, text
    assert json.loads(text)["history"][-1]["state"] == "acknowledged"
    body = json.dumps({"state": "false_positive", "who": "analyst.wang", "note": "test system"}).encode()
    assert post(console, f"/api/alerts/{a.alert_id}/triage", body, "application/json")[0] == 200
    _, data = get_json(console, f"/api/alerts/{a.alert_id}")
    assert data["alert"]["triage_state"] == "false_positive"
    assert [(h["state"], h["who"]) for h in data["history"]] == [
        ("acknowledged", "analyst.wang"),
        ("false_positive", "analyst.wang"),
    ]
    _, q = get_json(console, "/api/alerts?state=false_positive")
    assert a.alert_id in ids(q)
    _, q = get_json(console, "/api/alerts?state=open")
    assert a.alert_id not in ids(q) and ALERTS["crit"].alert_id in ids(q)
    # the verdict feeds the tuning numbers
    _, stats = get_json(console, "/api/stats?days=7")
    rule = next(r for r in stats["rules"] if r["rule_id"] == "cleartext-health-data")
    assert rule["false_positive"] == 1 and rule["fp_rate"] == 1.0


@pytest.mark.parametrize(
    ("body", "ctype", "status"),
    [
        ({"state": "resolved", "who": "x"}, "application/json", 400),  # closing needs a note
        ({"state": "deleted", "who": "x", "note": "n"}, "application/json", 400),
        ({"state": "acknowledged", "who": "<script>"}, "application/json", 400),
        ({"state": "acknowledged", "who": "x"}, "text/plain", 415),
        ({"state": "acknowledged", "who": "x", "note": "n" * 3000}, "application/json", 400),
    ],
)
def test_triage_json_validation(
    console: ConsoleServer, body: dict[str, Any], ctype: str, status: int
) -> None:
    got, _, _ = post(
        console, f"/api/alerts/{ALERTS['custom'].alert_id}/triage", json.dumps(body).encode(), ctype
    )
    assert got == status


def test_triage_note_with_a_raw_identifier_is_refused(console: ConsoleServer) -> None:
    """The store's guard refuses unmasked identifiers in notes; the analyst gets a 400, not a 500."""
    a = ALERTS["custom"]
    body = json.dumps({"state": "acknowledged", "who": "x", "note": "patient 11010519491231002X"}).encode()
    status, _, text = post(console, f"/api/alerts/{a.alert_id}/triage", body, "application/json")
    assert status == 400
    assert "note" in json.loads(text)["problems"] and "11010519491231002X" not in text
    _, data = get_json(console, f"/api/alerts/{a.alert_id}")
    assert data["history"] == []


def test_triage_unknown_alert_is_404(console: ConsoleServer) -> None:
    body = json.dumps({"state": "acknowledged", "who": "x"}).encode()
    assert post(console, "/api/alerts/" + "e" * 32 + "/triage", body, "application/json")[0] == 404


def test_triage_form_needs_csrf_and_escapes_note(
    console: ConsoleServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="healthdlp.console")
    a = ALERTS["form"]
    note = '<script>alert("note")</script> MARKER-7731'
    form = {"state": "escalated", "who": "dr.zhao", "note": note, "csrf": "forged"}
    status, _, _ = post(
        console,
        f"/alerts/{a.alert_id}/triage",
        urllib.parse.urlencode(form).encode(),
        "application/x-www-form-urlencoded",
    )
    assert status == 403
    form["csrf"] = console.console.csrf
    status, headers, _ = post(
        console,
        f"/alerts/{a.alert_id}/triage",
        urllib.parse.urlencode(form).encode(),
        "application/x-www-form-urlencoded",
    )
    assert status == 303 and headers["Location"] == f"/alerts/{a.alert_id}"
    _, _, html = get(console, f"/alerts/{a.alert_id}")
    assert '<script>alert("note")' not in html
    assert "&lt;script&gt;alert(&quot;note&quot;)&lt;/script&gt; MARKER-7731" in html
    assert "dr.zhao" in html and "state-escalated" in html
    assert "MARKER-7731" in html.split("INCIDENT REPORT")[1]  # handling history feeds the report
    assert "MARKER-7731" not in caplog.text  # request bodies never reach the log
    assert f"/alerts/{a.alert_id}/triage" in caplog.text


def test_triage_form_error_rerenders_with_problems(console: ConsoleServer) -> None:
    a = ALERTS["custom"]
    form = {"state": "resolved", "who": "dr.zhao", "note": "", "csrf": console.console.csrf}
    status, _, html = post(
        console,
        f"/alerts/{a.alert_id}/triage",
        urllib.parse.urlencode(form).encode(),
        "application/x-www-form-urlencoded",
    )
    assert status == 400 and "a note is required for resolved" in html


# --- tuning -----------------------------------------------------------------------------------
def test_tuning_page_and_stats(console: ConsoleServer) -> None:
    status, data = get_json(console, "/api/stats?days=30")
    assert status == 200
    assert {r["rule_id"] for r in data["rules"]} == {
        "cleartext-health-data",
        "bulk-removable-media-export",
        "site-custom-rule",
    }
    principals = {p["key"]: p for p in data["principals"]}
    assert principals["nurse.li"]["subjects"] == 120
    assert any(d["key"] == "203.0.113.9:2575" for d in data["destinations"])
    assert {e["key"] for e in data["per_entity"]} == {"CN_RESIDENT_ID", "DIAGNOSIS"}
    status, _, html = get(console, "/tuning?days=30")
    assert status == 200 and '<svg class="spark"' in html and "nurse.li" in html
    assert get(console, "/tuning?days=5")[0] == 400


def test_static_assets(console: ConsoleServer) -> None:
    status, headers, body = get(console, "/static/console.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript") and "localStorage" in body
