"""HTML building blocks. Every dynamic value goes through :func:`h` (escape) — no exceptions.

Server-rendered pages with one static stylesheet and one static script: no inline script or
style, so the Content-Security-Policy can forbid both and a stored XSS in a note or an evidence
string has nothing to run with even if an escape were ever missed.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from dashboards.glossary import level_name
from dashboards.triage import TRIAGE_STATES
from model.taxonomy import CLEARTEXT_CAPABLE


def h(value: Any) -> str:
    """Escape for HTML text and double- or single-quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def utc_short(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def severity_badge(severity: str) -> str:
    return f'<span class="sev sev-{h(severity)}">{h(severity)}</span>'


def level_badge(level: int) -> str:
    return f'<span class="lvl lvl-{int(level)}" title="GB/T 39725 §6.2">{h(level_name(level))}</span>'


def state_badge(state: str) -> str:
    return (
        f'<span class="state state-{h(state)}" title="{h(TRIAGE_STATES.get(state, ""))}">'
        f"{h(state.replace('_', ' '))}</span>"
    )


def encryption_badge(channel: str, encrypted: bool, quiet: bool = False) -> str:
    """ "cleartext" only where it means something: network protocols that can carry content in clear."""
    if encrypted:
        return '<span class="enc" title="encrypted (TLS seen or reported)">🔒 encrypted</span>'
    if channel in CLEARTEXT_CAPABLE:
        return '<b class="clear" title="no TLS seen on a cleartext-capable protocol">⚠ cleartext</b>'
    return "" if quiet else '<span class="small">not reported as encrypted</span>'


def options(choices: Iterable[tuple[str, str]], selected: str) -> str:
    return "".join(
        f'<option value="{h(v)}"{" selected" if v == selected else ""}>{h(label)}</option>'
        for v, label in choices
    )


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "grid") -> str:
    """Rows are pre-escaped HTML fragments (build them with :func:`h`)."""
    head = "".join(f"<th>{h(x)}</th>" for x in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{h(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def page(title: str, body: str, active: str = "") -> str:
    links = (
        ("queue", "/", "Alert queue"),
        ("tuning", "/tuning", "Tuning"),
        ("api", "/api/alerts", "JSON API"),
    )
    nav = "".join(
        f'<a href="{href}" class="{"on" if key == active else ""}">{label}</a>' for key, href, label in links
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{h(title)} · healthdlp</title>"
        '<link rel="stylesheet" href="/static/console.css">'
        '<script src="/static/console.js" defer></script></head><body>'
        f'<header><span class="brand">healthdlp</span><nav>{nav}</nav>'
        '<span class="who">analyst: <input id="who-global" form="none" maxlength="64" '
        'placeholder="your name" aria-label="analyst name"></span></header>'
        f"<main>{body}</main>"
        "<footer>Masked evidence only · GB/T 39725-2020 · times in UTC</footer></body></html>"
    )


def error_page(status: int, message: str, problems: dict[str, str] | None = None) -> str:
    items = "".join(f"<li><b>{h(k)}</b>: {h(v)}</li>" for k, v in (problems or {}).items())
    return page(
        f"{status}",
        f'<h1>{status}</h1><p>{h(message)}</p><ul class="problems">{items}</ul>'
        '<p><a href="/">Back to the queue</a></p>',
    )
