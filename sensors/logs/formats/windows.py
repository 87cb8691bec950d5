"""Windows removable-media events exported as JSON: Sysmon FileCreate, 6416, 4663.

Windows does not write text logs; collectors export the event log as JSON, each in its own
shape. :func:`normalize` reduces the four common ones to one :class:`WinEvent`:

* winlogbeat / Elastic Agent (ECS): ``{"@timestamp", "winlog": {"event_id", "channel",
  "provider_name", "computer_name", "record_id", "event_data": {...}}}``;
* NXLog ``to_json()``: a flat object (``EventID``, ``SourceName``, ``Channel``, ``Hostname``,
  ``EventTime``, ``RecordNumber`` and the event data fields at top level);
* the Wazuh agent's eventchannel JSON: ``{"win": {"system": {...}, "eventdata": {...}}}``
  (camelCase keys);
* the EVTX rendering of the ``evtx`` library (``{"Event": {"System": {...}, "EventData": {...}}}``),
  used by :mod:`sensors.logs.formats.evtx_file` for binary ``.evtx`` files.

Events turned into healthdlp Events:

* Sysmon event 11 (FileCreate): a file created; ``TargetFilename``, ``Image``, ``User``. Channel
  ``usb`` when the path is under ``LogsConfig.removable_paths`` (add the drive letters your
  endpoints give to USB media, e.g. ``"E:\\\\"``), else ``file-copy`` with ``device_removable: false``.
* Security 4663 (an attempt to access an object) with a write access (WriteData / AppendData,
  mask 0x2 / 0x4) on a ``File``: what "Audit Removable Storage" reports, same channels.
* Security 6416 (a new external device was recognized): a USB attach, with vendor/product ids and
  serial parsed from ``DeviceId`` (``USBSTOR\\Disk&Ven_..&Prod_..\\<serial>&0``,
  ``USB\\VID_0781&PID_5567\\<serial>``).

Other event ids are not ours (ignored and counted). Sysmon 11/6416/4663 records whose required
field is missing are dead-lettered (``field-missing``), never guessed at.
"""

from __future__ import annotations

import ntpath
import re
from dataclasses import dataclass
from typing import Any

from model.config import LogsConfig
from model.events import Endpoint, Event
from sensors.logs.formats.base import LineContext, ParseError, StatelessParser
from sensors.logs.formats.jsonl import load_object
from sensors.logs.formats.sampling import is_removable, mount_point
from sensors.logs.formats.timeparse import parse_timestamp

_SYSMON = "microsoft-windows-sysmon"
_WRITE_ACCESS = re.compile(r"%%4417|%%4418|WriteData|AppendData|\bWRITE_DATA|\bAPPEND_DATA", re.I)
_VIDPID = re.compile(r"VID_([0-9A-F]{4})&PID_([0-9A-F]{4})", re.I)
_VEN_PROD = re.compile(r"Ven_([^&\\]*)&Prod_([^&\\]*)", re.I)


@dataclass(frozen=True, slots=True)
class WinEvent:
    event_id: int
    provider: str
    channel: str
    computer: str
    ts: float | None
    record_id: str
    data: dict[str, str]  # event data, keys lower-cased

    def get(self, *keys: str) -> str:
        for k in keys:
            v = self.data.get(k.lower())
            if v:
                return v
        return ""


def _text(v: Any) -> str:
    if isinstance(v, dict):
        v = v.get("#text", v.get("value", ""))
    if v is None or isinstance(v, (dict, list)):
        return ""
    return str(v)


def _lower_map(d: Any) -> dict[str, str]:
    if not isinstance(d, dict):
        return {}
    out: dict[str, str] = {}
    for k, v in d.items():
        if k == "#attributes":
            continue
        out[str(k).lower()] = _text(v)
    return out


def _int(v: Any) -> int | None:
    v = _text(v)
    try:
        return int(v)
    except ValueError:
        return None


