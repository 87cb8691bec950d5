"""The healthdlp file-copy event: what an endpoint agent reports when a file leaves for a device.

Documented in docs/formats/file-copy.md. Copies to removable USB/SD media are the classic way
patient lists leave a hospital, so the event carries the device identity (for per-device
windows), the file's size and record count (for bulk thresholds) and a bounded content sample
(for the detectors). Validation is strict: a record missing a required field, or with a field
of the wrong type, is dead-lettered with the field named, never guessed at.
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import re
from typing import Any

from model.events import Endpoint, Event
from sensors.logs.formats.base import LineContext, ParseError, StatelessParser
from sensors.logs.formats.jsonl import load_object
from sensors.logs.formats.timeparse import parse_timestamp

SCHEMA_VERSION = 1
BUSES = ("usb", "sd", "optical", "network", "local")
#: Buses whose media are removable unless the agent says otherwise.
_REMOVABLE_BY_DEFAULT = frozenset({"usb", "sd", "optical"})
_USB_CHANNEL_BUSES = frozenset({"usb", "sd"})
ACTIONS = ("copy", "move", "write")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_REQUIRED_STR = ("user", "host", "path", "dest_path")
_OPTIONAL_STR = ("process", "content_type")
_DEVICE_STR = ("serial", "vendor", "product", "label")
_CSV_DELIMS = (",", "\t", ";", "|")


def _fail(reason: str, ctx: LineContext, msg: str) -> ParseError:
    return ParseError(reason, f"{ctx.where}: {msg}")


def _type_name(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _require_str(rec: dict[str, Any], key: str, ctx: LineContext, prefix: str = "") -> str:
    if key not in rec or rec[key] is None:
        raise _fail("field-missing", ctx, f"required field '{prefix}{key}' is missing")
    v = rec[key]
    if not isinstance(v, str):
        raise _fail("field-type", ctx, f"field '{prefix}{key}' must be a string, not {_type_name(v)}")
    if not v.strip():
        raise _fail("field-value", ctx, f"field '{prefix}{key}' must not be empty")
    return v


def _optional_str(rec: dict[str, Any], key: str, ctx: LineContext, prefix: str = "") -> str:
    v = rec.get(key)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise _fail("field-type", ctx, f"field '{prefix}{key}' must be a string, not {_type_name(v)}")
    return v


def _nonneg_int(rec: dict[str, Any], key: str, ctx: LineContext) -> int:
    v = rec[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail("field-type", ctx, f"field '{key}' must be an integer, not {_type_name(v)}")
    if v < 0:
        raise _fail("field-value", ctx, f"field '{key}' must not be negative ({v})")
    return v


def _device(rec: dict[str, Any], ctx: LineContext) -> dict[str, Any]:
    if "device" not in rec or rec["device"] is None:
        raise _fail("field-missing", ctx, "required field 'device' is missing")
    dev = rec["device"]
    if not isinstance(dev, dict):
        raise _fail("field-type", ctx, f"field 'device' must be an object, not {_type_name(dev)}")
    bus = _require_str(dev, "bus", ctx, "device.")
    if bus not in BUSES:
        raise _fail("field-value", ctx, f"field 'device.bus' must be one of {', '.join(BUSES)}")
    out: dict[str, Any] = {"bus": bus}
    for k in _DEVICE_STR:
        out[k] = _optional_str(dev, k, ctx, "device.")
    removable = dev.get("removable")
    if removable is None:
        removable = bus in _REMOVABLE_BY_DEFAULT
    elif not isinstance(removable, bool):
        raise _fail("field-type", ctx,
                    f"field 'device.removable' must be true or false, not {_type_name(removable)}")
    out["removable"] = removable
    return out


def _sample(rec: dict[str, Any], ctx: LineContext) -> bytes | None:
    text, b64 = rec.get("content_sample"), rec.get("content_sample_b64")
    if text is not None and b64 is not None:
        raise _fail("field-value", ctx, "give either 'content_sample' or 'content_sample_b64', not both")
    if text is not None:
        if not isinstance(text, str):
            raise _fail("field-type", ctx, f"field 'content_sample' must be a string, not {_type_name(text)}")
        return text.encode("utf-8", "surrogatepass")
    if b64 is not None:
        if not isinstance(b64, str):
            raise _fail("field-type", ctx,
                        f"field 'content_sample_b64' must be a string, not {_type_name(b64)}")
        try:
            return base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise _fail("field-value", ctx, "field 'content_sample_b64' is not valid base64") from None
    return None


def infer_records(sample: bytes, complete: bool) -> int | None:
    """Records in a sample: JSON lines, or CSV/TSV rows minus the header. Only whole lines count:
    when the sample was cut (``complete`` False) its last, partial line is dropped."""
    text = sample.decode("utf-8", "replace")
    lines = text.splitlines()
    if not complete and lines and not text.endswith(("\n", "\r")):
        lines = lines[:-1]
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return None
    first = lines[0].lstrip()
    if first.startswith("{"):
        n = 0
        for ln in lines:
            try:
                n += isinstance(json.loads(ln), dict)
            except ValueError:
                pass
        return n or None
    head = lines[0]
    for d in _CSV_DELIMS:
        cols = head.count(d)
        if cols and all(ln.count(d) >= 1 for ln in lines[1:10]):
            return len(lines) - 1
    return None


def _content_type(rec_type: str, path: str) -> str:
    if rec_type:
        return rec_type
    lower = path.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return "application/x-ndjson"
    if lower.endswith(".hl7"):
        return "x-application/hl7-v2+er7"
    guess, _ = mimetypes.guess_type(lower)
    return guess or ""


class FileCopyParser(StatelessParser):
    name = "file-copy"

    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        rec = load_object(line, ctx)
        v = rec.get("v", SCHEMA_VERSION)
        if v != SCHEMA_VERSION:
            raise _fail("schema-version", ctx,
                        f"file-copy schema version {str(v)[:8]} is not {SCHEMA_VERSION}")
        if rec.get("ts") is None:
            raise _fail("field-missing", ctx, "required field 'ts' is missing")
        ts_raw = rec["ts"]
        if isinstance(ts_raw, bool) or not isinstance(ts_raw, (str, int, float)):
            raise _fail("field-type", ctx, f"field 'ts' must be an ISO-8601 string or epoch number, not "
                        f"{_type_name(ts_raw)}")
        ts = parse_timestamp(ts_raw)
        if ts is None:
            raise _fail("field-value", ctx, "field 'ts' is neither ISO-8601 nor an epoch number")
        user, host, path, dest = (_require_str(rec, k, ctx) for k in _REQUIRED_STR)
        if rec.get("size") is None:
            raise _fail("field-missing", ctx, "required field 'size' is missing")
        size = _nonneg_int(rec, "size", ctx)
        device = _device(rec, ctx)
        process, ctype = (_optional_str(rec, k, ctx) for k in _OPTIONAL_STR)
        action = _optional_str(rec, "action", ctx) or "copy"
        if action not in ACTIONS:
            raise _fail("field-value", ctx,
                        f"field 'action' must be one of {', '.join(ACTIONS)}")
        sha = _optional_str(rec, "sha256", ctx)
        if sha and not _SHA256.match(sha):
            raise _fail("field-value", ctx, "field 'sha256' must be 64 hexadecimal digits")
        records = _nonneg_int(rec, "records", ctx) if rec.get("records") is not None else None
        sample = _sample(rec, ctx)
        return [self._event(ctx, ts, user, host, path, dest, size, device, process, ctype, action, sha,
                            records, sample)]

    def _event(self, ctx: LineContext, ts: float, user: str, host: str, path: str, dest: str, size: int,
               device: dict[str, Any], process: str, ctype: str, action: str, sha: str,
               records: int | None, sample: bytes | None) -> Event:
        content = sample or b""
        cut = len(content) > self.cfg.sample_bytes
        if cut:
            content = content[: self.cfg.sample_bytes]
            ctx.counters["sample-cut"] += 1
        attrs: dict[str, Any] = ctx.log_attributes()
        attrs.update(format=self.name, action=action, path=path, dest_path=dest, file_size=size, host=host)
        attrs.update({f"device_{k}": v for k, v in device.items() if v != ""})
        if process:
            attrs["process"] = process
        if sha:
            attrs["sha256"] = sha.lower()
        sample_complete = sample is not None and not cut and len(sample) >= size
        if records is not None:
            attrs.update(records=records, records_source="agent")
        elif sample:
            inferred = infer_records(content, sample_complete)
            if inferred is not None:
                attrs.update(records=inferred, records_source="sample")
                if not sample_complete and content:
                    attrs["records_estimated"] = max(inferred, round(inferred * size / len(content)))
        removable_usb = device["bus"] in _USB_CHANNEL_BUSES and device["removable"]
        dev_id = device["serial"] or (f"{device['vendor']}:{device['product']}".strip(":")) or device["label"]
        return Event(
            event_id=ctx.event_id(),
            sensor_id=ctx.sensor_id,
            observed_at=ts,
            source_kind="log",
            channel="usb" if removable_usb else "file-copy",
            src=Endpoint(host),
            dst=Endpoint(f"{device['bus']}:{dev_id}" if dev_id else device["bus"], name=device["label"]),
            actor=user,
            device=dev_id,
            content=content,
            content_type=_content_type(ctype, path),
            size=size,
            truncated=len(content) < size,
            attributes=attrs,
        )
