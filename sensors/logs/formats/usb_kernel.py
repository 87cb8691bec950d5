"""USB mass-storage attach/detach from Linux kernel logs (dmesg, syslog, journal) and udev monitor.

The kernel announces a device over several lines keyed by its bus path ("1-1", "2-1.4"): the
vendor/product ids, the strings, "USB Mass Storage device detected", the SCSI host it gets and
finally "[sdb] Attached SCSI removable disk". One attach event needs all of them, so the parser
correlates by bus path and SCSI host and emits when the block device appears; the disconnect
line emits the detach. The correlation state is JSON-able and travels in the checkpoint.

Accepted line prefixes: raw ``dmesg`` ("[ 5012.345678] usb 1-1: ..."), ``dmesg -T``
("[Mon Nov 25 01:28:03 2024] ..."), BSD syslog / ``journalctl`` short and short-precise
("Nov 25 01:28:03 host kernel: ..."), RFC 5424 / ``short-iso`` ("2024-11-25T01:28:03+08:00
host kernel: ..."), ``short-monotonic`` ("[ 5012.345678] host kernel: ..."), and
``udevadm monitor [--property]`` ("KERNEL[1234.5] add /devices/... (usb)" + KEY=VALUE lines).
Lines of other programs in a syslog file are not ours: ignored (counted by the sensor).
"""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

from model.events import Endpoint, Event
from sensors.logs.formats.base import LineContext, ParseError, StatelessParser
from sensors.logs.formats.timeparse import parse_bsd, parse_ctime, parse_iso

_BUSPATH = r"\d+-\d+(?:\.\d+)*"
_BUS = rf"(?P<bus>usb\d+|{_BUSPATH})"

_SYSLOG = re.compile(
    r"^(?P<bsd>[A-Z][a-z]{2} [ 0-3]?\d \d\d:\d\d:\d\d(?:\.\d{1,9})?)\s+(?P<host>\S+)\s+(?P<rest>.*)$"
)
_ISO = re.compile(
    r"^(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)\s+(?P<host>\S+)\s+"
    r"(?P<rest>.*)$"
)
_MONO_HOST = re.compile(r"^\[\s*(?P<mono>\d+\.\d+)\]\s+(?P<host>\S+)\s+(?P<rest>kernel:.*)$")
_PROG = re.compile(r"^(?P<prog>[A-Za-z][\w./@-]*)(?:\[\d+\])?:\s*(?P<rest>.*)$")
#: ``dmesg -r`` / /dev/kmsg priority ("<6>") and ``dmesg -x`` facility:level ("kern  :info  : ").
_LEVEL = re.compile(r"^(?:<\d{1,3}>|[a-z]+\s*:[a-z]+\s*: )")
_KTIME = re.compile(
    r"^(?:\[\s*(?P<mono>\d+\.\d+)\]"
    r"|\[(?P<ctime>[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-3]?\d \d\d:\d\d:\d\d \d{4})\])\s*(?P<rest>.*)$"
)

