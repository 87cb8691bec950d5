"""PostgreSQL and MySQL wire protocols: user, query text, result row counts, TLS upgrades."""

from __future__ import annotations

import pytest

from sensors.net import craft
from sensors.net.protocols import mysql, postgres
from tests.sensors.net._util import assert_clean, by_channel, scan_turns

COLS = ["name", "id_number", "diagnosis"]
ROWS = [[f"患者{i}", craft.cn_resident_id(i), "2型糖尿病" if i % 2 else None] for i in range(50_000)]
BULK = "SELECT * FROM patients"


def test_postgres_bulk_select_is_visible_with_its_row_count(tmp_path):
    turns = craft.pg_session([(BULK, COLS, ROWS), ("UPDATE visits SET seen = true WHERE id = 7", [], [])])
    events, dls, stats = scan_turns(tmp_path, turns, craft.Conversation(dport=5432, mss=1448))
    assert_clean(stats)
    assert dls == []
    pg = by_channel(events, "postgres")
    q, res, q2, res2 = pg
    assert q.content == BULK.encode() and q.content_type == "application/sql" and q.actor == "his_app"
    assert q.attributes["database"] == "emr" and q.attributes["db_user"] == "his_app"
    assert res.attributes["rows"] == 50_000 and res.attributes["data_rows"] == 50_000
    assert res.attributes["command_tag"] == "SELECT 50000" and res.attributes["query"] == BULK
    assert res.attributes["columns"] == COLS and res.attributes["direction"] == "s2c"
    assert res.content.startswith(b"name\tid_number\tdiagnosis\n")
    assert craft.cn_resident_id(1).encode() in res.content and res.truncated  # 1 MiB of rows kept, all counted
    assert res.size > len(res.content)
    assert q2.content.startswith(b"UPDATE") and res2.attributes["command_tag"] == "SELECT 0"


def test_postgres_ssl_request_accepted_is_tls(tmp_path):
    events, _, stats = scan_turns(tmp_path, craft.pg_session([], ssl=True), craft.Conversation(dport=5432))
    assert_clean(stats)
    (tls,) = by_channel(events, "tls")
    assert tls.attributes["starttls"] == "postgres" and tls.tls is not None and tls.tls.sni == "db.hospital.example"
    assert by_channel(events, "postgres") == []


@pytest.mark.parametrize("deprecate_eof", [False, True], ids=["eof", "deprecate-eof"])
def test_mysql_result_set_rows_are_counted(tmp_path, deprecate_eof):
    rows = ROWS[:5000]
    turns = craft.mysql_session([(BULK, COLS, rows), ("SELECT 1", ["1"], [["1"]])], deprecate_eof=deprecate_eof)
    events, dls, stats = scan_turns(tmp_path, turns, craft.Conversation(dport=3306, mss=1448))
    assert_clean(stats)
    assert dls == []
    q, res, q2, res2 = by_channel(events, "mysql")
    assert q.content == BULK.encode() and q.actor == "report_ro" and q.attributes["database"] == "emr"
    assert res.attributes["rows"] == 5000 and res.attributes["columns"] == COLS
    assert res.attributes["server_version"] == "8.0.36" and res.attributes["query"] == BULK
    assert res.content.count(b"\n") == 5001 and b"\\N" in res.content  # header + rows; NULL shown as \N
    assert q2.content == b"SELECT 1" and res2.attributes["rows"] == 1


def test_mysql_ssl_request_is_tls(tmp_path):
    events, _, stats = scan_turns(tmp_path, craft.mysql_session([], ssl=True), craft.Conversation(dport=3306))
    assert_clean(stats)
    (tls,) = by_channel(events, "tls")
    assert tls.attributes["starttls"] == "mysql"


@pytest.mark.parametrize("mutation", [{"shuffle_seed": 2}, {"retransmit": {3, 8, 20}}], ids=["reorder", "retransmit"])
def test_reassembly_damage_does_not_change_results(tmp_path, mutation):
    turns = craft.pg_session([(BULK, COLS, ROWS[:2000])])
    conv = craft.Conversation(dport=5432, mss=700)
    clean, _, _ = scan_turns(tmp_path, turns, conv)
    damaged, _, stats = scan_turns(tmp_path, turns, conv, **mutation)
    assert_clean(stats)
    assert [(e.event_id, e.content, e.attributes.get("rows")) for e in damaged] == \
        [(e.event_id, e.content, e.attributes.get("rows")) for e in clean]


def test_gap_stops_parsing_and_accounts_for_the_rest(tmp_path):
    turns = craft.pg_session([(BULK, COLS, ROWS[:2000]), ("SELECT 2", ["x"], [["2"]])])
    events, _, stats = scan_turns(tmp_path, turns, craft.Conversation(dport=5432, mss=700), drop={5})
    assert_clean(stats)
    res = [e for e in by_channel(events, "postgres") if e.attributes["direction"] == "s2c"]
    assert res and res[0].attributes["incomplete"] is True
    (acct,) = by_channel(events, "tcp")
    assert acct.attributes["uninspected_reason"] == "gap" and acct.attributes["protocol_lost"] == "postgres"


def test_sniffers():
    assert postgres.sniff(craft.pg_startup()) == postgres.CLIENT
    assert postgres.sniff(craft.pg_startup(ssl=True)) == postgres.CLIENT
    assert postgres.sniff(b"GET / HTTP/1.1\r\nHost: x\r\n") == postgres.NO
    greet = craft.mysql_session([])[0][1]
    assert mysql.sniff(greet) == mysql.SERVER
    assert mysql.sniff(b"\x10\x00\x00\x00\x0aHELLO\x00" + bytes(40)) == mysql.NO
    assert postgres.command_rows("INSERT 0 5") == 5 and postgres.command_rows("BEGIN") is None
