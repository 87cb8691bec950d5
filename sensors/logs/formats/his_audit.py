"""Hospital-system audit exports (HIS, EMR, PACS, LIS) turned into events by a YAML mapping.

Every hospital system writes its access audit in its own columns, often with Chinese headers
and GBK encoding, but they all say the same things: *who* (staff id, name, department, title),
*which patient*, *what action* (view, print, export, download ...), *how many records*, from
*which terminal*. A mapping file says where each of these is in one export format; the parser
then turns any CSV (with a header) or JSON-lines export into events on channel ``his-audit``,
so the policy can count distinct patients per user (bulk browsing, §11.1 anomaly detection) and
flag exports/downloads, and the detectors can read the columns that carry personal data.

Mappings: the bundled ones (``his_mappings/*.yaml``, designed from GB/T 39725-2020 §11.1 doctor
access and §11.2 patient online query) plus ``LogsConfig.his_mappings``. A CSV file is matched by
its header (every ``match`` column present), a JSON line by its keys; ``LogsConfig.his_mapping``
forces one. Mapping errors are ConfigErrors with file:line. Schema: docs/formats/his-audit.md.
"""

from __future__ import annotations

import csv
import functools
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from model.config import LogsConfig
from model.events import Endpoint, Event
from model.yamlsrc import ConfigError, ConfigIssue, LineDict, load_yaml_file, unknown_key_message, where
from sensors.logs.formats.base import LineContext, ParseError, StatelessParser
from sensors.logs.formats.timeparse import parse_timestamp

CHANNEL = "his-audit"
BUNDLED_DIR = Path(__file__).resolve().parent / "his_mappings"
ACTIONS = ("view", "query", "print", "export", "download", "copy", "modify", "delete", "login", "other")
#: Actions by which data leaves the system (a copy the hospital no longer controls).
EXPORT_ACTIONS = frozenset({"print", "export", "download", "copy"})
_FIELD_ROLES = ("time", "user", "user_name", "department", "role", "client", "patient_id", "patient_name",
                "action", "records", "resource", "level", "system", "terminal", "reason")
_TOP_KEYS = ("name", "title", "system", "input", "match", "fields", "time_format", "timezone", "actions",
             "default_action", "content", "attributes", "description")
_INPUT_KEYS = ("type", "delimiter", "encoding")
_MAX_PATIENTS = 100


@dataclass(frozen=True)
class Mapping:
    name: str
    title: str
    system: str
    input_type: str  # csv | json
    delimiter: str
    encoding: str
    match: tuple[str, ...]
    fields: dict[str, tuple[str, ...]]  # role -> column(s)/key(s)
    time_format: str
    tz: timezone | None
    actions: dict[str, str]
    default_action: str
    content: tuple[str, ...]
    attributes: dict[str, AttrSpec]  # column -> attribute
    source: str = field(default="", compare=False)


ATTR_TYPES = ("str", "bool", "list")
_ATTR_KEYS = ("name", "type", "values")
_TRUE, _FALSE = frozenset({"true", "yes", "1", "y"}), frozenset({"false", "no", "0", "n"})
#: Separators of several values in one cell (the CSV delimiter itself only inside quotes).
_LIST_SEPARATORS = (";", "；", "、", "|", ",", "，")


@dataclass(frozen=True)
class AttrSpec:
    """One mapped column: the attribute it becomes, its type, and a translation of its values.

    Why typed: the policy reads ``care_team`` as a boolean and ``patient_labels`` as a list of
    label codes (``special-disease``...), while an EMR export says 是/否 and 特殊病种;VIP. The
    ``values`` table (case-insensitive) turns the site's words into the policy's.
    """

    name: str
    type: str = "str"  # str | bool | list
    values: dict[str, Any] = field(default_factory=dict)  # log value (lower-cased) -> value

    def convert(self, raw: Any, counters: Any) -> Any:
        """The attribute value, or None (attribute left out) for an empty or unusable cell."""
        if isinstance(raw, bool | int | float) and self.type == "str" and not self.values:
            return raw
        if isinstance(raw, list) and self.type == "list":
            items = [str(i).strip() for i in raw]
        else:
            text = str(raw).strip()
            if self.type == "list":
                for sep in _LIST_SEPARATORS[1:]:
                    text = text.replace(sep, _LIST_SEPARATORS[0])
                items = [i.strip() for i in text.split(_LIST_SEPARATORS[0])]
            else:
                items = [text]
        out: list[Any] = []
        for item in (i for i in items if i):
            key = item.lower()
            if key in self.values:
                out.append(self.values[key])
            elif self.type == "bool" and key in _TRUE | _FALSE:
                out.append(key in _TRUE)
            else:
                if self.values or self.type == "bool":
                    counters["his-value-unmapped"] += 1
                if self.type == "bool":
                    continue
                out.append(item[:256])
        if not out:
            return None
        if self.type == "list":
            return list(dict.fromkeys(str(v) for v in out))[:_MAX_PATIENTS]
        return out[0] if self.type == "bool" else str(out[0])[:256]


