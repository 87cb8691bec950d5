"""AlertStore against real engines: ClickHouse 18.16 (server, native protocol) and chdb (embedded).

Every integration test runs once per backend with the same body (fixture ``store`` in
conftest.py), which is the point: the SQL must mean the same thing in both places.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.alerts import Alert
from model.config import StoreConfig
from model.events import DeadLetter
from store import AlertStore, StoreError, alert_row, check_alert, open_store, row_to_alert
from store.alert_store import ALERT_COLUMNS, alert_version
from store.migrate import Migration, load_migrations, parse_version

NOW = time.time()
RAW_ID = "11010519491231002X"  # valid GB 11643 check character


def make_alert(i: int, **kw: object) -> Alert:
    d: dict[str, object] = dict(
        alert_id=f"alert-{i:04d}",
        rule_id="bulk-export",
        rule_version=1,
        title="Bulk export of identifiable records",
        severity="high",
        clauses=("GB/T 39725-2020 §7.2",),
        channel="http",
        src="10.0.0.5:50000",
        dst="198.51.100.7:80",
        actor="dr.wang",
        encrypted=False,
        entities=("cn_resident_id", "patient_name"),
        categories=("personal_attribute", "health_status"),
        max_level=4,
        subjects=12,
        evidence=("110***********002X", "王*"),
        subject_hashes=("hs1", "hs2"),
        event_ids=(f"ev-{i}",),
        observed_at=NOW - 3600 + i,
        last_seen=NOW - 1800 + i,
        sensor_id="s1",
        details={"window_s": 300, "note": "é"},
    )
    d.update(kw)
    return Alert(**d)  # type: ignore[arg-type]


# -- unit: row mapping and checks ---------------------------------------------------------------


def test_row_mapping_round_trips() -> None:
    a = make_alert(1, encrypted=True, details={"nested": {"x": [1, 2]}})
    row = dict(zip(ALERT_COLUMNS, alert_row(a), strict=True))
    assert row["severity_rank"] == 3 and row["version"] == int(a.last_seen * 1000)
    assert row_to_alert(row) == a


def test_version_grows_with_last_seen() -> None:
    a = make_alert(1)
    assert alert_version(replace(a, last_seen=a.last_seen + 0.002)) > alert_version(a)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"evidence": ("ok", f"id {RAW_ID}")}, "evidence[1]"),
        ({"evidence": ("card 4111 1111 1111 1111",)}, "evidence[0]"),
        ({"evidence": ("+86 13812345678",)}, "evidence[0]"),
        ({"title": f"export of {RAW_ID}"}, "title"),
        ({"severity": "urgent"}, "severity"),
        ({"alert_id": ""}, "alert_id"),
        ({"subjects": -1}, "subjects"),
    ],
)
def test_check_alert_names_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"field '{field}'")) as ei:
        check_alert(make_alert(1, **change))
    assert RAW_ID not in str(ei.value)


# -- integration ---------------------------------------------------------------------------------


def _table_names(store: AlertStore) -> set[str]:
    rows = store.select("SELECT name FROM system.tables WHERE database = %(db)s", {"db": _db(store)})
    return {r["name"] for r in rows}


def _db(store: AlertStore) -> str:
    return store._db  # the test needs the per-test database name


@pytest.mark.integration
def test_migrate_twice_is_idempotent_and_gated(store: AlertStore) -> None:
    names = [m.name for m in load_migrations()]
    assert set(_table_names(store)) >= {
        "alerts",
        "alert_triage",
        "dead_letters",
        "schema_migrations",
        "alerts_current",
    }
    assert store.migrate() == []
    recorded = store.select(
        f"SELECT name, gated_off, server_version FROM {_db(store)}.schema_migrations ORDER BY name"
    )
    assert [r["name"] for r in recorded] == names
    assert all(r["server_version"] == store.server_version for r in recorded)
    core = recorded[0]
    cols = {
        r["name"]: r["type"]
        for r in store.select(
            "SELECT name, type FROM system.columns WHERE database = %(db)s AND table = 'alerts'",
            {"db": _db(store)},
        )
    }
    ddl = store.select(f"SHOW CREATE TABLE {_db(store)}.dead_letters")[0]["statement"]
    if parse_version(store.server_version) >= (20, 1):
        assert core["gated_off"] == ""
        assert cols["severity"] == "LowCardinality(String)"
        assert "TTL" in ddl
    else:  # the 18.16 test server
        assert core["gated_off"] == "lowcard,codec,ttl"
        assert cols["severity"] == "String"
        assert "TTL" not in ddl
    assert cols["observed_at"] == "DateTime" and cols["observed_at_s"] == "Float64"
    assert cols["version"] == "UInt64"


@pytest.mark.integration
def test_concurrent_migrators_agree(store_cfg: StoreConfig) -> None:
    """Four stores migrate the same fresh database at once; all succeed and the schema is complete."""
    stores = [open_store(store_cfg) for _ in range(4)]
    errors: list[BaseException] = []
    applied: list[list[str]] = []

    def run(s: AlertStore) -> None:
        try:
            applied.append(s.migrate())
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        names = [m.name for m in load_migrations()]
        assert sorted({n for a in applied for n in a}) == names
        assert stores[0].migrate() == []
        got = stores[0].select(
            f"SELECT DISTINCT name FROM {store_cfg.database}.schema_migrations ORDER BY name"
        )
        assert [r["name"] for r in got] == names
    finally:
        for s in stores:
            s.close()


@pytest.mark.integration
def test_later_migrations_apply_in_order_and_edits_are_refused(store: AlertStore) -> None:
    bundled = load_migrations()
    n = len(bundled)
    add = "ALTER TABLE {{db}}.alert_triage ADD COLUMN {{if_not_exists}} ticket String DEFAULT ''"
    extra = [
        *bundled,
        Migration(n + 1, f"{n + 1:04d}_ticket", add),
        # the same ALTER again, as a second migrator would run it: "already exists" is tolerated
        Migration(n + 2, f"{n + 2:04d}_ticket_again", add),
    ]
    assert store.migrate(extra) == [f"{n + 1:04d}_ticket", f"{n + 2:04d}_ticket_again"]
    assert store.select(f"SELECT ticket FROM {_db(store)}.alert_triage") == []
    edited = [*bundled[:-1], replace(bundled[-1], text=bundled[-1].text + "\n-- edited\n")]
    with pytest.raises(StoreError, match="changed after it was applied"):
        store.migrate(edited)


@pytest.mark.integration
def test_insert_query_and_filters(store: AlertStore) -> None:
    alerts = [
        make_alert(0, severity="critical", max_level=5, channel="hl7-mllp"),
        make_alert(1, severity="high", max_level=4),
        make_alert(2, severity="medium", max_level=3, rule_id="usb-copy", channel="usb"),
        make_alert(3, severity="low", max_level=2, observed_at=NOW - 86400 * 40, last_seen=NOW - 86400 * 39),
        *[make_alert(10 + i, severity="info", max_level=1) for i in range(16)],
    ]
    assert store.insert_alerts(alerts) == 20  # three batches of insert_batch=7
    assert store.count_alerts() == 20
    got = store.query_alerts(limit=1000)
    assert sorted(a.alert_id for a in got) == sorted(a.alert_id for a in alerts)
    by_id = {a.alert_id: a for a in got}
    for a in alerts:
        assert by_id[a.alert_id] == a  # every field survives, float seconds exactly
    assert [a.last_seen for a in got] == sorted((a.last_seen for a in got), reverse=True)

    assert {a.alert_id for a in store.query_alerts(severity_min="high")} == {"alert-0000", "alert-0001"}
    assert store.count_alerts(severity_min="medium") == 3
    assert store.count_alerts(min_level=4) == 2
    assert [a.alert_id for a in store.query_alerts(channel="usb")] == ["alert-0002"]
    assert [a.alert_id for a in store.query_alerts(rule_id="usb-copy")] == ["alert-0002"]
    assert store.count_alerts(rule_id="nope") == 0
    assert store.count_alerts(since=NOW - 86400) == 19
    assert [a.alert_id for a in store.query_alerts(until=NOW - 86400)] == ["alert-0003"]
    assert store.count_alerts(since=NOW - 86400 * 39.5, until=NOW - 86400 * 39) == 1
    assert len(store.query_alerts(limit=5)) == 5
    assert store.query_alerts(limit=0) == []
    assert store.count_alerts(triage_state="new") == 20
    # hostile filter values are data, not SQL
    assert store.count_alerts(channel="http' OR 1=1 --") == 0
    assert store.count_alerts(rule_id="x\\' OR '1'='1") == 0
    with pytest.raises(ValueError):
        store.query_alerts(severity_min="severe")
    with pytest.raises(ValueError):
        store.query_alerts(limit=-1)


@pytest.mark.integration
def test_replayed_alerts_collapse(store: AlertStore) -> None:
    alerts = [make_alert(i) for i in range(9)]
    store.insert_alerts(alerts)
    store.insert_alerts(alerts)  # a replayed Kafka batch
    store.insert_alerts(alerts[:3] + alerts[:3])  # and duplicates inside one batch
    got = store.query_alerts(limit=100)
    assert len(got) == 9
    assert len({a.alert_id for a in got}) == 9
    assert store.count_alerts() == 9
    assert store.count_alerts(severity_min="high") == 9
    raw = store.select(f"SELECT count() AS n FROM {_db(store)}.alerts")[0]["n"]
    assert raw >= 9  # without FINAL, unmerged copies may still be there; FINAL hides them
    view = store.select(f"SELECT count() AS n FROM {_db(store)}.alerts_current")[0]["n"]
    assert view == 9


@pytest.mark.integration
def test_updated_alert_replaces_older_version(store: AlertStore) -> None:
    first = make_alert(1, subjects=3, severity="critical", subject_hashes=("a", "b", "c"))
    grown = replace(
        first,
        subjects=7,
        severity="low",
        last_seen=first.last_seen + 60,
        subject_hashes=("a", "b", "c", "d", "e", "f", "g"),
    )
    store.insert_alerts([grown])
    store.insert_alerts([first])  # the older version arrives late: it must not win
    [got] = store.query_alerts()
    assert got.subjects == 7 and got.severity == "low" and got.last_seen == grown.last_seen
    # filters judge the latest version only: the old row's "critical" must not leak through
    assert store.count_alerts(severity_min="critical") == 0
    assert store.query_alerts(severity_min="high") == []
    assert store.count_alerts(severity_min="low") == 1


@pytest.mark.integration
def test_triage_history_and_current_state(store: AlertStore) -> None:
    store.insert_alerts([make_alert(1), make_alert(2), make_alert(3, triage_state="suppressed")])
    store.set_triage("alert-0001", "acknowledged", note="looking", who="ana")
    store.set_triage("alert-0001", "investigating", note="called ward 3", who="ana")
    store.set_triage("alert-0001", "resolved", note="approved transfer", who="lead")
    store.set_triage("alert-0002", "false_positive", who="ana")
    states = {a.alert_id: a.triage_state for a in store.query_alerts()}
    assert states == {"alert-0001": "resolved", "alert-0002": "false_positive", "alert-0003": "suppressed"}
    hist = store.triage_history("alert-0001")
    assert [h["state"] for h in hist] == ["acknowledged", "investigating", "resolved"]
    assert [h["who"] for h in hist] == ["ana", "ana", "lead"]
    assert isinstance(hist[0]["at"], datetime) and hist[0]["at"].tzinfo is UTC
    assert [a.alert_id for a in store.query_alerts(triage_state="resolved")] == ["alert-0001"]
    assert store.count_alerts(triage_state="new") == 0
    assert store.count_alerts(triage_state="suppressed") == 1
    # replaying the alert does not reset its triage
    store.insert_alerts([make_alert(1)])
    assert store.query_alerts(triage_state="resolved")[0].alert_id == "alert-0001"
    view = store.select(
        f"SELECT triage_state, triage_note, triage_who FROM {_db(store)}.alerts_current "
        "WHERE alert_id = %(id)s",
        {"id": "alert-0001"},
    )
    assert view == [{"triage_state": "resolved", "triage_note": "approved transfer", "triage_who": "lead"}]
    with pytest.raises(ValueError, match="not one of"):
        store.set_triage("alert-0001", "closed")
    with pytest.raises(ValueError, match="no alert"):
        store.set_triage("alert-9999", "resolved")
    with pytest.raises(ValueError, match="unmasked"):
        store.set_triage("alert-0001", "escalated", note=f"patient {RAW_ID} complained")
    assert len(store.triage_history("alert-0001")) == 3


@pytest.mark.integration
def test_dead_letters_are_stored_without_payload(store: AlertStore) -> None:
    payload = f"MSH|^~\\&|HIS|...|PID|||{RAW_ID}||王五||19491231|M".encode()
    letters = [
        DeadLetter(
            "decode", "hl7-invalid", f"segment PID malformed near {RAW_ID}", "topic/0/42", NOW, payload
        ),
        DeadLetter("decode", "hl7-invalid", "no MSH segment", "topic/0/43", NOW, b"garbage"),
        DeadLetter("net-sensor", "pcap-truncated", "capture ended mid-packet", "/tmp/x.pcap", NOW),
    ]
    assert store.record_dead_letters(letters) == 3
    assert store.dead_letter_counts() == {"hl7-invalid": 2, "pcap-truncated": 1}
    rows = store.select(f"SELECT * FROM {_db(store)}.dead_letters ORDER BY source")
    assert "payload" not in rows[0]
    flat = repr(rows)
    assert RAW_ID not in flat and "王五" not in flat and "garbage" not in flat
    by_source = {r["source"]: r for r in rows}
    first = by_source["topic/0/42"]
    assert first["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    assert first["size"] == len(payload)
    assert first["detail"] == "segment PID malformed near [redacted CN resident identity number]"
    assert by_source["/tmp/x.pcap"]["payload_sha256"] == "" and by_source["/tmp/x.pcap"]["size"] == 0


@pytest.mark.integration
def test_evidence_guard_rejects_raw_identifiers(store: AlertStore) -> None:
    batch = [make_alert(1), make_alert(2, evidence=("王*", f"身份证 {RAW_ID}")), make_alert(3)]
    with pytest.raises(ValueError, match=r"alert #1 \(alert-0002\): field 'evidence\[1\]'"):
        store.insert_alerts(batch)
    assert store.count_alerts() == 0  # nothing from a refused batch is written
    store.insert_alerts([batch[0], batch[2]])
    assert store.count_alerts() == 2


@pytest.mark.integration
def test_select_types_are_the_same_on_both_backends(store: AlertStore) -> None:
    [row] = store.select(
        "SELECT toUInt64(18446744073709551615) AS big, toInt8(-3) AS small, 1.25 AS f, "
        "toDateTime(1704164645) AS dt, toDate('2024-01-02') AS d, ['a', 'b'] AS arr, "
        "CAST(NULL AS Nullable(String)) AS n, toUUID('00000000-0000-0000-0000-000000000001') AS u, "
        "%(s)s AS s, %(xs)s AS xs, has(%(xs)s, 'y') AS hit",
        {"s": "张三 \\ ' \n", "xs": ["x", "y"]},
    )
    assert row == {
        "big": 2**64 - 1,
        "small": -3,
        "f": 1.25,
        "dt": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "d": date(2024, 1, 2),
        "arr": ["a", "b"],
        "n": None,
        "u": "00000000-0000-0000-0000-000000000001",
        "s": "张三 \\ ' \n",
        "xs": ["x", "y"],
        "hit": 1,
    }


@pytest.mark.integration
def test_select_refuses_writes_and_second_statements(store: AlertStore) -> None:
    store.insert_alerts([make_alert(1)])
    for sql in (
        f"DROP TABLE {_db(store)}.alerts",
        f"SELECT 1; DROP TABLE {_db(store)}.alerts",
        f"INSERT INTO {_db(store)}.alert_triage (alert_id) VALUES ('x')",
    ):
        with pytest.raises(ValueError):
            store.select(sql)
    hostile = "alert-0001'; DROP TABLE " + _db(store) + ".alerts; --"
    assert store.select(
        f"SELECT count() AS n FROM {_db(store)}.alerts WHERE alert_id = %(id)s", {"id": hostile}
    ) == [{"n": 0}]
    assert store.count_alerts() == 1


@pytest.mark.integration
def test_database_errors_are_store_errors(store: AlertStore) -> None:
    with pytest.raises(StoreError) as ei:
        store.select(f"SELECT nope FROM {_db(store)}.alerts")
    assert ei.value.code == 47  # UNKNOWN_IDENTIFIER
    assert "Stack trace" not in str(ei.value)


TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@pytest.mark.integration
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(TEXT, st.lists(TEXT, max_size=4)))
def test_any_text_round_trips_through_the_real_parser(store: AlertStore, value: object) -> None:
    """Whatever the value, quoting yields one literal the engine reads back unchanged."""
    [row] = store.select("SELECT %(v)s AS v", {"v": value})
    assert row["v"] == value


@pytest.mark.integration
@pytest.mark.parametrize("store_cfg", ["chdb"], indirect=True)
def test_chdb_persists_and_allows_one_path(store_cfg: StoreConfig, tmp_path: object) -> None:
    s = open_store(store_cfg)
    s.migrate()
    s.insert_alerts([make_alert(1)])
    other = replace(store_cfg, chdb_path=str(tmp_path))
    with pytest.raises(StoreError, match="one database path per process"):
        open_store(other)
    s2 = open_store(store_cfg)  # a second store on the same path shares the session
    assert s2.count_alerts() == 1
    s2.close()
    assert s.count_alerts() == 1
    s.close()
    reopened = open_store(store_cfg)  # the last close released the session; data is on disk
    try:
        assert reopened.migrate() == []
        assert [a.alert_id for a in reopened.query_alerts()] == ["alert-0001"]
    finally:
        reopened.close()
    elsewhere = open_store(other)  # now another path may be opened
    elsewhere.close()


def test_bad_database_name_is_refused_before_connecting(tmp_path: object) -> None:
    for backend in ("chdb", "clickhouse"):
        cfg = StoreConfig(backend=backend, chdb_path=str(tmp_path), port=1, database="x; DROP DATABASE y")
        with pytest.raises(ValueError, match="plain identifier"):
            open_store(cfg)


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown store backend"):
        open_store(StoreConfig(backend="sqlite"))


@pytest.mark.integration
def test_iter_alerts_pages_through_a_whole_period(store: AlertStore) -> None:
    """replay --baseline stored reads every alert of a period, however many, in pages."""
    alerts = [make_alert(i, observed_at=NOW - 3600 + i, last_seen=NOW - 3000 + i) for i in range(23)]
    old = make_alert(99, observed_at=NOW - 90000, last_seen=NOW - 86000)
    store.insert_alerts([*alerts, old])
    store.insert_alerts([replace(alerts[0], subjects=40, last_seen=alerts[0].last_seen + 1)])  # a newer version
    got = list(store.iter_alerts(since=NOW - 7200, until=NOW, page=5))
    assert sorted(a.alert_id for a in got) == [a.alert_id for a in alerts]
    assert next(a for a in got if a.alert_id == alerts[0].alert_id).subjects == 40
    assert {a.alert_id for a in store.iter_alerts(page=100)} == {a.alert_id for a in [*alerts, old]}
    with pytest.raises(ValueError, match="page"):
        next(store.iter_alerts(page=0))