_NEW = re.compile(
    rf"^usb {_BUS}: (?P<kind>new|reset) (?P<speed>[\w. +-]+?) USB device number (?P<num>\d+) using \S+\s*$"
)
_FOUND = re.compile(
    rf"^usb {_BUS}: New USB device found, idVendor=(?P<vid>[0-9a-fA-F]{{4}}), "
    r"idProduct=(?P<pid>[0-9a-fA-F]{4})(?:, bcdDevice=\s*[0-9a-fA-F.]+)?\s*$"
)
_STRING = re.compile(rf"^usb {_BUS}: (?P<key>Product|Manufacturer|SerialNumber): ?(?P<value>.*)$")
_DISCONNECT = re.compile(rf"^usb {_BUS}: USB disconnect, device number (?P<num>\d+)\s*$")
_USB_OTHER = re.compile(rf"^usb {_BUS}: ")
_STORAGE = re.compile(rf"^usb-storage (?P<bus>{_BUSPATH}):\d+\.\d+: USB Mass Storage device detected\s*$")
_SCSI_HOST = re.compile(
    rf"^scsi host(?P<host>\d+): (?:usb-storage (?P<bus>{_BUSPATH}):\d+\.\d+|(?P<uas>uas))\s*$"
)
_SD_ATTACHED = re.compile(
    r"^sd (?P<host>\d+):\d+:\d+:\d+: \[(?P<blk>sd[a-z]+)\] Attached SCSI (?P<rem>removable )?disk\s*$"
)
_UDEV = re.compile(
    r"^(?P<src>KERNEL|UDEV)\s*\[(?P<mono>\d+\.\d+)\]\s+(?P<action>[a-z]+)\s+(?P<devpath>/\S*)\s+"
    r"\((?P<subsys>[\w-]+)\)\s*$"
)
_UDEV_SHAPE = re.compile(r"^(?:KERNEL|UDEV)\s*\[")
_PROP = re.compile(r"^(?P<key>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
_BUS_COMPONENT = re.compile(rf"^{_BUSPATH}$")
_HOST_COMPONENT = re.compile(r"^host(\d+)$")

#: Phrases that make a line "USB-shaped": if one is present but the line does not parse, the
#: line is dead-lettered rather than ignored (a format drift must be visible, not silent).
_USB_PHRASES = (
    "New USB device found", "USB device number", "USB disconnect", "Product:", "Manufacturer:",
    "SerialNumber:", "Mass Storage device detected",
)
_STRING_FIELD = {"Product": "product", "Manufacturer": "manufacturer", "SerialNumber": "serial"}


def _new_device() -> dict[str, Any]:
    return {"vid": "", "pid": "", "manufacturer": "", "product": "", "serial": "", "storage": False,
            "speed": "", "number": 0, "emitted": []}


@dataclasses.dataclass(slots=True)
class _Prefix:
    ts: float | None
    host: str
    mono: float | None
    msg: str


def split_prefix(text: str, reference: float) -> _Prefix | None:
    """Strip syslog/journal/dmesg prefixes; None for a line of another program (not the kernel)."""
    ts: float | None = None
    host = ""
    mono: float | None = None
    rest = text
    m = _SYSLOG.match(text) or _ISO.match(text) or _MONO_HOST.match(text)
    if m is not None:
        gd = m.groupdict()
        host, rest = gd["host"], gd["rest"]
        if gd.get("bsd"):
            ts = parse_bsd(gd["bsd"], reference)
        elif gd.get("iso"):
            ts = parse_iso(gd["iso"])
        elif gd.get("mono"):
            mono = float(gd["mono"])
        p = _PROG.match(rest)
        if p is None or p["prog"] != "kernel":
            return None
        rest = p["rest"]
    lv = _LEVEL.match(rest)
    if lv is not None:
        rest = rest[lv.end():]
    k = _KTIME.match(rest)
    if k is not None:
        if k["mono"]:
            mono = float(k["mono"])
        elif ts is None:
            ts = parse_ctime(k["ctime"])
        rest = k["rest"]
    return _Prefix(ts, host, mono, rest.rstrip())


class UsbKernelParser(StatelessParser):
    name = "usb-kernel"
    wants_blank = True  # a blank line ends a udevadm --property record

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self._devices: dict[str, dict[str, Any]] = {}
        self._hosts: dict[str, str] = {}  # SCSI host number -> bus path
        self._last_new = ""  # the most recent new device: where a "scsi hostN: uas" belongs
        self._pending: dict[str, Any] | None = None  # udev record awaiting its properties
        self._props_seen = False  # the udev stream carries KEY=VALUE property blocks

    # -- state for the checkpoint -------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return copy.deepcopy({"devices": self._devices, "hosts": self._hosts, "last_new": self._last_new,
                              "pending": self._pending, "props_seen": self._props_seen})

    def set_state(self, state: dict[str, Any]) -> None:
        state = copy.deepcopy(state)
        self._devices = dict(state.get("devices", {}))
        self._hosts = dict(state.get("hosts", {}))
        self._last_new = str(state.get("last_new", ""))
        self._pending = state.get("pending")
        self._props_seen = bool(state.get("props_seen", False))

    def finish(self, ctx: LineContext) -> list[Event]:
        return self._flush_pending(ctx)

    # -- lines ----------------------------------------------------------------------------------
    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            if b"usb" in line or b"KERNEL" in line or b"Attached SCSI" in line:
                raise ParseError("encoding", f"{ctx.where}: USB line is not UTF-8 ({e.reason} at byte "
                                 f"{e.start})") from None
            return None
        if not text.strip():
            return self._flush_pending(ctx) if self._pending is not None else None
        if self._pending is not None:
            prop = _PROP.match(text)
            if prop is not None:
                self._props_seen = True
                self._pending["props"][prop["key"]] = prop["value"]
                if self._pending.get("done"):
                    self._apply_props(self._pending)
                return []
        events = self._flush_pending(ctx)
        pre = split_prefix(text, ctx.fallback_time)
        if pre is None:
            return events or None
        try:
            got = self._dispatch(pre, ctx)
        except ParseError as e:
            raise ParseError(e.reason, e.detail, tuple(events)) from None
        if got is None:
            return events or None
        return events + got

    def _dispatch(self, pre: _Prefix, ctx: LineContext) -> list[Event] | None:
        msg = pre.msg
        if msg.startswith("usb "):
            return self._usb_line(pre, ctx)
        if msg.startswith("usb-storage "):
            m = _STORAGE.match(msg)
            if m is not None:
                self._devices.setdefault(m["bus"], _new_device())["storage"] = True
                return []
            return self._unparsed(msg, ctx)
        if msg.startswith("scsi host"):
            m = _SCSI_HOST.match(msg)
            if m is None:
                return None
            bus = m["bus"] or self._last_new
            if bus:
                self._hosts[m["host"]] = bus
                self._devices.setdefault(bus, _new_device())["storage"] = True
            return []
        if msg.startswith("sd "):
            m = _SD_ATTACHED.match(msg)
            if m is None:
                if "Attached SCSI" in msg:
                    raise ParseError("usb-parse", f"{ctx.where}: unrecognised 'Attached SCSI' line")
                return None
            return self._sd_attached(m, pre, ctx)
        if _UDEV_SHAPE.match(msg):
            m = _UDEV.match(msg)
            if m is None:
                raise ParseError("udev-parse", f"{ctx.where}: udev monitor line without action, devpath or "
                                 "subsystem")
            return self._udev_header(m, pre, ctx)
        return None

    def _unparsed(self, msg: str, ctx: LineContext) -> list[Event] | None:
        for phrase in _USB_PHRASES:
            if phrase in msg:
                raise ParseError("usb-parse", f"{ctx.where}: USB line {phrase!r} does not parse")
        return None

    def _usb_line(self, pre: _Prefix, ctx: LineContext) -> list[Event] | None:
        msg = pre.msg
        m = _STRING.match(msg)
        if m is not None:
            self._devices.setdefault(m["bus"], _new_device())[_STRING_FIELD[m["key"]]] = m["value"].strip()
            return []
        m = _FOUND.match(msg)
        if m is not None:
            dev = self._devices.setdefault(m["bus"], _new_device())
            dev["vid"], dev["pid"] = m["vid"].lower(), m["pid"].lower()
            return []
        m = _NEW.match(msg)
        if m is not None:
            if m["kind"] == "reset":
                return []
            dev = _new_device()
            dev.update(speed=m["speed"], number=int(m["num"]))
            self._devices[m["bus"]] = dev
            self._last_new = m["bus"]
            return []
        m = _DISCONNECT.match(msg)
        if m is not None:
            return self._detach(m["bus"], pre, ctx)
        if any(p in msg for p in _USB_PHRASES) or _USB_OTHER.match(msg) is None:
            return self._unparsed(msg, ctx)
        return []  # another line about a known USB device ("reset high-speed ...", "config #1 ...")

    # -- events -------------------------------------------------------------------------------
    def _time(self, pre: _Prefix, ctx: LineContext) -> float:
        if pre.ts is not None:
            return pre.ts
        ctx.counters["ts-fallback"] += 1
        return ctx.fallback_time

    def _event(self, action: str, bus: str, dev: dict[str, Any], blk: str, removable: bool | None,
               pre: _Prefix, ctx: LineContext, ordinal: int) -> Event:
        vidpid = f"{dev['vid']}:{dev['pid']}" if dev["vid"] else ""
        attrs: dict[str, Any] = ctx.log_attributes()
        attrs.update(
            format=self.name, action=action, bus_path=bus, vendor=dev["manufacturer"], product=dev["product"],
            vendor_id=dev["vid"], product_id=dev["pid"], serial=dev["serial"], block_device=blk,
            complete=bool(dev["vid"] and dev["storage"] and blk),
        )
        if removable is not None:
            attrs["removable"] = removable
        if pre.host:
            attrs["host"] = pre.host
        if pre.mono is not None:
            attrs["kernel_time"] = pre.mono
        return Event(
            event_id=ctx.event_id(ordinal),
            sensor_id=ctx.sensor_id,
            observed_at=self._time(pre, ctx),
            source_kind="log",
            channel="usb",
            src=Endpoint(pre.host) if pre.host else None,
            device=dev["serial"] or vidpid or (f"block:{blk}" if blk else f"usb:{bus}"),
            attributes=attrs,
        )

    def _attach(self, bus: str, dev: dict[str, Any], blk: str, removable: bool | None, pre: _Prefix,
                ctx: LineContext) -> list[Event]:
        if blk in dev["emitted"]:
            return []
        dev["emitted"].append(blk)
        dev["storage"] = True
        return [self._event("attach", bus, dev, blk, removable, pre, ctx, len(dev["emitted"]) - 1)]

    def _sd_attached(self, m: re.Match[str], pre: _Prefix, ctx: LineContext) -> list[Event] | None:
        removable = bool(m["rem"])
        bus = self._hosts.get(m["host"], "")
        if not bus:
            if not removable:
                return None  # an internal disk at boot
            ctx.counters["usb-attach-unmapped"] += 1
            return self._attach("", _new_device(), m["blk"], True, pre, ctx)
        return self._attach(bus, self._devices.setdefault(bus, _new_device()), m["blk"], removable, pre, ctx)

    def _detach(self, bus: str, pre: _Prefix, ctx: LineContext) -> list[Event]:
        dev = self._devices.pop(bus, None)
        for host in [h for h, b in self._hosts.items() if b == bus]:
            del self._hosts[host]
        if dev is None or not dev["storage"]:
            if dev is None:
                ctx.counters["usb-detach-unknown"] += 1
            return []
        out: list[Event] = []
        if not dev["emitted"]:  # storage that never got a block device: still report it came and went
            ctx.counters["usb-attach-incomplete"] += 1
            out = self._attach(bus, dev, "", None, pre, ctx)
        blk = ",".join(b for b in dev["emitted"] if b)
        out.append(self._event("detach", bus, dev, blk, None, pre, ctx, 100))
        return out

    # -- udev monitor -------------------------------------------------------------------------
    def _udev_header(self, m: re.Match[str], pre: _Prefix, ctx: LineContext) -> list[Event]:
        rec: dict[str, Any] = {
            "action": m["action"], "devpath": m["devpath"], "subsys": m["subsys"], "props": {},
            "mono": float(m["mono"]), "host": pre.host, "ts": pre.ts, "offset": ctx.offset,
            "line_no": ctx.line_no, "head_id": ctx.head_id, "fallback": ctx.fallback_time, "done": False,
        }
        self._pending = rec
        if self._props_seen:
            return []  # wait for the property block (ends at a blank line or the next header)
        rec["done"] = True  # header-only stream: act now; late properties still update the device
        return self._udev_record(rec, ctx)

    def _flush_pending(self, ctx: LineContext) -> list[Event]:
        rec, self._pending = self._pending, None
        if rec is None or rec.get("done"):
            return []
        return self._udev_record(rec, ctx)

    def _apply_props(self, rec: dict[str, Any]) -> None:
        bus, _, _ = _udev_location(rec["devpath"])
        if bus and bus in self._devices:
            _merge_props(self._devices[bus], rec["props"])

    def _udev_record(self, rec: dict[str, Any], ctx: LineContext) -> list[Event]:
        rctx = dataclasses.replace(ctx, offset=rec["offset"], line_no=rec["line_no"], head_id=rec["head_id"],
                                   fallback_time=rec["fallback"])
        pre = _Prefix(rec["ts"], rec["host"], rec["mono"], "")
        bus, host, comps = _udev_location(rec["devpath"])
        action, subsys, props = rec["action"], rec["subsys"], rec["props"]
        if not bus:
            return []
        if subsys == "usb" and comps[-1] == bus:
            if action == "remove":
                return self._detach(bus, pre, rctx)
            if action == "add":
                if bus not in self._devices:
                    self._devices[bus] = _new_device()
                self._last_new = bus
            if bus in self._devices:
                _merge_props(self._devices[bus], props)
            return []
        dev = self._devices.setdefault(bus, _new_device()) if action != "remove" else self._devices.get(bus)
        if dev is None:
            return []
        if subsys == "usb" and (props.get("INTERFACE", "").startswith("8/") or
                                props.get("DRIVER") in ("usb-storage", "uas")):
            dev["storage"] = True
        if host:
            self._hosts[host] = bus
            dev["storage"] = True
        if subsys == "block" and action == "add" and len(comps) >= 2 and comps[-2] == "block":
            _merge_props(dev, props)
            flag = props.get("ID_DRIVE_REMOVABLE", props.get("REMOVABLE", ""))
            removable = {"1": True, "0": False}.get(flag)
            return self._attach(bus, dev, comps[-1], removable, pre, rctx)
        return []


