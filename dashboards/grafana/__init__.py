"""Grafana dashboard for the ClickHouse data source (grafana-clickhouse-datasource plugin).

The dashboard is generated from the panel table below so the SQL lives in one reviewable place;
``python -m dashboards.grafana`` rewrites ``healthdlp-overview.json`` and a test fails if the
committed file drifts from this table. Panel SQL uses the plugin's macros ``$__timeFilter(col)``
and ``$__timeInterval(col)`` and the dashboard variable ``${database}``; the tests expand them and
run every query against a real store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATASOURCE_UID = "healthdlp-clickhouse"
DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": DATASOURCE_UID}
DASHBOARD_UID = "healthdlp-overview"
DASHBOARD_FILE = Path(__file__).resolve().parent / "healthdlp-overview.json"

A = "${database}.alerts_current"  # deduplicated (FINAL) with the current triage state
TIME = "$__timeFilter(observed_at)"


@dataclass(frozen=True)
class PanelSpec:
    title: str
    kind: str  # stat | timeseries | barchart | table | piechart
    sql: str
    w: int
    h: int
    description: str = ""
    unit: str = "short"

    @property
    def time_series(self) -> bool:
        return self.kind == "timeseries"


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec(
        "Alerts",
        "stat",
        f"SELECT count() AS alerts FROM {A} WHERE {TIME}",
        4,
        4,
        "Alerts observed in the time range (deduplicated).",
    ),
    PanelSpec(
        "Open alerts",
        "stat",
        f"SELECT count() AS open FROM {A} WHERE {TIME} "
        "AND triage_state NOT IN ('resolved', 'false_positive', 'suppressed')",
        4,
        4,
        "Alerts nobody has closed yet.",
    ),
    PanelSpec(
        "Distinct data subjects",
        "stat",
        f"SELECT uniqExact(h) AS subjects FROM {A} ARRAY JOIN subject_hashes AS h WHERE {TIME}",
        4,
        4,
        "Distinct patients across all alerts, counted by keyed hash (bounded per alert).",
    ),
    PanelSpec(
        "Cleartext alerts",
        "stat",
        f"SELECT count() AS cleartext FROM {A} WHERE {TIME} AND encrypted = 0",
        4,
        4,
        "Alerts on flows without encryption (GB/T 39725 §8.2, §10.1).",
    ),
    PanelSpec(
        "Level 4-5 alerts",
        "stat",
        f"SELECT count() AS identifying FROM {A} WHERE {TIME} AND max_level >= 4",
        4,
        4,
        "Alerts carrying identifying (L4) or special-disease (L5) data.",
    ),
    PanelSpec(
        "Escalated",
        "stat",
        f"SELECT count() AS escalated FROM {A} WHERE {TIME} AND triage_state = 'escalated'",
        4,
        4,
        "Handed to incident response (§9.4).",
    ),
    PanelSpec(
        "Alerts over time by severity",
        "timeseries",
        f"SELECT $__timeInterval(observed_at) AS time, severity, count() AS alerts FROM {A} "
        f"WHERE {TIME} GROUP BY time, severity ORDER BY time",
        12,
        8,
    ),
    PanelSpec(
        "Alerts over time by rule",
        "timeseries",
        f"SELECT $__timeInterval(observed_at) AS time, rule_id, count() AS alerts FROM {A} "
        f"WHERE {TIME} GROUP BY time, rule_id ORDER BY time",
        12,
        8,
    ),
    PanelSpec(
        "Alerts over time by channel",
        "timeseries",
        f"SELECT $__timeInterval(observed_at) AS time, channel, count() AS alerts FROM {A} "
        f"WHERE {TIME} GROUP BY time, channel ORDER BY time",
        12,
        8,
    ),
    PanelSpec(
        "Distinct data subjects over time",
        "timeseries",
        f"SELECT $__timeInterval(observed_at) AS time, uniqExact(h) AS subjects FROM {A} "
        f"ARRAY JOIN subject_hashes AS h WHERE {TIME} GROUP BY time ORDER BY time",
        12,
        8,
    ),
    PanelSpec(
        "Max level distribution",
        "barchart",
        f"SELECT concat('L', toString(max_level)) AS level, count() AS alerts FROM {A} "
        f"WHERE {TIME} GROUP BY level ORDER BY level",
        8,
        8,
        "GB/T 39725 §6.2 levels: L3 re-identifiable, L4 identifying, L5 special disease.",
    ),
    PanelSpec(
        "Cleartext flows",
        "table",
        f"SELECT channel, src, dst, count() AS alerts, sum(subjects) AS subjects, "
        f"max(max_level) AS max_level FROM {A} WHERE {TIME} AND encrypted = 0 "
        "GROUP BY channel, src, dst ORDER BY alerts DESC LIMIT 20",
        16,
        8,
        "Health data seen on the wire without encryption, by flow.",
    ),
    PanelSpec(
        "Top principals",
        "table",
        f"SELECT actor, count() AS alerts, sum(subjects) AS subjects, max(max_level) AS max_level, "
        f"countIf(triage_state = 'false_positive') AS false_positives FROM {A} "
        f"WHERE {TIME} AND actor != '' GROUP BY actor ORDER BY alerts DESC LIMIT 20",
        12,
        8,
    ),
    PanelSpec(
        "False-positive rate per rule",
        "table",
        "SELECT rule_id, count() AS alerts, countIf(triage_state = 'false_positive') AS false_positives, "
        "countIf(triage_state IN ('resolved', 'escalated')) AS confirmed, "
        "if(false_positives + confirmed = 0, NULL, false_positives / (false_positives + confirmed)) "
        f"AS fp_rate FROM {A} WHERE {TIME} GROUP BY rule_id ORDER BY alerts DESC",
        12,
        8,
        "From analysts' verdicts in the triage console.",
        "percentunit",
    ),
    PanelSpec(
        "Dead letters by reason",
        "barchart",
        "SELECT reason, count() AS dead_letters FROM ${database}.dead_letters "
        "WHERE $__timeFilter(observed_at) GROUP BY reason ORDER BY dead_letters DESC",
        24,
        7,
        "Input the pipeline rejected (metadata only, never the payload).",
    ),
)


def _panel(i: int, spec: PanelSpec, x: int, y: int) -> dict[str, Any]:
    panel: dict[str, Any] = {
        "id": i,
        "type": spec.kind,
        "title": spec.title,
        "description": spec.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": spec.h, "w": spec.w, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": spec.unit}, "overrides": []},
        "options": {},
        "targets": [
            {
                "refId": "A",
                "datasource": DATASOURCE,
                "editorType": "sql",
                "queryType": "timeseries" if spec.time_series else "table",
                "format": 0 if spec.time_series else 1,
                "rawSql": spec.sql,
            }
        ],
    }
    if spec.kind == "stat":
        panel["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none",
        }
    if spec.kind == "barchart":
        panel["options"] = {"orientation": "horizontal", "showValue": "auto"}
    return panel


def build_dashboard() -> dict[str, Any]:
    panels, x, y, row_h = [], 0, 0, 0
    for i, spec in enumerate(PANELS, start=1):
        if x + spec.w > 24:
            x, y, row_h = 0, y + row_h, 0
        panels.append(_panel(i, spec, x, y))
        x, row_h = x + spec.w, max(row_h, spec.h)
    return {
        "uid": DASHBOARD_UID,
        "title": "healthdlp — health data flows",
        "description": "Alerts on personal health data (GB/T 39725-2020) from the healthdlp store.",
        "tags": ["healthdlp", "dlp", "gbt39725"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "database",
                    "label": "Database",
                    "type": "constant",
                    "query": "healthdlp",
                    "hide": 2,
                }
            ]
        },
        "panels": panels,
    }


def dashboard_json() -> str:
    return json.dumps(build_dashboard(), indent=2, ensure_ascii=False) + "\n"


def write_dashboard(path: Path = DASHBOARD_FILE) -> Path:
    path.write_text(dashboard_json(), encoding="utf-8")
    return path
