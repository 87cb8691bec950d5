"""Events: what a sensor saw, in one versioned shape for packets and log lines alike.

An Event is the unit that crosses the sensor → Kafka → stream boundary. It is frozen so that a
detector or rule can never change what the sensor observed, and it carries a schema version so
that a worker can refuse (dead-letter) an event it does not understand instead of guessing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

EVENT_SCHEMA_VERSION = 1

#: Default bound on the content an event carries; sensors set ``truncated`` when they cut.
DEFAULT_MAX_CONTENT = 1 << 20


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side of a flow: an address and port, plus a name when known (host, AE title, device)."""

    host: str
    port: int | None = None
    name: str = ""

    def __str__(self) -> str:
        if self.port is None:
            return self.host
        if ":" in self.host:  # IPv6 literal
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """TLS metadata seen in the handshake; the content of such a flow is never inspected."""

    version: str = ""
    sni: str = ""
    cipher: str = ""
    alpn: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Event:
    """One extracted message (an HTTP body, an HL7 message, a log record).

    ``content`` holds at most the sensor's configured bound; ``size`` is the original size in
    bytes and ``truncated`` tells whether the content was cut. ``attributes`` holds
    channel-specific facts (HTTP method and path, HL7 message type, file path, record count ...)
    as JSON-able values; treat it as read-only.
    """

    event_id: str
    sensor_id: str
    observed_at: float
    source_kind: str
    channel: str
    src: Endpoint | None = None
    dst: Endpoint | None = None
    actor: str = ""
    device: str = ""
    encrypted: bool = False
    tls: TlsInfo | None = None
    content: bytes = b""
    content_type: str = ""
    size: int = 0
    truncated: bool = False
    attributes: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = EVENT_SCHEMA_VERSION

    @property
    def principal(self) -> str:
        """Who is responsible for the flow, for per-person windows: actor, else device, else source host."""
        if self.actor:
            return f"actor:{self.actor}"
        if self.device:
            return f"device:{self.device}"
        if self.src is not None:
            return f"host:{self.src.host}"
        return f"sensor:{self.sensor_id}"


_EVENT_FIELDS = ("event_id", "sensor_id", "observed_at", "source_kind", "channel", "src", "dst", "actor", "device",
                 "encrypted", "tls", "content", "content_type", "size", "truncated", "attributes", "schema_version")


def _event_builder() -> Callable[..., Event]:
    """``Event(...)`` with all 16 fields before ``schema_version`` given positionally, at half the cost.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (~90 ns a
    field, 1.6 us an event: the largest single cost of an access-log line or a small network
    message). This sets the slots through their descriptors instead. It lives here, next to Event,
    so that whoever changes Event sees it; it is used only while Event has exactly these fields
    and no ``__post_init__``, else it *is* ``Event``: a model change can cost speed, never
    correctness (tests/model/test_events.py)."""
    fields = tuple(f.name for f in dataclasses.fields(Event))
    if fields != _EVENT_FIELDS or hasattr(Event, "__post_init__") or not hasattr(Event, "__slots__"):
        return Event
    version = dataclasses.fields(Event)[-1].default
    (s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15, s16) = (
        getattr(Event, n).__set__ for n in fields)
    new = object.__new__

    def build(event_id: str, sensor_id: str, observed_at: float, source_kind: str, channel: str, src: Any, dst: Any,
              actor: str, device: str, encrypted: bool, tls: Any, content: bytes, content_type: str, size: int,
              truncated: bool, attributes: Mapping[str, Any]) -> Event:
        e = new(Event)
        s0(e, event_id)
        s1(e, sensor_id)
        s2(e, observed_at)
        s3(e, source_kind)
        s4(e, channel)
        s5(e, src)
        s6(e, dst)
        s7(e, actor)
        s8(e, device)
        s9(e, encrypted)
        s10(e, tls)
        s11(e, content)
        s12(e, content_type)
        s13(e, size)
        s14(e, truncated)
        s15(e, attributes)
        s16(e, version)
        return e

    return build


#: ``build_event(event_id, sensor_id, observed_at, source_kind, channel, src, dst, actor, device,
#: encrypted, tls, content, content_type, size, truncated, attributes)`` == ``Event(...)`` with those
#: arguments; the sensors' per-message hot paths use it.
build_event: Callable[..., Event] = _event_builder()


def make_event_id(*parts: object) -> str:
    """A deterministic event id from what identifies the observation (flow key + ordinal, file + offset).

    Deterministic ids are what make a replay harmless: the same input yields the same event ids,
    hence the same alert ids, which the ReplacingMergeTree collapses.
    """
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(repr(p).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Input that could not be turned into an event or processed; kept, counted, never dropped.

    ``payload`` is the raw input bytes (bounded) so that an operator can replay it once the
    cause is fixed; it travels only to the dead-letter topic or the local dead-letter store,
    never into alerts.
    """

    stage: str  # "net-sensor", "log-sensor", "decode", "detect", "policy", "store"
    reason: str  # short machine-countable reason code, e.g. "pcap-truncated", "json-invalid"
    detail: str  # one human sentence saying what was wrong and where
    source: str  # file path, topic/partition/offset, interface ...
    observed_at: float
    payload: bytes = b""
    schema_version: int = EVENT_SCHEMA_VERSION
