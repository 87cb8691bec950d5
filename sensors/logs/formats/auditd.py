"""Linux audit (auditd) records: file writes under removable mounts, and USB devices (usbguard).

The kernel reports one system call as several records that share an event id, the
``audit(<epoch>:<serial>)`` stamp: SYSCALL (who, which call, success), CWD, one PATH per file
name involved (with its ``nametype``: CREATE, NORMAL, PARENT, DELETE), PROCTITLE, and finally
EOE. The parser correlates records by serial, and when a group is complete (EOE, or a newer
record two seconds later for kernels that emit none, or end of input) it decides whether it was
a *write* of a file under a removable mount point (``LogsConfig.removable_paths``): then one
event per file, with the user (``auid``, the login uid, which survives ``sudo``), the program,
the file's size and, when the sensor can read the file, a bounded sample for the detectors.

Accepted shapes: ``/var/log/audit/audit.log`` (raw and ``log_format=ENRICHED``, whose
``\\x1d``-separated tail carries names such as ``AUID="alice" SYSCALL=openat``), records
forwarded through syslog (``audispd:``/``audit:`` prefixes, ``node=`` prefixes), and the kernel's
own ``audit: type=1400 audit(...)`` lines. Untrusted strings (``name``, ``exe``, ``cwd`` ...)
are decoded from auditd's hex encoding. USB: ``USER_DEVICE`` records written by usbguard
(``op=insert``/``remove``, ``device_rule`` with ``id VVVV:PPPP serial "..." name "..."``).
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from typing import Any

from model.config import LogsConfig
from model.events import Endpoint, Event
from sensors.logs.formats.base import LineContext, ParseError, StatelessParser
from sensors.logs.formats.sampling import is_removable, mount_point, record_attributes, sample_file

_HEADER = re.compile(
    r"(?:node=(?P<node>\S+) )?type=(?P<type>[A-Z_0-9]+) (?:msg=)?audit\((?P<ts>\d+(?:\.\d+)?):(?P<serial>\d+)\):?\s?"
)
_KV = re.compile(r"""([A-Za-z_][\w-]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)""")
_HEX = re.compile(r"^(?:[0-9A-F]{2})+$")
#: Fields auditd writes with audit_log_untrustedstring: quoted if printable, else hex.
_UNTRUSTED = frozenset({"name", "cwd", "exe", "comm", "proctitle", "path", "key", "data", "acct", "cmd",
                        "old-chardev", "new-chardev", "vm", "device", "device_rule", "hostname", "terminal"})
_KERNEL_TYPE_NAMES = {"1300": "SYSCALL", "1302": "PATH", "1307": "CWD", "1320": "EOE", "1327": "PROCTITLE",
                      "1309": "EXECVE", "1306": "SOCKADDR", "1400": "AVC", "1326": "SECCOMP"}
#: Record types that belong to a kernel syscall event (wait for EOE); the others stand alone.
_GROUPED = frozenset({"SYSCALL", "PATH", "CWD", "PROCTITLE", "EXECVE", "SOCKADDR", "FD_PAIR", "MMAP", "BPRM_FCAPS",
                      "CAPSET", "IPC", "MQ_OPEN", "NETFILTER_CFG", "OBJ_PID", "KERN_MODULE", "URINGOP"})
#: Syscalls that write a file, by architecture (audit arch constant) -> number -> name.
_SYSCALLS: dict[str, dict[str, str]] = {
    "c000003e": {"2": "open", "257": "openat", "437": "openat2", "85": "creat", "82": "rename", "264": "renameat",
                 "316": "renameat2", "86": "link", "265": "linkat", "76": "truncate", "77": "ftruncate",
                 "1": "write", "18": "pwrite64", "20": "writev", "3": "close", "40": "sendfile",
                 "326": "copy_file_range", "88": "symlink", "266": "symlinkat", "90": "chmod", "268": "fchmodat"},
    "c00000b7": {"56": "openat", "437": "openat2", "38": "renameat", "276": "renameat2", "37": "linkat",
                 "45": "truncate", "46": "ftruncate", "64": "write", "68": "pwrite64", "71": "sendfile",
                 "285": "copy_file_range", "57": "close"},
    "40000003": {"5": "open", "295": "openat", "8": "creat", "38": "rename", "302": "renameat", "353": "renameat2",
                 "9": "link", "303": "linkat", "92": "truncate", "4": "write", "6": "close"},
}
_ARCH_NAMES = {"x86_64": "c000003e", "aarch64": "c00000b7", "i386": "40000003", "i686": "40000003"}
_WRITES = frozenset({"creat", "rename", "renameat", "renameat2", "link", "linkat", "truncate", "ftruncate",
                     "write", "pwrite64", "writev", "sendfile", "copy_file_range", "close"})
_OPENS = frozenset({"open", "openat", "openat2"})
_O_WRITE_MASK = 0o1 | 0o2 | 0o100 | 0o1000  # O_WRONLY | O_RDWR | O_CREAT | O_TRUNC
_UNSET = "4294967295"
#: A group without EOE is complete once a record this much newer (seconds) arrives.
GROUP_TIMEOUT = 2.0


@dataclasses.dataclass(slots=True)
class AuditRecord:
    type: str
    ts: float
    serial: int
    fields: dict[str, str]
    enriched: dict[str, str]
    node: str = ""


def parse_record(text: str) -> AuditRecord | None:
    """One audit record line; None when the line is not an audit record at all.

    Raises ValueError for a line that has the audit shape (``type=`` and ``audit(``) but does
    not parse."""
    m = _HEADER.search(text)
    if m is None:
        if "type=" in text and "audit(" in text:
            raise ValueError("audit record header does not parse")
        return None
    body = text[m.end():]
    enriched_text = ""
    if "\x1d" in body:
        body, _, enriched_text = body.partition("\x1d")
    fields = _parse_fields(body)
    enriched = {k: _unquote(v) for k, v in _KV.findall(enriched_text)} if enriched_text else {}
    rtype = m["type"]
    if rtype.isdigit():
        rtype = _KERNEL_TYPE_NAMES.get(rtype, rtype)
    return AuditRecord(rtype, float(m["ts"]), int(m["serial"]), fields, enriched, m["node"] or "")


def _parse_fields(body: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, raw in _KV.findall(body):
        if key == "msg" and raw.startswith("'"):
            for k2, v2 in _KV.findall(raw[1:-1]):  # user-space records nest their fields in msg='...'
                out.setdefault(k2, _value(k2, v2))
            continue
        out[key] = _value(key, raw)
    return out


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        inner = raw[1:-1]
        return inner.replace('\\"', '"') if raw[0] == '"' and "\\" in inner else inner
    return raw


def _value(key: str, raw: str) -> str:
    if raw[:1] in "\"'":
        return _unquote(raw)
    if key in _UNTRUSTED and raw != "(null)" and _HEX.match(raw):
        return bytes.fromhex(raw).decode("utf-8", "replace").replace("\x00", " ").strip()
    return raw


def syscall_name(rec: AuditRecord) -> str:
    if rec.enriched.get("SYSCALL"):
        return rec.enriched["SYSCALL"]
    nr = rec.fields.get("syscall", "")
    if not nr.isdigit():
        return nr  # already interpreted (ausearch -i)
    arch = rec.fields.get("arch", "")
    arch = _ARCH_NAMES.get(arch, arch)
    return _SYSCALLS.get(arch, {}).get(nr, nr)


def _is_write(call: str, sc: AuditRecord, paths: list[AuditRecord]) -> bool:
    if any(p.fields.get("nametype") == "CREATE" for p in paths):
        return True
    if call in _WRITES:
        return True
    if call in _OPENS:
        arg = sc.fields.get("a2" if call != "open" else "a1", "")
        try:
            return bool(int(arg, 16) & _O_WRITE_MASK)
        except ValueError:
            return False
    return False


class AuditdParser(StatelessParser):
    name = "auditd"

    def __init__(self, cfg: LogsConfig) -> None:
        super().__init__(cfg)
        self._groups: dict[str, dict[str, Any]] = {}  # serial -> {"ctx": ..., "recs": [...], "ts": float}

    def get_state(self) -> dict[str, Any]:
        return {"groups": {k: {"ctx": g["ctx"], "ts": g["ts"], "lines": list(g["lines"])}
                           for k, g in self._groups.items()}}

    def set_state(self, state: dict[str, Any]) -> None:
        self._groups = {}
        for k, g in dict(state.get("groups", {})).items():
            self._groups[str(k)] = {"ctx": dict(g["ctx"]), "ts": float(g["ts"]), "lines": list(g["lines"])}

    def finish(self, ctx: LineContext) -> list[Event]:
        out: list[Event] = []
        for key in list(self._groups):
            out += self._complete(key, ctx)
        return out

    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            if b"audit(" in line:
                raise ParseError("encoding", f"{ctx.where}: audit record is not UTF-8 ({e.reason} at byte "
                                 f"{e.start})") from None
            return None
        try:
            rec = parse_record(text)
        except ValueError as e:
            raise ParseError("audit-parse", f"{ctx.where}: {e}") from None
        if rec is None:
            return None
        ctx.counters["audit-records"] += 1
        out = self._expire(rec.ts, ctx)
        key = str(rec.serial)
        if rec.type == "EOE":
            if key in self._groups:
                self._groups[key]["lines"].append(text)
            return out + self._complete(key, ctx)
        if rec.type in _GROUPED:
            group = self._groups.get(key)
            if group is None:
                if len(self._groups) >= self.cfg.max_pending_records:
                    oldest = min(self._groups, key=lambda k: self._groups[k]["ts"])
                    ctx.counters["audit-groups-evicted"] += 1
                    out += self._complete(oldest, ctx)
                group = self._groups[key] = {
                    "ctx": {"offset": ctx.offset, "line_no": ctx.line_no, "head_id": ctx.head_id,
                            "fallback": ctx.fallback_time},
                    "ts": rec.ts, "lines": []}
            group["lines"].append(text)
            return out
        if rec.type == "USER_DEVICE":
            return out + self._usb_device(rec, ctx)
        return out

    # -- groups ---------------------------------------------------------------------------------
    def _expire(self, now: float, ctx: LineContext) -> list[Event]:
        out: list[Event] = []
        if not self._groups:
            return out
        for key in [k for k, g in self._groups.items() if g["ts"] < now - GROUP_TIMEOUT]:
            ctx.counters["audit-groups-without-eoe"] += 1
            out += self._complete(key, ctx)
        return out

    def _complete(self, key: str, ctx: LineContext) -> list[Event]:
        group = self._groups.pop(key, None)
        if group is None:
            return []
        recs = [r for r in (parse_record(t) for t in group["lines"]) if r is not None]
        gctx = dataclasses.replace(ctx, offset=group["ctx"]["offset"], line_no=group["ctx"]["line_no"],
                                   head_id=group["ctx"]["head_id"], fallback_time=group["ctx"]["fallback"])
        return self._file_writes(recs, gctx)

    def _file_writes(self, recs: list[AuditRecord], ctx: LineContext) -> list[Event]:
        sc = next((r for r in recs if r.type == "SYSCALL"), None)
        if sc is None:
            return []
        if sc.fields.get("success") == "no":
            ctx.counters["audit-failed-syscalls"] += 1
            return []
        paths = [r for r in recs if r.type == "PATH"]
        call = syscall_name(sc)
        if not paths or not _is_write(call, sc, paths):
            return []
        cwd = next((r.fields.get("cwd", "") for r in recs if r.type == "CWD"), "")
        proctitle = next((r.fields.get("proctitle", "") for r in recs if r.type == "PROCTITLE"), "")
        out: list[Event] = []
        seen: set[str] = set()
        for p in paths:
            nametype = p.fields.get("nametype", "")
            if nametype in ("PARENT", "DELETE", "UNKNOWN"):
                continue
            name = p.fields.get("name", "")
            if not name or name == "(null)":
                continue
            full = name if name.startswith("/") else posixpath.normpath(posixpath.join(cwd or "/", name))
            if full in seen:
                continue
            seen.add(full)
            removable = is_removable(full, self.cfg.removable_paths)
            if not removable:
                ctx.counters["audit-writes-not-removable"] += 1
            out.append(self._write_event(sc, p, full, call, removable, proctitle, ctx, len(out)))
        return out

    def _write_event(self, sc: AuditRecord, p: AuditRecord, path: str, call: str, removable: bool,
                     proctitle: str, ctx: LineContext, ordinal: int) -> Event:
        f, en = sc.fields, sc.enriched
        auid = f.get("auid", "")
        uid = f.get("uid", "")
        actor = en.get("AUID") if auid and auid != _UNSET and en.get("AUID") else ""
        if not actor:
            actor = en.get("UID", "") if (not auid or auid == _UNSET) else auid
        if not actor:
            actor = uid
        mount = mount_point(path, self.cfg.removable_paths) if removable else ""
        attrs: dict[str, Any] = ctx.log_attributes()
        attrs.update(format=self.name, action="write", path=path, dest_path=path, syscall=call,
                     audit_serial=sc.serial, device_removable=removable, device_bus="usb" if removable else "local")
        for k in ("auid", "uid", "pid", "exe", "comm", "key", "ses", "tty"):
            v = f.get(k)
            if v and v != "(null)":
                attrs["audit_" + k if k in ("key", "ses", "tty") else k] = v
        if "exe" in attrs:
            attrs["process"] = attrs["exe"]
        if en.get("AUID"):
            attrs["auid_name"] = en["AUID"]
        if proctitle:
            attrs["proctitle"] = proctitle[:256]
        if mount:
            attrs["mount_point"] = mount
        if sc.node:
            attrs["host"] = sc.node
        content = b""
        size = 0
        truncated = False
        sample = sample_file(path, self.cfg.sample_bytes) if self.cfg.sample_files else None
        if sample is not None:
            content, size = sample.data, sample.size
            truncated = not sample.complete
            attrs.update(file_size=size, sample_source="file")
            attrs.update(record_attributes(content, sample.complete, size))
            ctx.counters["file-sampled"] += 1
        else:
            ctx.counters["file-not-sampled"] += 1
        return Event(
            event_id=ctx.event_id(ordinal),
            sensor_id=ctx.sensor_id,
            observed_at=sc.ts,
            source_kind="log",
            channel="usb" if removable else "file-copy",
            src=Endpoint(sc.node) if sc.node else None,
            dst=Endpoint(f"usb:{mount}" if mount else "local"),
            actor=actor,
            device=mount,
            content=content,
            content_type=_guess_type(path),
            size=size,
            truncated=truncated,
            attributes=attrs,
        )

    # -- usbguard -------------------------------------------------------------------------------
    def _usb_device(self, rec: AuditRecord, ctx: LineContext) -> list[Event]:
        f = rec.fields
        op = f.get("op", "")
        if "remove" in op:
            action = "detach"
        elif any(w in op for w in ("insert", "present", "allow", "changed-authorization")):
            action = "attach"
        else:
            return []
        rule = f.get("device_rule", "")
        m = re.search(r'\bid ([0-9a-fA-F*]{4}):([0-9a-fA-F*]{4})', rule)
        vid, pid = (m.group(1).lower(), m.group(2).lower()) if m else ("", "")
        serial = _rule_string(rule, "serial")
        name = _rule_string(rule, "name")
        target = f.get("target", "")
        attrs: dict[str, Any] = ctx.log_attributes()
        attrs.update(format=self.name, action=action, vendor_id=vid, product_id=pid, serial=serial, product=name,
                     bus_path=f.get("device", "").rsplit("/", 1)[-1], audit_serial=rec.serial, source="usbguard")
        if target:
            attrs["usbguard_target"] = target
        if "allow" in target or "allow" in op:
            attrs["authorized"] = True
        elif "block" in target or "reject" in target:
            attrs["authorized"] = False
        if rec.node:
            attrs["host"] = rec.node
        return [Event(
            event_id=ctx.event_id(),
            sensor_id=ctx.sensor_id,
            observed_at=rec.ts,
            source_kind="log",
            channel="usb",
            src=Endpoint(rec.node) if rec.node else None,
            device=serial or (f"{vid}:{pid}" if vid else ""),
            attributes=attrs,
        )]


def _rule_string(rule: str, key: str) -> str:
    m = re.search(rf'\b{key} "((?:[^"\\]|\\.)*)"', rule)
    return m.group(1).replace('\\"', '"') if m else ""


def _guess_type(path: str) -> str:
    import mimetypes

    lower = path.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return "application/x-ndjson"
    guess, _ = mimetypes.guess_type(lower)
    return guess or ""
