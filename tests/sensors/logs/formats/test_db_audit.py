"""Database audit: pgaudit (stderr and csvlog, multi-line), MySQL/Percona JSON, SQL audit CSV, exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.config import LogsConfig
from sensors.logs import scan_log_file
from sensors.logs.formats.db_audit import analyse_sql
from tests.sensors.logs.conftest import reasons


def scan(tmp_path: Path, name: str, text: str, fmt: str = "auto") -> tuple[list, list, dict]:  # type: ignore[type-arg]
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return scan_log_file(str(p), LogsConfig(), "s1", fmt=fmt)


@pytest.mark.parametrize(
    "sql, command, tables, export, kind",
    [
        ("SELECT * FROM public.patients p JOIN visits v ON v.pid = p.id", "SELECT", ("public.patients", "visits"),
         False, ""),
        ("COPY patients TO '/tmp/p.csv' WITH CSV HEADER", "COPY", ("patients",), True, "copy-to-file"),
        ("COPY (SELECT * FROM lab_results) TO STDOUT", "COPY", ("lab_results",), True, "copy-to-stdout"),
        ("copy patients to program 'gzip > /tmp/p.gz'", "COPY", ("patients",), True, "copy-to-program"),
        ("COPY patients FROM '/tmp/in.csv'", "COPY", ("patients",), False, ""),
        ("SELECT name, id_card INTO OUTFILE '/var/lib/mysql-files/p.csv' FROM `his`.`patients`", "SELECT",
         ("his.patients",), True, "outfile"),
        ("SELECT /*!40001 SQL_NO_CACHE */ * FROM `patients`", "SELECT", ("patients",), True, "mysqldump"),
        ("UPDATE patients SET phone = '1' WHERE id = 3", "UPDATE", ("patients",), False, ""),
        ("INSERT INTO audit_copy SELECT * FROM patients", "INSERT INTO", ("audit_copy", "patients"), False, ""),
    ],
)
def test_sql_analysis(sql: str, command: str, tables: tuple[str, ...], export: bool, kind: str) -> None:
    f = analyse_sql(sql)
    assert (f.command, f.tables, f.export, f.export_kind) == (command, tables, export, kind)


PFX = "2024-11-25 09:00:01.001 CST [77] user=alice,db=his,host=10.0.0.5 LOG:  "
PG = f"""2024-11-25 09:00:00.123 CST [77] user=alice,db=his,host=10.0.0.5 LOG:  connection authorized
{PFX}AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.patients,"SELECT name, id_card
\tFROM patients
\tWHERE ward = '3A'",<not logged>,42
2024-11-25 09:00:02.000 +08 [77] alice@his LOG:  AUDIT: SESSION,2,1,READ,SELECT,,,COPY patients TO '/tmp/all.csv' \
CSV,<none>
2024-11-25 09:00:03.000 CST [77] LOG:  AUDIT: SESSION,3,1,BOGUS,SELECT,,,select 1,<none>
2024-11-25 09:00:04.000 CST [77] LOG:  AUDIT: SESSION,4
"""


def test_pgaudit_stderr_log(tmp_path: Path) -> None:
    events, dead, stats = scan(tmp_path, "postgresql.log", PG)
    assert stats["format-detected.pgaudit"] == 1
    assert reasons(dead) == ["pgaudit-parse", "pgaudit-parse"]
    first, copy = events
    assert first.channel == "db-audit" and first.actor == "alice" and first.src.host == "10.0.0.5"
    assert first.content.decode() == "SELECT name, id_card\nFROM patients\nWHERE ward = '3A'"
    a = first.attributes
    assert (a["command"], a["tables"], a["rows"], a["database"], a["audit_class"], a["export"]) == (
        "SELECT", ["public.patients"], 42, "his", "READ", False)
    assert a["log_line"] == 2  # the record is identified by its first line
    assert copy.actor == "alice" and copy.attributes["export"] is True
    assert copy.attributes["export_kind"] == "copy-to-file" and copy.attributes["export_target"] == "/tmp/all.csv"
    assert copy.observed_at == pytest.approx(1732496402.0)


def test_pgaudit_csvlog(tmp_path: Path) -> None:
    row = ('2024-11-25 09:00:01.001 CST,"alice","his",77,"10.0.0.5:50012",6743a1.4d,3,"SELECT",'
           '2024-11-25 09:00:00 CST,3/14,0,LOG,00000,"AUDIT: SESSION,1,1,READ,SELECT,,,""SELECT *\n'
           ' FROM patients"",<not logged>",,,,,,,,,"psql","client backend",,0\n')
    events, dead, _ = scan(tmp_path, "postgresql.csv", row, fmt="pgaudit")
    assert dead == [] and len(events) == 1
    ev = events[0]
    assert ev.actor == "alice" and ev.attributes["database"] == "his"
    assert ev.content.decode() == "SELECT *\n FROM patients" and ev.src.host == "10.0.0.5"


MYSQL_PRETTY = """[
  {
    "timestamp": "2024-11-25 01:00:01",
    "id": 0,
    "class": "general",
    "event": "status",
    "connection_id": 9,
    "account": { "user": "report", "host": "10.0.0.8" },
    "login": { "user": "report", "os": "", "ip": "10.0.0.8", "proxy": "" },
    "general_data": { "command": "Query", "sql_command": "select",
                      "query": "SELECT name, phone\\nFROM patients INTO OUTFILE '/tmp/p.csv'", "status": 0 },
    "query_statistics": { "query_time": 0.5, "rows_sent": 1200, "rows_examined": 1200 }
  },
  {
    "timestamp": "2024-11-25 01:00:02",
    "class": "connection",
    "event": "disconnect",
    "connection_id": 9
  }
]
"""


def test_mysql_enterprise_pretty_printed(tmp_path: Path) -> None:
    events, dead, stats = scan(tmp_path, "audit.log", MYSQL_PRETTY)
    assert stats["format-detected.mysql-audit"] == 1 and dead == []
    (ev,) = events
    assert ev.actor == "report" and ev.src.host == "10.0.0.8"
    a = ev.attributes
    assert (a["rows"], a["export"], a["export_kind"], a["command"]) == (1200, True, "outfile", "SELECT")
    assert a["log_line"] == 2


def test_mysql_compact_and_percona(tmp_path: Path) -> None:
    lines = [
        {"timestamp": "2024-11-25 01:00:01", "class": "table_access", "event": "read", "connection_id": 3,
         "account": {"user": "his", "host": "app1"}, "login": {"user": "his", "ip": "10.0.0.2"},
         "table_access_data": {"db": "emr", "table": "patients", "query": "SELECT * FROM patients",
                               "sql_command": "select"}},
        {"audit_record": {"name": "Query", "record": "1_2024", "timestamp": "2024-11-25T01:00:02Z",
                          "command_class": "select", "connection_id": "4", "status": 0,
                          "sqltext": "SELECT * FROM lab", "user": "lis[lis] @ localhost []", "host": "localhost",
                          "os_user": "", "ip": "10.0.0.3", "db": "lis"}},
        {"audit_record": {"name": "Connect", "timestamp": "2024-11-25T01:00:03Z", "user": "x"}},
    ]
    events, dead, _ = scan(tmp_path, "audit.json", "".join(json.dumps(x) + "\n" for x in lines))
    assert dead == [] and [e.actor for e in events] == ["his", "lis"]
    assert events[0].attributes["tables"] == ["emr.patients"]
    assert events[1].attributes["database"] == "lis" and events[1].attributes["command"] == "SELECT"


def test_mysql_dead_letters(tmp_path: Path) -> None:
    _, dead, _ = scan(tmp_path, "audit.log", '{"class": "general", "general_data": \nnot json\n}\n"x"\n',
                      fmt="mysql-audit")
    assert reasons(dead) == ["json-invalid", "json-invalid"]


def test_generic_sql_audit_csv(tmp_path: Path) -> None:
    text = ("time,user,client,database,statement,rows\n"
            "2024-11-25T09:00:00+08:00,alice,10.0.0.5,his,"
            "\"SELECT * FROM patients WHERE id_card='110101199003074514'\",1\n"
            "2024-11-25T09:00:01+08:00,bob,10.0.0.6,his,\"COPY patients TO STDOUT\",5000\n"
            "2024-11-25T09:00:02+08:00,bob,10.0.0.6,his\n"
            "2024-11-25T09:00:03+08:00,bob,10.0.0.6,his,,1\n")
    events, dead, stats = scan(tmp_path, "sqlaudit.csv", text)
    assert stats["format-detected.sql-audit-csv"] == 1
    assert [e.actor for e in events] == ["alice", "bob"] and reasons(dead) == ["csv-columns", "field-missing"]
    assert events[1].attributes["export"] is True and events[1].attributes["rows"] == 5000
    assert events[0].observed_at == pytest.approx(1732496400.0)


def test_csv_without_a_statement_column_is_dead_lettered(tmp_path: Path) -> None:
    _, dead, _ = scan(tmp_path, "x.csv", "a,b,c\n1,2,3\n", fmt="sql-audit-csv")
    assert reasons(dead)[0] == "csv-header"


def test_mariadb_server_audit(tmp_path: Path) -> None:
    text = ("20241125 09:00:00,db1,alice,10.0.0.5,12,0,CONNECT,his,,0\n"
            "20241125 09:00:01,db1,alice,10.0.0.5,12,34,QUERY,his,'SELECT * FROM patients WHERE name=\\'张三\\'',0\n")
    events, dead, _ = scan(tmp_path, "server_audit.log", text)
    assert dead == [] and len(events) == 1
    assert events[0].content.decode() == "SELECT * FROM patients WHERE name='张三'"
    assert events[0].attributes["tables"] == ["patients"]
