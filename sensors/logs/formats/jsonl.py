"""Generic JSON lines: one object per line, common fields mapped, the whole record scanned.

Application and API logs (FHIR servers, HIS exports, gateways) often log request bodies or
patient fields inside JSON records. The whole record becomes the event content so detectors
see everything; the fields most logs share (time, user, host, addresses, channel) are mapped
onto the Event so policy windows and alerts name the right principal.
"""

from __future__ import annotations

import json
from typing import Any

from model.events import Endpoint, Event
from model.taxonomy import CHANNELS
from sensors.logs.formats.base import LineContext, ParseError, StatelessParser, decode_utf8
from sensors.logs.formats.timeparse import parse_timestamp

TS_KEYS = ("@timestamp", "timestamp", "ts", "time")
ACTOR_KEYS = ("user", "actor", "username")
MESSAGE_KEYS = ("message", "content", "msg")

_Scalar = (str, int, float)


def load_object(line: bytes, ctx: LineContext) -> dict[str, Any]:
    """Strict: UTF-8, valid JSON, an object. Shared by the JSON-based formats."""
    text = decode_utf8(line, ctx)
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as e:
        raise ParseError("json-invalid", f"{ctx.where}: invalid JSON: {e.msg} at column {e.colno}") from None
    except RecursionError:
        raise ParseError("json-invalid", f"{ctx.where}: JSON nested too deeply") from None
    if not isinstance(rec, dict):
        raise ParseError("field-type", f"{ctx.where}: record is a JSON {type(rec).__name__}, not an object")
    return rec


def scalar(rec: dict[str, Any], key: str, ctx: LineContext) -> str:
    """A mapped field as text; absent/null -> ''; an object or list where a scalar belongs is an error."""
    v = rec.get(key)
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, _Scalar):
        raise ParseError(
            "field-type", f"{ctx.where}: field {key!r} must be a string or number, not {type(v).__name__}"
        )
    return str(v)


def first_scalar(rec: dict[str, Any], keys: tuple[str, ...], ctx: LineContext) -> tuple[str, str]:
    for k in keys:
        if rec.get(k) is not None:
            return k, scalar(rec, k, ctx)
    return "", ""


def port(rec: dict[str, Any], key: str, ctx: LineContext) -> int | None:
    v = rec.get(key)
    if v is None:
        return None
    if isinstance(v, str) and v.isdigit():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 65535:
        raise ParseError("field-type", f"{ctx.where}: field {key!r} must be a port number (0-65535)")
    return v


def record_time(rec: dict[str, Any], ctx: LineContext) -> float:
    for k in TS_KEYS:
        if k in rec:
            ts = parse_timestamp(rec[k])
            if ts is not None:
                return ts
            ctx.counters["ts-unparsed"] += 1
            break
    ctx.counters["ts-fallback"] += 1
    return ctx.fallback_time


def readable_content(line: bytes, rec: dict[str, Any]) -> bytes:
    """The record as detectors should read it: ``\\uXXXX`` escapes (json.dumps' default for
    Chinese names) would hide identifiers from patterns, so such records are re-serialized."""
    if b"\\u" not in line:
        return line
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


class JsonlParser(StatelessParser):
    name = "jsonl"

    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        rec = load_object(line, ctx)
        channel = rec.get("channel")
        if channel is not None and not isinstance(channel, str):
            raise ParseError("field-type", f"{ctx.where}: field 'channel' must be a string")
        _, actor = first_scalar(rec, ACTOR_KEYS, ctx)
        host = scalar(rec, "host", ctx)
        src_ip = scalar(rec, "src_ip", ctx)
        dst_ip = scalar(rec, "dst_ip", ctx)
        src = Endpoint(src_ip, port(rec, "src_port", ctx), host) if src_ip else None
        if src is None and host:
            src = Endpoint(host)
        dst = Endpoint(dst_ip, port(rec, "dst_port", ctx)) if dst_ip else None
        msg_key, _ = first_scalar(rec, MESSAGE_KEYS, ctx)
        attrs = ctx.log_attributes()
        attrs["format"] = self.name
        if host:
            attrs["host"] = host
        if msg_key:
            attrs["message_field"] = msg_key
        if channel and channel not in CHANNELS:
            attrs["declared_channel"] = channel[:64]
        content = readable_content(line, rec)
        return [
            Event(
                event_id=ctx.event_id(),
                sensor_id=ctx.sensor_id,
                observed_at=record_time(rec, ctx),
                source_kind="log",
                channel=channel if channel in CHANNELS else "log",
                src=src,
                dst=dst,
                actor=actor,
                device=scalar(rec, "device", ctx) if not isinstance(rec.get("device"), dict) else "",
                content=content,
                content_type="application/json",
                size=len(line),
                attributes=attrs,
            )
        ]