def normalize(rec: dict[str, Any]) -> WinEvent | None:
    """One exported Windows event in any of the supported shapes; None if it is not one."""
    if isinstance(rec.get("winlog"), dict):  # winlogbeat / ECS
        w = rec["winlog"]
        eid = _int(w.get("event_id"))
        if eid is None:
            return None
        ts = parse_timestamp(rec.get("@timestamp"))
        data = _lower_map(w.get("event_data"))
        user = w.get("user")
        if isinstance(user, dict) and "user" not in data and user.get("name"):
            data["user"] = f"{user.get('domain', '')}\\{user['name']}".lstrip("\\")
        return WinEvent(eid, _text(w.get("provider_name")), _text(w.get("channel")),
                        _text(w.get("computer_name")), ts, _text(w.get("record_id")), data)
    if isinstance(rec.get("win"), dict):  # Wazuh eventchannel
        w = rec["win"]
        sysd = w.get("system") if isinstance(w.get("system"), dict) else {}
        eid = _int(sysd.get("eventID"))
        if eid is None:
            return None
        return WinEvent(eid, _text(sysd.get("providerName")), _text(sysd.get("channel")),
                        _text(sysd.get("computer")), parse_timestamp(sysd.get("systemTime")),
                        _text(sysd.get("eventRecordID")), _lower_map(w.get("eventdata")))
    if isinstance(rec.get("Event"), dict):  # evtx rendering (and XML-to-JSON exports)
        e = rec["Event"]
        sysd = e.get("System") if isinstance(e.get("System"), dict) else {}
        eid = _int(sysd.get("EventID"))
        if eid is None:
            return None
        prov = sysd.get("Provider")
        provider = _text(prov.get("#attributes", {}).get("Name")) if isinstance(prov, dict) else _text(prov)
        created = sysd.get("TimeCreated")
        ts_raw = created.get("#attributes", {}).get("SystemTime") if isinstance(created, dict) else created
        data = _lower_map(e.get("EventData"))
        if not data and isinstance(e.get("UserData"), dict):  # some providers put it under UserData.<x>
            inner: Any = next(iter(e["UserData"].values()), {})
            data = _lower_map(inner)
        return WinEvent(eid, provider, _text(sysd.get("Channel")), _text(sysd.get("Computer")),
                        parse_timestamp(ts_raw), _text(sysd.get("EventRecordID")), data)
    eid = _int(rec.get("EventID", rec.get("EventId")))  # NXLog flat
    if eid is None:
        return None
    data = _lower_map({k: v for k, v in rec.items() if not isinstance(v, (dict, list))})
    provider = _text(rec.get("SourceName") or rec.get("ProviderName") or rec.get("Provider"))
    ts = parse_timestamp(rec.get("EventTime") or rec.get("TimeCreated") or rec.get("@timestamp"))
    return WinEvent(eid, provider, _text(rec.get("Channel")), _text(rec.get("Hostname") or rec.get("Computer")),
                    ts, _text(rec.get("RecordNumber") or rec.get("EventRecordID")), data)


def is_windows_event(rec: dict[str, Any]) -> bool:
    """For auto-detection: does this JSON object look like an exported Windows event?"""
    if isinstance(rec.get("winlog"), dict) or isinstance(rec.get("Event"), dict):
        return True
    win = rec.get("win")
    if isinstance(win, dict) and isinstance(win.get("system"), dict):
        return True
    return "EventID" in rec and ("SourceName" in rec or "Channel" in rec or "ProviderName" in rec)


def _is_sysmon(ev: WinEvent) -> bool:
    return _SYSMON in ev.provider.lower() or ev.channel.lower().startswith(_SYSMON)


def _is_security(ev: WinEvent) -> bool:
    return ev.channel.lower() == "security" or "security-auditing" in ev.provider.lower()


def to_events(ev: WinEvent, cfg: LogsConfig, ctx: LineContext, fmt: str) -> list[Event] | None:
    """The healthdlp events of one Windows event; None when the event id is not ours."""
    if ev.event_id == 11 and _is_sysmon(ev):
        path = ev.get("TargetFilename")
        if not path:
            raise ParseError("field-missing", f"{ctx.where}: Sysmon event 11 without TargetFilename")
        return [_file_event(ev, path, "create", ev.get("User"), ev.get("Image"), cfg, ctx, fmt)]
    if ev.event_id == 4663 and _is_security(ev):
        if ev.get("ObjectType").lower() != "file":
            return None
        access = ev.get("AccessList", "Accesses", "AccessMask")
        if not _WRITE_ACCESS.search(access) and not _mask_writes(ev.get("AccessMask")):
            return None
        path = ev.get("ObjectName")
        if not path:
            raise ParseError("field-missing", f"{ctx.where}: event 4663 without ObjectName")
        user = "\\".join(x for x in (ev.get("SubjectDomainName"), ev.get("SubjectUserName")) if x)
        return [_file_event(ev, path, "write", user, ev.get("ProcessName"), cfg, ctx, fmt)]
    if ev.event_id == 6416 and _is_security(ev):
        return [_device_event(ev, ctx, fmt)]
    return None


def _mask_writes(mask: str) -> bool:
    try:
        return bool(int(mask, 16) & 0x6)
    except ValueError:
        return False