def _attr_spec(col: str, node: Any, issues: list[ConfigIssue], parent: Any) -> AttrSpec | None:
    """``column: name`` or ``column: {name: ..., type: str|bool|list, values: {log value: value}}``."""
    if isinstance(node, str):
        node = {"name": node}
        loc: Any = parent
        key: Any = col
    elif isinstance(node, dict):
        loc, key = node, "name"
        for k in node:
            if k not in _ATTR_KEYS:
                issues.append(ConfigIssue(where(node, k), unknown_key_message(k, _ATTR_KEYS)))
    else:
        issues.append(ConfigIssue(where(parent, col), f"attribute for {col!r} must be a name or a mapping "
                                  "{name, type, values}"))
        return None
    name, atype, values = node.get("name"), node.get("type", "str"), node.get("values", {})
    ok = True
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        issues.append(ConfigIssue(where(loc, key), f"attribute name for {col!r} must be an identifier"))
        ok = False
    if atype not in ATTR_TYPES:
        issues.append(ConfigIssue(where(node, "type"), f"attribute type for {col!r} must be one of "
                                  f"{', '.join(ATTR_TYPES)}, not {atype!r}"))
        ok = False
    if not isinstance(values, dict):
        issues.append(ConfigIssue(where(node, "values"), f"values for {col!r} must map log values to values"))
        return None
    table: dict[str, Any] = {}
    for raw, v in values.items():
        if atype == "bool" and not isinstance(v, bool):
            issues.append(ConfigIssue(where(values, raw), f"value for {raw!r} must be true or false ({col!r} is a "
                                      "bool)"))
            ok = False
        elif not isinstance(v, bool | str | int):
            issues.append(ConfigIssue(where(values, raw), f"value for {raw!r} must be a string"))
            ok = False
        table[str(raw).strip().lower()] = v
    return AttrSpec(str(name), str(atype), table) if ok else None


def _str_list(node: Any, key: str, issues: list[ConfigIssue], *, allow_str: bool = True) -> tuple[str, ...]:
    v = node.get(key)
    if isinstance(v, str) and allow_str:
        return (v,)
    if isinstance(v, list) and v and all(isinstance(i, (str, int)) for i in v):
        return tuple(str(i) for i in v)
    issues.append(ConfigIssue(where(node, key), f"{key!r} must be a column name or a non-empty list of names"))
    return ()


def _parse_tz(text: str) -> timezone | None:
    sign = -1 if text.startswith("-") else 1
    hh, _, mm = text.lstrip("+-").partition(":")
    if not hh.isdigit() or (mm and not mm.isdigit()):
        raise ValueError(text)
    return timezone(sign * timedelta(hours=int(hh), minutes=int(mm or 0)))


