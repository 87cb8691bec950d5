"""Grafana dashboard: valid, in sync with its generator, and every panel's SQL runs on a real store."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from dashboards.grafana import DASHBOARD_FILE, DATASOURCE_UID, PANELS, build_dashboard, dashboard_json
from tests.dashboards.conftest import ALERTS, NOW


def test_committed_json_matches_generator() -> None:
    assert DASHBOARD_FILE.read_text(encoding="utf-8") == dashboard_json(), "run: python -m dashboards.grafana"


def test_dashboard_structure() -> None:
    d = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    assert d["uid"] and d["title"] and d["schemaVersion"] >= 36
    panels = d["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for p in panels:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0
        assert p["datasource"] == {"type": "grafana-clickhouse-datasource", "uid": DATASOURCE_UID}
        (t,) = p["targets"]
        assert t["editorType"] == "sql" and t["rawSql"].lstrip().upper().startswith("SELECT")
        assert t["format"] == (0 if p["type"] == "timeseries" else 1)
    titles = {p["title"] for p in panels}
    for needed in (
        "Alerts over time by severity",
        "Alerts over time by rule",
        "Alerts over time by channel",
        "Max level distribution",
        "Distinct data subjects",
        "Cleartext flows",
        "Top principals",
        "Dead letters by reason",
        "False-positive rate per rule",
    ):
        assert needed in titles
    # panels do not overlap
    cells = set()
    for p in panels:
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, p["title"]
                cells.add((x, y))


def expand(sql: str, database: str) -> str:
    """Expand the plugin macros the way Grafana would, over a window that covers the test data."""
    lo = datetime.fromtimestamp(NOW - 7 * 86400, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    hi = datetime.fromtimestamp(NOW + 3600, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    sql = re.sub(
        r"\$__timeFilter\((\w+)\)",
        rf"\1 >= toDateTime('{lo}', 'UTC') AND \1 <= toDateTime('{hi}', 'UTC')",
        sql,
    )
    sql = re.sub(r"\$__timeInterval\((\w+)\)", r"toStartOfHour(\1)", sql)
    return sql.replace("${database}", database)


@pytest.mark.parametrize("spec", PANELS, ids=lambda s: s.title)
def test_panel_sql_runs_on_the_store(store: Any, spec: Any) -> None:
    sql = expand(spec.sql, "healthdlp")
    assert "$" not in sql
    store.select(sql)  # raises on an unknown column or table


def test_panel_numbers(store: Any) -> None:
    by_title = {s.title: s for s in PANELS}
    in_range = [a for a in ALERTS.values() if a.observed_at >= NOW - 7 * 86400]
    (row,) = store.select(expand(by_title["Alerts"].sql, "healthdlp"))
    assert int(next(iter(row.values()))) == len(in_range)
    (row,) = store.select(expand(by_title["Distinct data subjects"].sql, "healthdlp"))
    assert int(next(iter(row.values()))) == len({h for a in in_range for h in a.subject_hashes})
    rows = store.select(expand(by_title["Max level distribution"].sql, "healthdlp"))
    assert {r["level"]: int(r["alerts"]) for r in rows}["L5"] == 1


def test_dashboard_builds_without_store() -> None:
    assert build_dashboard()["templating"]["list"][0]["query"] == "healthdlp"