def _time(ev: WinEvent, ctx: LineContext) -> float:
    if ev.ts is not None:
        return ev.ts
    for k in ("UtcTime", "CreationUtcTime"):
        ts = parse_timestamp(ev.get(k).replace(" ", "T") + "Z") if ev.get(k) else None
        if ts is not None:
            return ts
    ctx.counters["ts-fallback"] += 1
    return ctx.fallback_time


def _file_event(ev: WinEvent, path: str, action: str, user: str, image: str, cfg: LogsConfig, ctx: LineContext,
                fmt: str) -> Event:
    removable = is_removable(path, cfg.removable_paths)
    drive, _ = ntpath.splitdrive(path)
    mount = mount_point(path, cfg.removable_paths) if removable else ""
    attrs: dict[str, Any] = ctx.log_attributes()
    attrs.update(format=fmt, action=action, path=path, dest_path=path, windows_event_id=ev.event_id,
                 device_removable=removable, device_bus="usb" if removable else "local")
    if drive:
        attrs["drive"] = drive
    if image:
        attrs["process"] = image
    if ev.computer:
        attrs["host"] = ev.computer
    if ev.record_id:
        attrs["record_id"] = ev.record_id
    rule = ev.get("RuleName")
    if rule and rule != "-":
        attrs["rule_name"] = rule[:200]
    return Event(
        event_id=ctx.event_id(),
        sensor_id=ctx.sensor_id,
        observed_at=_time(ev, ctx),
        source_kind="log",
        channel="usb" if removable else "file-copy",
        src=Endpoint(ev.computer) if ev.computer else None,
        dst=Endpoint(f"usb:{mount}" if mount else (drive or "local")),
        actor=user,
        device=mount,
        content_type="",
        attributes=attrs,
    )


def parse_device_id(device_id: str) -> dict[str, str]:
    """vendor/product ids, names and serial from a PnP device instance id."""
    out = {"vendor_id": "", "product_id": "", "vendor": "", "product": "", "serial": ""}
    m = _VIDPID.search(device_id)
    if m:
        out["vendor_id"], out["product_id"] = m.group(1).lower(), m.group(2).lower()
    m2 = _VEN_PROD.search(device_id)
    if m2:
        out["vendor"], out["product"] = m2.group(1).replace("_", " ").strip(), m2.group(2).replace("_", " ").strip()
    parts = device_id.split("\\")
    if len(parts) >= 3:
        serial = parts[-1].split("&")[0] if "&" in parts[-1] and device_id.upper().startswith("USBSTOR") else parts[-1]
        if serial and "&" not in serial:
            out["serial"] = serial
    return out


def _device_event(ev: WinEvent, ctx: LineContext, fmt: str) -> Event:
    device_id = ev.get("DeviceId")
    if not device_id:
        raise ParseError("field-missing", f"{ctx.where}: event 6416 without DeviceId")
    ids = parse_device_id(device_id)
    cls = ev.get("ClassName")
    mass = device_id.upper().startswith("USBSTOR") or cls.lower() in ("diskdrive", "wpd", "volume", "cdrom")
    user = "\\".join(x for x in (ev.get("SubjectDomainName"), ev.get("SubjectUserName")) if x)
    attrs: dict[str, Any] = ctx.log_attributes()
    attrs.update(format=fmt, action="attach", windows_event_id=6416, device_instance=device_id[:256],
                 device_class=cls, description=ev.get("DeviceDescription"), mass_storage=mass,
                 removable=True, **{k: v for k, v in ids.items()})
    if ev.computer:
        attrs["host"] = ev.computer
    if user:
        attrs["subject_user"] = user
    return Event(
        event_id=ctx.event_id(),
        sensor_id=ctx.sensor_id,
        observed_at=_time(ev, ctx),
        source_kind="log",
        channel="usb",
        src=Endpoint(ev.computer) if ev.computer else None,
        device=ids["serial"] or (f"{ids['vendor_id']}:{ids['product_id']}" if ids["vendor_id"] else device_id[:128]),
        attributes=attrs,
    )


class WindowsEventParser(StatelessParser):
    """JSON lines of exported Windows events (winlogbeat, NXLog, Wazuh)."""

    name = "windows-event"

    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        rec = load_object(line, ctx)
        ev = normalize(rec)
        if ev is None:
            if is_windows_event(rec):
                raise ParseError("field-value", f"{ctx.where}: Windows event without a numeric event id")
            return None
        ctx.counters["windows-events"] += 1
        return to_events(ev, self.cfg, ctx, self.name)
