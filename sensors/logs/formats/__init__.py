"""The log formats, by name: an explicit registry (no discovery), plus auto-detection.

Adding a format = one module with a parser class (see base.LineParser) and one line here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from model.config import LogsConfig
from model.events import Event
from sensors.logs.formats.access import AccessLogParser, looks_like_access_json, looks_like_access_text
from sensors.logs.formats.auditd import AuditdParser, parse_record
from sensors.logs.formats.base import LineContext, LineParser, ParseError, StatelessParser
from sensors.logs.formats.db_audit import MysqlAuditParser, PgauditParser, SqlAuditCsvParser, header_roles
from sensors.logs.formats.evtx_file import EVTX_MAGIC, EvtxParser
from sensors.logs.formats.file_copy import FileCopyParser
from sensors.logs.formats.his_audit import HisAuditParser, load_mappings, looks_like_his_header, match_json
from sensors.logs.formats.jsonl import JsonlParser
from sensors.logs.formats.usb_kernel import UsbKernelParser, split_prefix
from sensors.logs.formats.windows import WindowsEventParser, is_windows_event

FORMATS: dict[str, Callable[[LogsConfig], LineParser]] = {
    "jsonl": JsonlParser,
    "usb-kernel": UsbKernelParser,
    "file-copy": FileCopyParser,
    "auditd": AuditdParser,
    "windows-event": WindowsEventParser,
    "evtx": EvtxParser,
    "access-log": AccessLogParser,
    "pgaudit": PgauditParser,
    "mysql-audit": MysqlAuditParser,
    "sql-audit-csv": SqlAuditCsvParser,
    "his-audit": HisAuditParser,
}

#: Lines auto-detection looks at (the first non-empty ones of a file).
DETECT_LINES = 50
UNKNOWN = "unknown"

_FILE_COPY_KEYS = frozenset({"dest_path", "path", "device"})
_KERNELISH = re.compile(
    r"^(?:usb |usb-storage |scsi |sd |xhci_hcd |ehci-pci |KERNEL\s*\[|UDEV\s*\[)"
)
_PGAUDIT = re.compile(r"AUDIT: (?:SESSION|OBJECT),\d+,\d+,")
_MARIADB_AUDIT = re.compile(r"^\d{8} \d\d:\d\d:\d\d,")
_MYSQL_KEYS = frozenset({'"class"', '"general_data"', '"account"', '"login"', '"connection_id"',
                         '"table_access_data"', '"connection_data"', '"audit_record"'})
#: A line of another program in a syslog file: evidence for nothing but "a syslog file".
_WEAK = 0.25


def detect_format(lines: Sequence[bytes]) -> str:
    """The format of a file from its first non-empty lines (each line votes; the most votes win).

    EVTX magic -> "evtx". JSON objects: exported Windows events -> "windows-event"; file-copy keys
    -> "file-copy"; MySQL/Percona audit records -> "mysql-audit"; keys of a HIS audit mapping ->
    "his-audit"; method + target + status -> "access-log"; other objects -> "jsonl". Text: auditd
    records -> "auditd"; pgaudit lines -> "pgaudit"; common/combined -> "access-log"; a CSV header
    matching a HIS mapping -> "his-audit", naming a statement column (or MariaDB audit rows) ->
    "sql-audit-csv"; kernel/udev lines -> "usb-kernel" (other programs' syslog lines count a
    quarter). Anything else -> "unknown" (the sensor dead-letters such lines with reason
    "format-unknown" rather than guess).
    """
    nonblank = [ln for ln in lines if ln.strip()]
    if nonblank and nonblank[0].startswith(EVTX_MAGIC):
        return "evtx"
    votes: dict[str, float] = dict.fromkeys(FORMATS, 0.0)
    for raw in nonblank[:DETECT_LINES]:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:  # Chinese hospital exports are often GBK (GB18030 is its superset)
            text = raw.decode("gb18030", "replace")
        name, weight = _vote(text.lstrip("\ufeff").strip(), raw)
        if name:
            votes[name] += weight
    best = max(votes, key=lambda k: votes[k])
    if votes[best] == 0:
        return UNKNOWN
    return best


def _vote(text: str, raw: bytes) -> tuple[str, float]:
    if text.startswith("{"):
        try:
            rec = json.loads(text)
        except ValueError:
            return ("mysql-audit", 0.5) if text == "{" else ("", 0)
        if not isinstance(rec, dict):
            return "", 0
        return json_format(rec), 1
    if text in ("[", "[{", "},", "}", "{"):
        return "mysql-audit", 0.1
    if text.startswith('"') and text.split(":", 1)[0] in _MYSQL_KEYS:
        return "mysql-audit", 0.5
    if "audit(" in text and "type=" in text:
        try:
            if parse_record(text) is not None:
                return "auditd", 1
        except ValueError:
            pass
    if "AUDIT: " in text and _PGAUDIT.search(text):
        return "pgaudit", 2
    if looks_like_access_text(raw.strip()):
        return "access-log", 1
    if _MARIADB_AUDIT.match(text):
        return "sql-audit-csv", 1
    if ("," in text or "\t" in text) and not text.startswith(("<", "[")):
        if looks_like_his_header(text, load_mappings()):
            return "his-audit", 3
        if header_roles(text) is not None:
            return "sql-audit-csv", 3
    pre = split_prefix(text, 0.0)
    if pre is None:  # a syslog line of another program: still a syslog file
        return "usb-kernel", _WEAK
    if pre.msg != text or _KERNELISH.match(text):
        return "usb-kernel", 1
    return "", 0


def json_format(rec: dict[str, object]) -> str:
    """The format a JSON object belongs to (also used by the syslog receiver for JSON messages)."""
    if is_windows_event(rec):
        return "windows-event"
    if _FILE_COPY_KEYS <= rec.keys():
        return "file-copy"
    if isinstance(rec.get("audit_record"), dict) or (
            "class" in rec and ("account" in rec or "general_data" in rec or "login" in rec)):
        return "mysql-audit"
    if match_json(rec, load_mappings()) is not None:
        return "his-audit"
    if looks_like_access_json(rec):
        return "access-log"
    return "jsonl"


class UnknownFormatParser(StatelessParser):
    """A file whose format could not be detected: every line is kept as a dead letter."""

    name = UNKNOWN

    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        raise ParseError(
            "format-unknown",
            f"{ctx.where}: the file's format was not recognised; set logs.format to one of "
            f"{', '.join(FORMATS)}",
        )


def make_parser(name: str, cfg: LogsConfig) -> LineParser:
    if name == UNKNOWN:
        return UnknownFormatParser(cfg)
    try:
        factory = FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown log format {name!r}; known: {', '.join(FORMATS)}") from None
    return factory(cfg)


__all__ = ["FORMATS", "UNKNOWN", "LineContext", "LineParser", "ParseError", "detect_format", "json_format",
           "make_parser"]
