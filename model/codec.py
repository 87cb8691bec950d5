"""Wire format of the versioned boundaries: event batches, alerts and dead letters as JSON.

Sensors send *batches* of events per Kafka message (an envelope) because a Faust agent costs
about 90 µs per message on these machines (docs/architecture.md). Decoding is strict: anything
that does not match the schema raises :class:`CodecError` with a countable reason, and the
caller dead-letters the raw bytes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from model.alerts import Alert
from model.events import EVENT_SCHEMA_VERSION, DeadLetter, Endpoint, Event, TlsInfo

ENVELOPE_SCHEMA = "healthdlp.events"
DEAD_LETTER_SCHEMA = "healthdlp.deadletter"


class CodecError(ValueError):
    """Undecodable input. ``reason`` is a short code for counting; the message says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _endpoint_to_json(ep: Endpoint | None) -> dict[str, Any] | None:
    if ep is None:
        return None
    d: dict[str, Any] = {"host": ep.host}
    if ep.port is not None:
        d["port"] = ep.port
    if ep.name:
        d["name"] = ep.name
    return d


def _endpoint_from_json(d: Any, what: str) -> Endpoint | None:
    if d is None:
        return None
    if not isinstance(d, dict) or not isinstance(d.get("host"), str):
        raise CodecError("event-invalid", f"{what} must be an object with a string 'host'")
    port = d.get("port")
    if port is not None and not isinstance(port, int):
        raise CodecError("event-invalid", f"{what}.port must be an integer")
    return Endpoint(host=d["host"], port=port, name=str(d.get("name", "")))


def event_to_json(ev: Event) -> dict[str, Any]:
    d: dict[str, Any] = {
        "v": ev.schema_version,
        "event_id": ev.event_id,
        "sensor_id": ev.sensor_id,
        "observed_at": ev.observed_at,
        "source_kind": ev.source_kind,
        "channel": ev.channel,
        "src": _endpoint_to_json(ev.src),
        "dst": _endpoint_to_json(ev.dst),
        "actor": ev.actor,
        "device": ev.device,
        "encrypted": ev.encrypted,
        "tls": asdict(ev.tls) if ev.tls is not None else None,
        "content_type": ev.content_type,
        "size": ev.size,
        "truncated": ev.truncated,
        "attributes": dict(ev.attributes),
    }
    try:
        d["content"] = ev.content.decode("utf-8")
    except UnicodeDecodeError:
        d["content_b64"] = base64.b64encode(ev.content).decode("ascii")
    return d


_REQUIRED_STR = ("event_id", "sensor_id", "source_kind", "channel")


def event_from_json(d: Any) -> Event:
    if not isinstance(d, dict):
        raise CodecError("event-invalid", "event must be a JSON object")
    v = d.get("v")
    if v != EVENT_SCHEMA_VERSION:
        raise CodecError("schema-version", f"event schema version {v!r} is not {EVENT_SCHEMA_VERSION}")
    for k in _REQUIRED_STR:
        if not isinstance(d.get(k), str) or not d[k]:
            raise CodecError("event-invalid", f"event field {k!r} must be a non-empty string")
    if not isinstance(d.get("observed_at"), (int, float)):
        raise CodecError("event-invalid", "event field 'observed_at' must be a number (epoch seconds)")
    if "content_b64" in d:
        try:
            content = base64.b64decode(d["content_b64"], validate=True)
        except (ValueError, TypeError) as e:
            raise CodecError("event-invalid", f"content_b64 is not base64: {e}") from None
    else:
        c = d.get("content", "")
        if not isinstance(c, str):
            raise CodecError("event-invalid", "event field 'content' must be a string")
        content = c.encode("utf-8", "surrogatepass")
    tls = d.get("tls")
    tls_info = None
    if tls is not None:
        if not isinstance(tls, dict):
            raise CodecError("event-invalid", "event field 'tls' must be an object")
        tls_info = TlsInfo(
            version=str(tls.get("version", "")),
            sni=str(tls.get("sni", "")),
            cipher=str(tls.get("cipher", "")),
            alpn=tuple(str(a) for a in tls.get("alpn", ()) or ()),
        )
    attrs = d.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise CodecError("event-invalid", "event field 'attributes' must be an object")
    return Event(
        event_id=d["event_id"],
        sensor_id=d["sensor_id"],
        observed_at=float(d["observed_at"]),
        source_kind=d["source_kind"],
        channel=d["channel"],
        src=_endpoint_from_json(d.get("src"), "src"),
        dst=_endpoint_from_json(d.get("dst"), "dst"),
        actor=str(d.get("actor", "")),
        device=str(d.get("device", "")),
        encrypted=bool(d.get("encrypted", False)),
        tls=tls_info,
        content=content,
        content_type=str(d.get("content_type", "")),
        size=int(d.get("size", len(content))),
        truncated=bool(d.get("truncated", False)),
        attributes=attrs,
    )


def encode_batch(events: Iterable[Event], sensor_id: str, sent_at: float) -> bytes:
    """One Kafka message value holding many events."""
    env = {
        "schema": ENVELOPE_SCHEMA,
        "v": EVENT_SCHEMA_VERSION,
        "sensor_id": sensor_id,
        "sent_at": sent_at,
        "events": [event_to_json(e) for e in events],
    }
    return json.dumps(env, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_batch(raw: bytes) -> list[Event]:
    """Decode an envelope; raises CodecError for the whole message if any part is malformed."""
    try:
        env = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CodecError("json-invalid", f"message is not JSON: {e}") from None
    if not isinstance(env, dict) or env.get("schema") != ENVELOPE_SCHEMA:
        raise CodecError("envelope-invalid", f"message is not a {ENVELOPE_SCHEMA} envelope")
    if env.get("v") != EVENT_SCHEMA_VERSION:
        raise CodecError("schema-version", f"envelope version {env.get('v')!r} is not {EVENT_SCHEMA_VERSION}")
    evs = env.get("events")
    if not isinstance(evs, list):
        raise CodecError("envelope-invalid", "envelope field 'events' must be a list")
    return [event_from_json(e) for e in evs]


def encode_alert(alert: Alert) -> bytes:
    return json.dumps(alert.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_alert(raw: bytes) -> Alert:
    try:
        return Alert.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError) as e:
        raise CodecError("alert-invalid", f"not an alert: {e}") from None


def dead_letter_to_json(dl: DeadLetter) -> dict[str, Any]:
    return {
        "schema": DEAD_LETTER_SCHEMA,
        "v": dl.schema_version,
        "stage": dl.stage,
        "reason": dl.reason,
        "detail": dl.detail,
        "source": dl.source,
        "observed_at": dl.observed_at,
        "payload_b64": base64.b64encode(dl.payload).decode("ascii"),
    }


def encode_dead_letter(dl: DeadLetter) -> bytes:
    return json.dumps(dead_letter_to_json(dl), ensure_ascii=False).encode("utf-8")


def decode_dead_letter(raw: bytes) -> DeadLetter:
    try:
        d: Mapping[str, Any] = json.loads(raw)
        return DeadLetter(
            stage=d["stage"],
            reason=d["reason"],
            detail=d["detail"],
            source=d["source"],
            observed_at=float(d["observed_at"]),
            payload=base64.b64decode(d.get("payload_b64", "")),
            schema_version=int(d.get("v", EVENT_SCHEMA_VERSION)),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise CodecError("deadletter-invalid", f"not a dead letter: {e}") from None
