"""Floor 2: the alert store (ClickHouse server or embedded chdb). Imports only model/.

``open_store(cfg)`` gives an :class:`AlertStore`; see docs/store.md for the schema, the
migrations and how version gating keeps one schema working on ClickHouse 18.16 and current
releases.
"""

from store.alert_store import (
    ALERT_COLUMNS,
    SEVERITY_RANK,
    TRIAGE_STATES,
    AlertStore,
    alert_row,
    check_alert,
    open_store,
    row_to_alert,
)
from store.format import format_jsonl, format_table
from store.sql import quote, substitute
from store.transport import StoreError

__all__ = [
    "ALERT_COLUMNS",
    "SEVERITY_RANK",
    "TRIAGE_STATES",
    "AlertStore",
    "StoreError",
    "alert_row",
    "check_alert",
    "format_jsonl",
    "format_table",
    "open_store",
    "quote",
    "row_to_alert",
    "substitute",
]
