"""Database audit logs: pgaudit, the MySQL audit plugins (JSON) and generic SQL audit CSV.

Bulk exports of patient tables rarely cross a network sensor in cleartext (TLS to the database,
or a dump written on the server itself); the database's own audit log sees every one. Each
audited statement becomes an event on channel ``db-audit``: the statement is the content (a
``WHERE id_card = '...'`` names a person), and the attributes carry the command, the tables,
the row count when the log has it, and ``export: true`` for statements that write data out of
the database: ``COPY ... TO`` (file, program or STDOUT, which is how ``pg_dump`` and ``\\copy``
read tables), ``SELECT ... INTO OUTFILE/DUMPFILE``, and mysqldump's ``SQL_NO_CACHE`` selects.

Dialects (one format name each, all auto-detected):

* ``pgaudit``: ``AUDIT: SESSION|OBJECT,<stmt id>,<substmt id>,<class>,<command>,<object type>,
  <object name>,<statement>,<parameter>[,<rows>]`` inside PostgreSQL's stderr log (any
  ``log_line_prefix``; ``%u``/``%d``/``%r`` are picked up as ``user=``, ``db=``, ``host=``/``client=``
  or ``user@db``) or inside ``csvlog`` rows. A statement spanning lines (the CSV field is quoted;
  stderr continuation lines start with a tab) is collected until its quotes balance.
* ``mysql-audit``: MySQL Enterprise Audit JSON (``class``, ``account``, ``login``,
  ``general_data``/``table_access_data``/``query_statistics``), pretty-printed over many lines or
  one per line, and Percona Audit Log JSON (``{"audit_record": {...}}``).
* ``sql-audit-csv``: CSV with a header naming the columns (statement/query/sql, user, client,
  database, rows, tables, time ...), and MariaDB ``server_audit`` CSV (no header).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from typing import Any

from model.config import LogsConfig
from model.events import Endpoint, Event
from sensors.logs.formats.base import LineContext, ParseError, StatelessParser, decode_utf8
from sensors.logs.formats.timeparse import parse_iso, parse_timestamp

CHANNEL = "db-audit"
_MAX_STATEMENT = 64 << 10

# -- SQL analysis -------------------------------------------------------------------------------------
_IDENT = r'(?:"[^"]+"|`[^`]+`|\[[^\]]+\]|[A-Za-z_][\w$]*)'
_TABLE_REF = re.compile(
    rf"\b(?:FROM|JOIN|INTO|UPDATE|TABLE|COPY)\s+(?!OUTFILE\b|DUMPFILE\b|SELECT\b|\()({_IDENT}(?:\s*\.\s*{_IDENT}){{0,2}})",
    re.I,
)
_COPY_TO = re.compile(r"^\s*COPY\b.*?\bTO\s+(?P<target>STDOUT\b|PROGRAM\b|'[^']*'|E'[^']*')", re.I | re.S)
_INTO_OUTFILE = re.compile(r"\bINTO\s+(?P<kind>OUTFILE|DUMPFILE)\s+(?P<target>'[^']*'|\"[^\"]*\")", re.I)
_MYSQLDUMP = re.compile(r"^\s*SELECT\s+/\*!40001\s+SQL_NO_CACHE\s*\*/", re.I)
_FIRST_WORD = re.compile(r"^\s*(?:/\*.*?\*/\s*)*([A-Za-z]+(?:\s+(?:TABLE|INTO|FROM|ROLE|INDEX|VIEW|DATABASE))?)",
                         re.S)
_NOT_TABLES = frozenset({"select", "values", "set", "where", "lateral", "unnest", "stdin", "stdout", "dual"})


@dataclasses.dataclass(frozen=True, slots=True)
class SqlFacts:
    command: str
    tables: tuple[str, ...]
    export: bool
    export_kind: str  # copy-to-file | copy-to-program | copy-to-stdout | outfile | dumpfile | mysqldump
    export_target: str


def analyse_sql(sql: str) -> SqlFacts:
    m = _FIRST_WORD.match(sql)
    command = " ".join(m.group(1).upper().split()) if m else ""
    tables: list[str] = []
    for t in _TABLE_REF.findall(sql):
        name = re.sub(r"\s*\.\s*", ".", t).replace('"', "").replace("`", "").replace("[", "").replace("]", "")
        if name.lower() not in _NOT_TABLES and name not in tables:
            tables.append(name)
    export, kind, target = False, "", ""
    c = _COPY_TO.match(sql)
    if c is not None:
        export = True
        tgt = c.group("target")
        kind = {"STDOUT": "copy-to-stdout", "PROGRAM": "copy-to-program"}.get(tgt.upper(), "copy-to-file")
        target = tgt.strip("E'") if kind == "copy-to-file" else ""
    else:
        o = _INTO_OUTFILE.search(sql)
        if o is not None:
            export, kind, target = True, o.group("kind").lower(), o.group("target")[1:-1]
        elif _MYSQLDUMP.match(sql):
            export, kind = True, "mysqldump"
    return SqlFacts(command, tuple(tables[:32]), export, kind, target[:512])


def _int_or_none(v: Any) -> int | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return v if v >= 0 else None
    s = str(v).strip()
    return int(s) if s.isdigit() else None


def db_event(ctx: LineContext, *, fmt: str, ts: float, statement: str, user: str = "", client: str = "",
             database: str = "", server: str = "", rows: int | None = None, extra: dict[str, Any] | None = None,
             tables: tuple[str, ...] = (), command: str = "", ordinal: int = 0) -> Event:
    facts = analyse_sql(statement)
    content = statement.encode("utf-8", "surrogatepass")
    truncated = len(content) > _MAX_STATEMENT
    attrs: dict[str, Any] = ctx.log_attributes()
    attrs.update(format=fmt, command=command or facts.command, tables=list(tables or facts.tables),
                 export=facts.export)
    if facts.export:
        attrs["export_kind"] = facts.export_kind
        if facts.export_target:
            attrs["export_target"] = facts.export_target
    if rows is not None:
        attrs["rows"] = rows
        attrs["records"] = rows
        attrs["records_source"] = "db-audit"
    if database:
        attrs["database"] = database
    if client:
        attrs["client"] = client
    if extra:
        attrs.update({k: v for k, v in extra.items() if v not in ("", None)})
    host, _, port = client.partition(":") if client.count(":") == 1 else (client, "", "")
    return Event(
        event_id=ctx.event_id(ordinal),
        sensor_id=ctx.sensor_id,
        observed_at=ts,
        source_kind="log",
        channel=CHANNEL,
        src=Endpoint(host, int(port) if port.isdigit() else None) if host else None,
        dst=Endpoint(server or database or "database", name=database),
        actor=user,
        content=content[:_MAX_STATEMENT],
        content_type="application/sql",
        size=len(content),
        truncated=truncated,
        attributes=attrs,
    )


def _quotes_balanced(text: str) -> bool:
    return text.count('"') % 2 == 0


# -- pgaudit ------------------------------------------------------------------------------------------
_PG_USER = re.compile(r"\buser=([^\s,;]+)")
_PG_DB = re.compile(r"\b(?:db|database)=([^\s,;]+)")
_PG_CLIENT = re.compile(r"\b(?:host|client|remote|client_addr)=([^\s,;]+)")
_PG_AT = re.compile(r"(?:^|\s)([\w.-]+)@([\w.-]+)(?=\s|$|:)")
_PG_REMOTE = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]{3,39})\((\d+)\)")
_PG_TS = re.compile(r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)(?:\s*([+-]\d\d(?::?\d\d)?|UTC|GMT|Z))?")
_PG_CLASSES = frozenset({"READ", "WRITE", "FUNCTION", "ROLE", "DDL", "MISC", "MISC_SET", "?"})


class _PendingRecordParser(StatelessParser):
    """A parser that holds one record open across lines (a multi-line statement, a pretty-printed
    JSON object); the open record is part of the checkpointed state so a restart completes it."""

    def __init__(self, cfg: LogsConfig) -> None:
        super().__init__(cfg)
        self._pending: dict[str, Any] | None = None

    def get_state(self) -> dict[str, Any]:
        return {"pending": dict(self._pending)} if self._pending else {}

    def set_state(self, state: dict[str, Any]) -> None:
        p = state.get("pending")
        self._pending = dict(p) if p else None


class PgauditParser(_PendingRecordParser):
    name = "pgaudit"

    def finish(self, ctx: LineContext) -> list[Event]:
        if self._pending is None:
            return []
        p, self._pending = self._pending, None
        ctx.counters["pgaudit-unterminated"] += 1
        try:
            return self._record(p["text"], self._pctx(p, ctx))
        except ParseError:
            return []

    @staticmethod
    def _pctx(p: dict[str, Any], ctx: LineContext) -> LineContext:
        return dataclasses.replace(ctx, offset=p["offset"], line_no=p["line_no"], head_id=p["head_id"],
                                   fallback_time=p["fallback"])

    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        text = decode_utf8(line, ctx) if b"AUDIT: " in line or self._pending is not None else None
        if text is None:
            return None
        if self._pending is not None:
            p = self._pending
            p["text"] += "\n" + (text[1:] if text.startswith("\t") else text)
            if len(p["text"]) > self.cfg.max_line_bytes:
                self._pending = None
                raise ParseError("record-too-long", f"{ctx.where}: pgaudit record started at line {p['line_no']} "
                                 f"is longer than {self.cfg.max_line_bytes} bytes")
            if not _quotes_balanced(p["text"]):
                return []
            self._pending = None
            return self._record(p["text"], self._pctx(p, ctx))
        if "AUDIT: " not in text:
            return None
        if not _quotes_balanced(text):
            self._pending = {"text": text, "offset": ctx.offset, "line_no": ctx.line_no, "head_id": ctx.head_id,
                             "fallback": ctx.fallback_time}
            return []
        return self._record(text, ctx)

    def _record(self, text: str, ctx: LineContext) -> list[Event]:
        if text.startswith(("20", "19")) and '"AUDIT: ' in text and text.count(",") > 10:
            return self._csvlog(text, ctx)
        prefix, _, body = text.partition("AUDIT: ")
        return self._audit(prefix, body, ctx)

    def _csvlog(self, text: str, ctx: LineContext) -> list[Event]:
        try:
            row = next(csv.reader(io.StringIO(text)))
        except (csv.Error, StopIteration):
            raise ParseError("csv-invalid", f"{ctx.where}: PostgreSQL csvlog row does not parse") from None
        if len(row) < 14:
            raise ParseError("csv-invalid", f"{ctx.where}: PostgreSQL csvlog row has {len(row)} columns, not >= 14")
        msg = row[13]
        _, _, body = msg.partition("AUDIT: ")
        ts = parse_iso(row[0][:26]) or ctx.fallback_time
        return self._audit("", body, ctx, ts=ts, user=row[1], db=row[2], client=row[4].replace("(", ":")
                           .rstrip(")") if row[4] else "")

    def _audit(self, prefix: str, body: str, ctx: LineContext, *, ts: float | None = None, user: str = "",
               db: str = "", client: str = "") -> list[Event]:
        try:
            fields = next(csv.reader(io.StringIO(body)))
        except (csv.Error, StopIteration):
            raise ParseError("pgaudit-parse", f"{ctx.where}: pgaudit fields do not parse as CSV") from None
        if len(fields) < 9 or fields[0] not in ("SESSION", "OBJECT") or fields[3] not in _PG_CLASSES:
            raise ParseError("pgaudit-parse", f"{ctx.where}: pgaudit record has {len(fields)} fields or an unknown "
                             "audit type/class")
        audit_type, stmt_id, sub_id, klass, command, obj_type, obj_name, statement, parameter = fields[:9]
        rows = _int_or_none(fields[9]) if len(fields) > 9 else None
        if prefix:
            user = user or _find(_PG_USER, prefix)
            db = db or _find(_PG_DB, prefix)
            at = _PG_AT.search(prefix)
            if at is not None and not user:
                user, db = at.group(1), db or at.group(2)
            client = client or _find(_PG_CLIENT, prefix)
            rm = _PG_REMOTE.search(prefix)
            if rm is not None and not client:
                client = f"{rm.group(1)}:{rm.group(2)}"
            if ts is None:
                tm = _PG_TS.search(prefix)
                if tm is not None:
                    stamp = tm.group(1) + ("+00:00" if tm.group(2) in ("UTC", "GMT", "Z") else (tm.group(2) or ""))
                    ts = parse_iso(stamp)
        if ts is None:
            ctx.counters["ts-fallback"] += 1
            ts = ctx.fallback_time
        if statement in ("<previously logged>", "<not logged>"):
            statement = ""
        extra = {"audit_type": audit_type, "audit_class": klass, "statement_id": _int_or_none(stmt_id),
                 "substatement_id": _int_or_none(sub_id), "object_type": obj_type}
        if parameter not in ("<not logged>", "<none>", "<previously logged>"):
            extra["parameters_logged"] = True
        tables = (obj_name,) if obj_name else ()
        return [db_event(ctx, fmt=self.name, ts=ts, statement=statement, user=user, client=client, database=db,
                         rows=rows, extra=extra, tables=tables, command=command)]


def _obj(rec: dict[str, Any], key: str) -> dict[str, Any]:
    v = rec.get(key)
    return v if isinstance(v, dict) else {}


def _find(rx: re.Pattern[str], text: str) -> str:
    m = rx.search(text)
    return m.group(1) if m else ""


# -- MySQL audit JSON ---------------------------------------------------------------------------------
def _json_depth(text: str) -> int:
    depth = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
    return depth


class MysqlAuditParser(_PendingRecordParser):
    """MySQL Enterprise Audit (JSON, pretty-printed or not) and Percona Audit Log (JSON)."""

    name = "mysql-audit"

    def finish(self, ctx: LineContext) -> list[Event]:
        if self._pending is not None:
            ctx.counters["mysql-audit-unterminated"] += 1
            self._pending = None
        return []

    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        text = decode_utf8(line, ctx).strip()
        if self._pending is not None:
            p = self._pending
            p["text"] += "\n" + text
            p["depth"] += _json_depth(text)
            if len(p["text"]) > self.cfg.max_line_bytes:
                self._pending = None
                raise ParseError("record-too-long", f"{ctx.where}: JSON record started at line {p['line_no']} is "
                                 f"longer than {self.cfg.max_line_bytes} bytes")
            if p["depth"] > 0:
                return []
            self._pending = None
            pctx = dataclasses.replace(ctx, offset=p["offset"], line_no=p["line_no"], head_id=p["head_id"],
                                       fallback_time=p["fallback"])
            return self._object(p["text"].rstrip().rstrip(",").rstrip("]").rstrip(), pctx)
        if text in ("[", "]", ",", "") or text.startswith("]"):
            return []
        body = text.lstrip("[").lstrip(",").lstrip()
        if not body.startswith("{"):
            raise ParseError("json-invalid", f"{ctx.where}: expected a JSON audit record")
        depth = _json_depth(body)
        if depth > 0:
            self._pending = {"text": body, "depth": depth, "offset": ctx.offset, "line_no": ctx.line_no,
                             "head_id": ctx.head_id, "fallback": ctx.fallback_time}
            return []
        return self._object(body.rstrip(",").rstrip("]").rstrip().rstrip(","), ctx)

    def _object(self, text: str, ctx: LineContext) -> list[Event] | None:
        try:
            rec = json.loads(text)
        except json.JSONDecodeError as e:
            raise ParseError("json-invalid", f"{ctx.where}: invalid JSON audit record: {e.msg}") from None
        if not isinstance(rec, dict):
            raise ParseError("field-type", f"{ctx.where}: audit record is not a JSON object")
        if isinstance(rec.get("audit_record"), dict):
            return self._percona(rec["audit_record"], ctx)
        return self._enterprise(rec, ctx)

    def _enterprise(self, rec: dict[str, Any], ctx: LineContext) -> list[Event] | None:
        gd = _obj(rec, "general_data")
        ta = _obj(rec, "table_access_data")
        query = ta.get("query") or gd.get("query")
        if not isinstance(query, str) or not query:
            return None  # connect/disconnect/audit records: not statements
        acct = _obj(rec, "account")
        login = _obj(rec, "login")
        stats = _obj(rec, "query_statistics")
        ts = parse_timestamp(rec.get("timestamp"))
        if ts is None:
            ctx.counters["ts-fallback"] += 1
            ts = ctx.fallback_time
        rows = _int_or_none(stats.get("rows_sent"))
        if rows is None:
            rows = _int_or_none(stats.get("rows_affected", rec.get("rows")))
        tables: tuple[str, ...] = ()
        if ta.get("table"):
            tables = (f"{ta.get('db')}.{ta['table']}" if ta.get("db") else str(ta["table"]),)
        extra = {"audit_class": rec.get("class", ""), "audit_event": rec.get("event", ""),
                 "connection_id": rec.get("connection_id"), "status": gd.get("status")}
        return [db_event(ctx, fmt=self.name, ts=ts, statement=query, user=str(acct.get("user") or login.get("user")
                         or ""), client=str(login.get("ip") or acct.get("host") or ""), database=str(ta.get("db", "")),
                         rows=rows, extra=extra, tables=tables, command=str(ta.get("sql_command") or
                                                                            gd.get("sql_command") or "").upper())]

    def _percona(self, r: dict[str, Any], ctx: LineContext) -> list[Event] | None:
        query = r.get("sqltext")
        if not isinstance(query, str) or not query:
            return None
        ts = parse_timestamp(r.get("timestamp"))
        if ts is None:
            ts = parse_iso(str(r.get("timestamp", "")).replace(" UTC", "+00:00"))
        if ts is None:
            ctx.counters["ts-fallback"] += 1
            ts = ctx.fallback_time
        user = str(r.get("priv_user") or str(r.get("user", "")).split("[", 1)[0] or "")
        rows = _int_or_none(r.get("rows_sent", r.get("rows")))
        extra = {"audit_event": r.get("name", ""), "connection_id": r.get("connection_id"), "status": r.get("status")}
        return [db_event(ctx, fmt=self.name, ts=ts, statement=query, user=user.strip(),
                         client=str(r.get("ip") or r.get("host") or ""), database=str(r.get("db", "")), rows=rows,
                         extra=extra, command=str(r.get("command_class", "")).upper())]


# -- generic SQL audit CSV ----------------------------------------------------------------------------
_COLUMNS: dict[str, tuple[str, ...]] = {
    "statement": ("statement", "query", "sql", "sql_text", "sqltext", "query_text"),
    "user": ("user", "username", "user_name", "db_user", "login", "account", "principal"),
    "client": ("client", "client_ip", "client_addr", "source_ip", "ip", "host", "remote_addr", "client_host"),
    "database": ("database", "db", "schema", "database_name"),
    "rows": ("rows", "row_count", "rows_affected", "rows_returned", "affected_rows", "rows_sent", "records"),
    "tables": ("tables", "table", "object_name", "objects"),
    "time": ("time", "timestamp", "event_time", "log_time", "date", "datetime", "ts"),
    "command": ("command", "action", "operation", "sql_command", "statement_type"),
    "server": ("server", "server_host", "serverhost", "instance", "db_host"),
}
_MARIADB = re.compile(r"^\d{8} \d\d:\d\d:\d\d,")
_MARIADB_COLS = ("time", "server", "user", "client", "connection_id", "query_id", "operation", "database",
                 "statement", "retcode")


class SqlAuditCsvParser(StatelessParser):
    name = "sql-audit-csv"

    def __init__(self, cfg: LogsConfig) -> None:
        super().__init__(cfg)
        self._columns: list[str] = []  # role of each column, from the header
        self._delim = ","

    def get_state(self) -> dict[str, Any]:
        return {"columns": list(self._columns), "delim": self._delim} if self._columns else {}

    def set_state(self, state: dict[str, Any]) -> None:
        self._columns = [str(c) for c in state.get("columns", [])]
        self._delim = str(state.get("delim", ","))

    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        text = decode_utf8(line, ctx)
        if _MARIADB.match(text):
            return self._mariadb(text, ctx)
        if not self._columns or (ctx.line_no == 1 and header_roles(text)):
            roles, delim = header_roles(text), _sniff_delim(text)
            if roles is None:
                raise ParseError("csv-header", f"{ctx.where}: SQL audit CSV without a header naming a statement "
                                 "column (statement, query or sql)")
            self._columns, self._delim = roles, delim
            return []
        try:
            row = next(csv.reader([text], delimiter=self._delim))
        except (csv.Error, StopIteration):
            raise ParseError("csv-invalid", f"{ctx.where}: row does not parse as CSV") from None
        if len(row) != len(self._columns):
            raise ParseError("csv-columns", f"{ctx.where}: row has {len(row)} columns, the header {len(self._columns)}")
        vals = {role: v for role, v in zip(self._columns, row, strict=True) if role}
        stmt = vals.get("statement", "")
        if not stmt:
            raise ParseError("field-missing", f"{ctx.where}: empty statement")
        ts = parse_timestamp(vals.get("time", "")) if vals.get("time") else None
        if ts is None:
            ctx.counters["ts-fallback"] += 1
            ts = ctx.fallback_time
        rows = _int_or_none(vals.get("rows"))
        tables = tuple(t.strip() for t in re.split(r"[;|,\s]+", vals.get("tables", "")) if t.strip())
        return [db_event(ctx, fmt=self.name, ts=ts, statement=stmt, user=vals.get("user", ""),
                         client=vals.get("client", ""), database=vals.get("database", ""),
                         server=vals.get("server", ""), rows=rows, tables=tables,
                         command=vals.get("command", "").upper())]

    def _mariadb(self, text: str, ctx: LineContext) -> list[Event] | None:
        try:
            row = next(csv.reader([text], quotechar="'", escapechar="\\"))
        except (csv.Error, StopIteration):
            raise ParseError("csv-invalid", f"{ctx.where}: MariaDB audit row does not parse") from None
        if len(row) < 9:
            raise ParseError("csv-columns", f"{ctx.where}: MariaDB audit row has {len(row)} columns, not >= 9")
        vals = dict(zip(_MARIADB_COLS, row, strict=False))
        if vals["operation"] not in ("QUERY", "QUERY_DDL", "QUERY_DML", "QUERY_DCL", "QUERY_DML_NO_SELECT"):
            return None  # CONNECT, DISCONNECT, TABLE records: not statements
        stamp = vals["time"]
        ts = parse_iso(f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:]}") or ctx.fallback_time
        return [db_event(ctx, fmt=self.name, ts=ts, statement=vals["statement"], user=vals["user"],
                         client=vals["client"], database=vals["database"], server=vals["server"],
                         extra={"dialect": "mariadb-server-audit", "retcode": _int_or_none(vals.get("retcode"))})]


def _sniff_delim(header: str) -> str:
    return max((",", "\t", ";", "|"), key=header.count)


def header_roles(text: str) -> list[str] | None:
    """The role of each column of a header line; None unless one column is a statement."""
    delim = _sniff_delim(text)
    try:
        names = next(csv.reader([text], delimiter=delim))
    except (csv.Error, StopIteration):
        return None
    roles: list[str] = []
    for n in names:
        key = n.strip().lower().replace(" ", "_")
        roles.append(next((role for role, syn in _COLUMNS.items() if key in syn), ""))
    return roles if "statement" in roles and len(names) >= 2 else None