def parse_mapping(doc: Any, source: str) -> Mapping:
    """Validate one mapping document; every problem is reported with file:line."""
    issues: list[ConfigIssue] = []
    if not isinstance(doc, LineDict):
        raise ConfigError([ConfigIssue(f"{source}:1", "a HIS audit mapping must be a mapping")])
    for k in doc:
        if k not in _TOP_KEYS:
            issues.append(ConfigIssue(doc.where(k), unknown_key_message(k, _TOP_KEYS)))
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        issues.append(ConfigIssue(doc.where("name" if "name" in doc else None), "'name' (a non-empty string) is "
                                  "required"))
        name = ""
    inp = doc.get("input", {})
    if not isinstance(inp, dict):
        issues.append(ConfigIssue(doc.where("input"), "'input' must be a mapping"))
        inp = {}
    for k in inp:
        if k not in _INPUT_KEYS:
            issues.append(ConfigIssue(where(inp, k), unknown_key_message(k, _INPUT_KEYS)))
    itype = inp.get("type", "csv")
    if itype not in ("csv", "json"):
        issues.append(ConfigIssue(where(inp, "type"), f"input.type must be csv or json, not {itype!r}"))
    delim = inp.get("delimiter", ",")
    if not isinstance(delim, str) or len(delim) != 1:
        issues.append(ConfigIssue(where(inp, "delimiter"), "input.delimiter must be one character"))
        delim = ","
    enc = inp.get("encoding", "auto")
    try:
        if enc != "auto":
            "".encode(str(enc))
    except LookupError:
        issues.append(ConfigIssue(where(inp, "encoding"), f"unknown encoding {enc!r} (auto, utf-8, gb18030, ...)"))
        enc = "auto"
    match = _str_list(doc, "match", issues, allow_str=False) if "match" in doc else ()
    if not match:
        if "match" not in doc:
            issues.append(ConfigIssue(doc.where(None), "'match' (the columns or keys that identify this export) "
                                      "is required"))
    fields_node = doc.get("fields")
    fields: dict[str, tuple[str, ...]] = {}
    if not isinstance(fields_node, dict):
        issues.append(ConfigIssue(doc.where("fields" if "fields" in doc else None), "'fields' mapping is required"))
    else:
        for role in fields_node:
            if role not in _FIELD_ROLES:
                issues.append(ConfigIssue(where(fields_node, role), unknown_key_message(role, _FIELD_ROLES)))
                continue
            cols = _str_list(fields_node, role, issues)
            if cols:
                fields[role] = cols
        for required in ("user", "patient_id"):
            if required not in fields and isinstance(fields_node, dict):
                issues.append(ConfigIssue(where(fields_node), f"fields.{required} is required"))
    actions_node = doc.get("actions", {})
    actions: dict[str, str] = {}
    if not isinstance(actions_node, dict):
        issues.append(ConfigIssue(doc.where("actions"), "'actions' must map log values to actions"))
    else:
        for raw, act in actions_node.items():
            if act not in ACTIONS:
                issues.append(ConfigIssue(where(actions_node, raw), f"action {act!r} for {raw!r} must be one of "
                                          f"{', '.join(ACTIONS)}"))
            else:
                actions[str(raw).strip().lower()] = str(act)
    default_action = doc.get("default_action", "other")
    if default_action not in ACTIONS:
        issues.append(ConfigIssue(doc.where("default_action"), f"default_action must be one of {', '.join(ACTIONS)}"))
    tz: timezone | None = None
    if "timezone" in doc:
        try:
            tz = _parse_tz(str(doc["timezone"]))
        except ValueError:
            issues.append(ConfigIssue(doc.where("timezone"), "timezone must look like +08:00"))
    time_format = doc.get("time_format", "")
    if not isinstance(time_format, str):
        issues.append(ConfigIssue(doc.where("time_format"), "time_format must be a strptime format string"))
        time_format = ""
    content = _str_list(doc, "content", issues) if "content" in doc else ()
    attrs_node = doc.get("attributes", {})
    attributes: dict[str, AttrSpec] = {}
    if not isinstance(attrs_node, dict):
        issues.append(ConfigIssue(doc.where("attributes"), "'attributes' must map columns to attribute names"))
    else:
        for col, attr in attrs_node.items():
            spec = _attr_spec(str(col), attr, issues, attrs_node)
            if spec is not None:
                attributes[str(col)] = spec
    if issues:
        raise ConfigError(issues)
    return Mapping(name=str(name), title=str(doc.get("title", name)), system=str(doc.get("system", "")),
                   input_type=str(itype), delimiter=delim, encoding=str(enc), match=match, fields=fields,
                   time_format=time_format, tz=tz, actions=actions, default_action=str(default_action),
                   content=content, attributes=attributes, source=source)


def _mapping_files(paths: tuple[str, ...]) -> list[Path]:
    files = sorted(BUNDLED_DIR.glob("*.yaml"))
    for p in paths:
        pp = Path(os.path.expanduser(p))
        files += sorted(pp.glob("*.yaml")) + sorted(pp.glob("*.yml")) if pp.is_dir() else [pp]
    return files


@functools.lru_cache(maxsize=16)
def load_mappings(paths: tuple[str, ...] = ()) -> tuple[Mapping, ...]:
    """Bundled mappings plus ``paths``; all errors of all files at once; names must be unique."""
    issues: list[ConfigIssue] = []
    out: dict[str, Mapping] = {}
    for f in _mapping_files(paths):
        try:
            m = parse_mapping(load_yaml_file(f), str(f))
        except ConfigError as e:
            issues.extend(e.issues)
            continue
        if m.name in out:
            issues.append(ConfigIssue(f"{f}:1", f"mapping name {m.name!r} is already used by {out[m.name].source}"))
            continue
        out[m.name] = m
    if issues:
        raise ConfigError(issues)
    return tuple(out.values())


