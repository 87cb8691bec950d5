"""Terminal table and JSON-lines rendering of alerts."""

from __future__ import annotations

import json

from model.alerts import Alert
from store.format import display_width, fit, format_jsonl, format_table, printable


def _alert(**kw: object) -> Alert:
    d: dict[str, object] = dict(
        alert_id="a1",
        rule_id="bulk-export-cleartext",
        rule_version=2,
        title="t",
        severity="critical",
        clauses=("§7.2",),
        channel="hl7-mllp",
        src="10.1.2.3:40000",
        dst="203.0.113.9:2575",
        actor="his",
        encrypted=False,
        entities=("cn_resident_id", "patient_name"),
        categories=("personal_attribute",),
        max_level=4,
        subjects=120,
        evidence=("110***********002X", "张*"),
        subject_hashes=("h",),
        event_ids=("e",),
        observed_at=1704164645.25,
        last_seen=1704164700.5,
        details={"k": "v"},
    )
    d.update(kw)
    return Alert(**d)  # type: ignore[arg-type]


def test_table_has_header_rows_and_count() -> None:
    out = format_table(
        [_alert(), _alert(alert_id="a2", severity="low", encrypted=True, max_level=0)], width=200
    )
    lines = out.splitlines()
    assert lines[0].startswith("TIME (UTC)")
    assert "EVIDENCE" in lines[0]
    assert lines[1].startswith("2024-01-02 03:05:00  critical  bulk-export-cleartext")
    assert "10.1.2.3:40000 → 203.0.113.9:2575" in lines[1]
    assert " L4 " in lines[1] and " 120 " in lines[1]
    assert "110***********002X | 张*" in lines[1]
    assert "203.0.113.9:2575   yes  -    120" in lines[2]
    assert "203.0.113.9:2575   no   L4   120" in lines[1]
    assert lines[-1] == "2 alerts"


def test_columns_line_up_in_display_cells_with_cjk_text() -> None:
    rows = [_alert(actor="x", evidence=("张*三 住院号 ***123",)), _alert(evidence=("plain ascii",))]
    lines = format_table(rows, width=160).splitlines()[1:3]
    ev_col = [display_width(line[: line.index(ev)]) for line, ev in zip(lines, ("张", "plain"))]
    assert ev_col[0] == ev_col[1]


def test_long_evidence_is_truncated_to_the_width() -> None:
    out = format_table([_alert(evidence=("x" * 500,))], width=170).splitlines()[1]
    assert display_width(out) == 170
    assert out.endswith("…")


def test_control_characters_cannot_reach_the_terminal() -> None:
    out = format_table([_alert(evidence=("\x1b[2J\x1b[31mred\nnext\u202eevil",))], width=200)
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out
    assert out.count("\n") == 2  # header, one row, count line


def test_fit_and_printable() -> None:
    assert fit("abc", 5) == "abc  "
    assert fit("abcdef", 4) == "abc…"
    assert fit("张三李四", 5) == "张三…"
    assert fit("张三李四", 6) == "张三… "
    assert display_width(fit("张三李四", 6)) == 6
    assert printable("a\tb\nc") == "a b c"


def test_empty_table() -> None:
    assert format_table([]).splitlines()[-1] == "0 alerts"


def test_jsonl_round_trips_through_the_alert_contract() -> None:
    alerts = [_alert(), _alert(alert_id="a2", evidence=("é\n",))]
    text = format_jsonl(alerts)
    lines = text.splitlines()
    assert len(lines) == 2 and text.endswith("\n")
    back = [Alert.from_dict(json.loads(line)) for line in lines]
    assert back == alerts
    assert "张*" in lines[0]  # UTF-8, not \u escapes