def _udev_location(devpath: str) -> tuple[str, str, list[str]]:
    """(bus path, SCSI host number, path components) of a /devices/... path."""
    comps = devpath.rstrip("/").split("/")
    bus = host = ""
    for c in comps:
        if _BUS_COMPONENT.match(c):
            bus = c
        else:
            h = _HOST_COMPONENT.match(c)
            if h is not None:
                host = h.group(1)
    return bus, host, comps


def _merge_props(dev: dict[str, Any], props: dict[str, str]) -> None:
    """udev properties: PRODUCT=781/5567/100 (kernel), ID_* (udev rules)."""
    product = props.get("PRODUCT", "")
    if product.count("/") == 2 and not dev["vid"]:
        v, p, _ = product.split("/")
        dev["vid"], dev["pid"] = v.zfill(4).lower(), p.zfill(4).lower()
    for key, field in (("ID_VENDOR_ID", "vid"), ("ID_MODEL_ID", "pid")):
        if props.get(key):
            dev[field] = props[key].lower()
    for key, field in (("ID_VENDOR", "manufacturer"), ("ID_MODEL", "product"), ("ID_SERIAL_SHORT", "serial")):
        if props.get(key) and not dev[field]:
            dev[field] = props[key].replace("_", " ") if field != "serial" else props[key]