def _get(rec: dict[str, Any], key: str) -> Any:
    if key in rec:
        return rec[key]
    cur: Any = rec
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _has(rec: dict[str, Any], key: str) -> bool:
    return _get(rec, key) is not None


def match_header(header: list[str], mappings: tuple[Mapping, ...]) -> Mapping | None:
    cols = {h.strip().lstrip("\ufeff") for h in header}
    best = [m for m in mappings if m.input_type == "csv" and set(m.match) <= cols]
    return max(best, key=lambda m: len(m.match)) if best else None


def match_json(rec: dict[str, Any], mappings: tuple[Mapping, ...]) -> Mapping | None:
    best = [m for m in mappings if m.input_type == "json" and all(_has(rec, k) for k in m.match)]
    return max(best, key=lambda m: len(m.match)) if best else None


class HisAuditParser(StatelessParser):
    name = "his-audit"

    def __init__(self, cfg: LogsConfig) -> None:
        super().__init__(cfg)
        self.mappings = load_mappings(tuple(cfg.his_mappings))
        self._forced = next((m for m in self.mappings if m.name == cfg.his_mapping), None) if cfg.his_mapping else None
        if cfg.his_mapping and self._forced is None:
            raise ConfigError([ConfigIssue("logs.his_mapping:0", f"no HIS audit mapping named {cfg.his_mapping!r}; "
                                           f"known: {', '.join(m.name for m in self.mappings)}")])
        self._mapping: Mapping | None = None  # of this CSV file, from its header
        self._header: list[str] = []

    def get_state(self) -> dict[str, Any]:
        return {"mapping": self._mapping.name, "header": self._header} if self._mapping else {}

    def set_state(self, state: dict[str, Any]) -> None:
        name = state.get("mapping")
        self._mapping = next((m for m in self.mappings if m.name == name), None)
        self._header = [str(h) for h in state.get("header", [])]

    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        if line.lstrip()[:1] == b"{":
            return self._json(line, ctx)
        mapping = self._mapping
        if mapping is None:
            text = _decode(line, self._forced.encoding if self._forced else "auto", ctx)
            delim = (self._forced.delimiter if self._forced else max((",", "\t", ";", "|"), key=text.count))
            header = next(csv.reader([text], delimiter=delim))
            found = self._forced if self._forced and self._forced.input_type == "csv" else match_header(
                header, self.mappings)
            if found is None or not set(found.match) <= {h.strip().lstrip("\ufeff") for h in header}:
                raise ParseError("mapping-unmatched", f"{ctx.where}: no HIS audit mapping matches this header "
                                 f"({len(header)} columns); add one to logs.his_mappings")
            self._mapping, self._header = found, [h.strip().lstrip("\ufeff") for h in header]
            return []
        text = _decode(line, mapping.encoding, ctx)
        try:
            row = next(csv.reader([text], delimiter=mapping.delimiter))
        except (csv.Error, StopIteration):
            raise ParseError("csv-invalid", f"{ctx.where}: row does not parse as CSV") from None
        if len(row) != len(self._header):
            raise ParseError("csv-columns", f"{ctx.where}: row has {len(row)} columns, the header {len(self._header)}")
        return [self._event(mapping, dict(zip(self._header, row, strict=True)), ctx)]

    def _json(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        text = _decode(line, "utf-8", ctx)
        try:
            rec = json.loads(text)
        except json.JSONDecodeError as e:
            raise ParseError("json-invalid", f"{ctx.where}: invalid JSON: {e.msg} at column {e.colno}") from None
        if not isinstance(rec, dict):
            raise ParseError("field-type", f"{ctx.where}: record is not a JSON object")
        mapping = self._forced if self._forced and self._forced.input_type == "json" else match_json(rec, self.mappings)
        if mapping is None:
            raise ParseError("mapping-unmatched", f"{ctx.where}: no HIS audit mapping matches this record's keys")
        return [self._event(mapping, rec, ctx)]

    def _event(self, m: Mapping, rec: dict[str, Any], ctx: LineContext) -> Event:
        def val(role: str) -> str:
            for key in m.fields.get(role, ()):
                v = _get(rec, key)
                if v is not None and not isinstance(v, (dict, list)) and str(v).strip() != "":
                    return str(v).strip()
            return ""

        user = val("user")
        if not user:
            raise ParseError("field-missing", f"{ctx.where}: mapping {m.name}: the user column is empty")
        patients: list[str] = []
        for key in m.fields.get("patient_id", ()):
            v = _get(rec, key)
            items = v if isinstance(v, list) else [v] if v is not None else []
            for item in items:
                for one in str(item).replace(";", ",").split(","):
                    one = one.strip()
                    if one and one not in patients:
                        patients.append(one)
        raw_action = val("action")
        action = m.actions.get(raw_action.lower(), raw_action.lower() if raw_action.lower() in ACTIONS
                               else m.default_action) if raw_action else m.default_action
        if raw_action and raw_action.lower() not in m.actions and raw_action.lower() not in ACTIONS:
            ctx.counters["his-action-unmapped"] += 1
        records_raw = val("records")
        if records_raw and not records_raw.isdigit():
            raise ParseError("field-value", f"{ctx.where}: mapping {m.name}: record count {records_raw[:20]!r} is not "
                             "a non-negative integer")
        records = int(records_raw) if records_raw else max(1, len(patients))
        ts = self._time(m, val("time"), ctx)
        attrs: dict[str, Any] = ctx.log_attributes()
        attrs.update(format=self.name, mapping=m.name, system=val("system") or m.system, action=action,
                     export=action in EXPORT_ACTIONS, records=records,
                     records_source="log" if records_raw else "rows")
        if raw_action:
            attrs["action_raw"] = raw_action[:64]
        if patients:
            attrs["patient_ids"] = patients[:_MAX_PATIENTS]
        for role in ("user_name", "department", "role", "resource", "level", "terminal", "reason"):
            v = val(role)
            if v:
                attrs[role] = v[:256]
        for col, spec in m.attributes.items():
            v = _get(rec, col)
            if v is not None and not isinstance(v, dict) and (spec.type == "list" or not isinstance(v, list)):
                converted = spec.convert(v, ctx.counters)
                if converted is not None:
                    attrs[spec.name] = converted
        client = val("client")
        if client:
            attrs["client"] = client
        lines = [f"patient_id={p}" for p in patients[:_MAX_PATIENTS]]
        name = val("patient_name")
        if name:
            lines.append(f"患者姓名: {name}")
        for col in m.content:
            v = _get(rec, col)
            if v is not None and str(v) != "":
                lines.append(f"{col}: {v}")
        content = "\n".join(lines).encode("utf-8", "surrogatepass")
        return Event(
            event_id=ctx.event_id(),
            sensor_id=ctx.sensor_id,
            observed_at=ts,
            source_kind="log",
            channel=CHANNEL,
            src=Endpoint(client) if client else None,
            dst=Endpoint(val("system") or m.system or m.name),
            actor=user,
            content=content,
            content_type="text/plain",
            size=len(content),
            attributes=attrs,
        )

    def _time(self, m: Mapping, raw: str, ctx: LineContext) -> float:
        ts: float | None = None
        if raw:
            if m.time_format:
                try:
                    dt = datetime.strptime(raw, m.time_format)
                    if dt.tzinfo is None and m.tz is not None:
                        dt = dt.replace(tzinfo=m.tz)
                    ts = dt.timestamp()
                except ValueError:
                    ts = None
            else:
                ts = parse_timestamp(raw)
                if ts is not None and m.tz is not None and _lacks_zone(raw):
                    dt = datetime.fromisoformat(raw.replace(" ", "T", 1)).replace(tzinfo=m.tz)
                    ts = dt.timestamp()
            if ts is None:
                raise ParseError("field-value", f"{ctx.where}: mapping {m.name}: time {raw[:40]!r} does not parse")
        if ts is None:
            ctx.counters["ts-fallback"] += 1
            ts = ctx.fallback_time
        return ts


def _lacks_zone(raw: str) -> bool:
    if raw.replace(".", "", 1).isdigit():
        return False
    tail = raw[10:]
    return not (raw.endswith(("Z", "z")) or "+" in tail or "-" in tail)


def _decode(line: bytes, enc: str, ctx: LineContext) -> str:
    """``auto``: UTF-8, else GB18030 (a superset of GBK, which Chinese HIS exports often use)."""
    if enc == "auto":
        try:
            return line.decode("utf-8").lstrip("\ufeff")
        except UnicodeDecodeError:
            enc = "gb18030"
    try:
        return line.decode(enc).lstrip("\ufeff")
    except UnicodeDecodeError as e:
        raise ParseError("encoding", f"{ctx.where}: not {enc} ({e.reason} at byte {e.start})") from None


def looks_like_his_header(text: str, mappings: tuple[Mapping, ...]) -> bool:
    delim = max((",", "\t", ";", "|"), key=text.count)
    try:
        header = next(csv.reader([text], delimiter=delim))
    except (csv.Error, StopIteration):
        return False
    return match_header(header, mappings) is not None

