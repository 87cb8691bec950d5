"""The application side of one TCP flow: sniff the protocol, run its parser, turn Messages into Events.

A session buffers the first bytes of each side (bounded) until a sniffer from the registry
recognises them, then replays them into the chosen parser. Flows no sniffer recognises are
counted as uninspected (by reason) and the flow table stops reassembling them, which keeps the
cost of unknown traffic near zero.
"""

from __future__ import annotations

import hashlib
import socket
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from model.events import DeadLetter, Endpoint, Event, TlsInfo, build_event, make_event_id
from sensors.net.protocols import CLIENT, EITHER, MORE, NO, DataChannel, Message, Parser, ProtocolSpec
from sensors.net.reassembly import TcpFlow

#: Bytes of one side kept for sniffing before the flow is declared uninspected.
SNIFF_LIMIT: Final = 4096
#: Payload bytes a flow may carry while no sniffer recognises either side.
UNDETECTED_LIMIT: Final = 64 << 10
#: Bound on the raw bytes a dead letter carries.
DEAD_LETTER_PAYLOAD: Final = 64 << 10
_EVENT_KEYS = {c: f"events.{c}" for c in ("http", "fhir", "hl7-mllp", "dicom", "smtp", "ftp", "ftp-data", "tls",
                                           "tcp", "postgres", "mysql")}
#: Announced-but-unopened FTP data connections remembered per sensor (oldest dropped, counted).
MAX_EXPECTATIONS: Final = 4096
#: The per-message tail of the event-id hash input: ``repr(direction) + "\x1f"`` (see _event_id).
_DIRECTION_REPR: Final[dict[str, bytes]] = {"c2s": b"'c2s'\x1f", "s2c": b"'s2c'\x1f"}



class Expectations:
    """FTP data connections announced on control connections, waiting for their SYN.

    Keyed by the address the data connection will be opened *to* (the passive server port, or
    the active client port). Bounded: the oldest announcement is dropped and counted
    (``ftp.expectation-dropped``) so a control flow spraying PORT commands cannot grow memory.
    """

    __slots__ = ("_counters", "_table")

    def __init__(self, counters: Counter[str]) -> None:
        self._table: OrderedDict[tuple[str, int], DataChannel] = OrderedDict()
        self._counters = counters

    def __len__(self) -> int:
        return len(self._table)

    def add(self, host: str, port: int, channel: DataChannel) -> None:
        self._table[(host, port)] = channel
        self._table.move_to_end((host, port))
        while len(self._table) > MAX_EXPECTATIONS:
            self._table.popitem(last=False)
            self._counters["ftp.expectation-dropped"] += 1

    def pop(self, host: str, port: int) -> DataChannel | None:
        return self._table.pop((host, port), None)


@dataclass(frozen=True, slots=True)
class FlowSummary:
    """One closed flow, for ``NetSensor(flow_observer=...)``: what a conn.log line would say."""

    client: Endpoint
    server: Endpoint
    protocol: str  # "" when no parser recognised it; "smtp+tls" after STARTTLS
    encrypted: bool
    uninspected_reason: str
    close: str


@dataclass(frozen=True)
class SessionEnv:
    """What every session of one sensor run shares."""

    sensor_id: str
    source: str
    max_message_bytes: int
    counters: Counter[str]
    emit: Callable[[Event], None]
    dead_letter: Callable[[DeadLetter], None]
    registry: dict[str, ProtocolSpec]
    expectations: Expectations = field(default_factory=lambda: Expectations(Counter()))
    flow_observer: Callable[[FlowSummary], None] | None = None


def _addr(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


class AppSession:
    """FlowHandler (for reassembly) and ParserContext (for the parser) of one flow."""

    __slots__ = (
        "_data_channel", "_endpoints", "_env", "_extra", "_flow", "_id_base", "_names", "_ordinals", "_parser",
        "_pending",
        "_pending_bytes", "_prefix", "_proto", "_skipped", "_tls", "_verdict", "_why", "max_message_bytes",
    )

    def __init__(self, flow: TcpFlow, env: SessionEnv) -> None:
        self._flow = flow
        self._env = env
        self.max_message_bytes = env.max_message_bytes
        self._parser: Parser | None = None
        self._proto = ""
        self._pending: list[tuple[int, bytes, float]] = []
        self._pending_bytes = 0
        self._prefix = [b"", b""]
        self._verdict = [MORE, MORE]
        self._skipped = [0, 0]
        self._ordinals = [0, 0]
        self._id_base: Any = None  # blake2b state over the flow key (see _event_id)
        self._names: dict[tuple[int | None, str, str], Endpoint] | None = None
        self._endpoints: tuple[Endpoint, Endpoint] | None = None
        self._extra: dict[str, Any] | None = None  # attributes added after an upgrade (STARTTLS)
        self._why = ""  # why the flow stopped being inspected
        self._tls: TlsInfo | None = None
        self._data_channel: DataChannel | None = None
        if len(env.expectations):
            a0, a1, p0, p1 = flow.key
            dc = env.expectations.pop(_addr(a1), p1) or env.expectations.pop(_addr(a0), p0)
            if dc is not None:
                self._data_channel = dc
                dc.used = True

    # -- FlowHandler ---------------------------------------------------------------------------
    def on_data(self, side: int, data: bytes, ts: float) -> None:
        parser = self._parser
        if parser is not None:
            parser.feed(side == self._flow.client_side, data, ts)
            return
        if self._flow.ignore:
            return
        if self._data_channel is not None:  # an announced FTP data connection: no sniffing
            self._pending.append((side, data, ts))
            self._start(self._env.registry["ftp-data"], side, side == self._flow.client_side)
            return
        if self._verdict[side] == NO:
            # after a gap or a mid-stream start a message often begins at a segment boundary
            if not self._resniff(side, data, ts):
                self._skipped[side] += len(data)
            return
        self._pending.append((side, data, ts))
        self._pending_bytes += len(data)
        self._prefix[side] = (self._prefix[side] + data)[:SNIFF_LIMIT]
        self._sniff(side, ts)

    def on_gap(self, side: int, nbytes: int, ts: float) -> None:
        if self._parser is not None:
            self._parser.gap(side == self._flow.client_side, nbytes, ts)
            return
        # before detection: what came before the hole on this side is no start of a message
        kept = [p for p in self._pending if p[0] != side]
        self._skipped[side] += nbytes + sum(len(p[1]) for p in self._pending if p[0] == side)
        self._pending = kept
        self._pending_bytes = sum(len(p[1]) for p in kept)
        self._prefix[side] = b""
        self._verdict[side] = MORE

    def on_close(self, ts: float, reason: str) -> None:
        if self._parser is not None:
            self._parser.close(ts)
            self._parser = None
        elif not self._flow.ignore:
            if self._flow.payload_bytes == 0:
                self._uninspected("no-payload")
            elif all(v == NO or not self._flow.octets[i] for i, v in enumerate(self._verdict)):
                self._uninspected("unknown-protocol")  # every side that spoke was rejected
            else:
                self._uninspected("too-short")
        self._pending = []
        if self._flow.ignore and self._why and self._why != "no-payload":
            self._flow_event(ts, reason)
        if self._env.flow_observer is not None:
            client, server = self._eps()
            self._env.flow_observer(FlowSummary(client, server, self._proto, self._why == "encrypted",
                                                self._why, reason))

    def _flow_event(self, ts: float, close_reason: str) -> None:
        """Flow accounting for a flow whose content was not (or no longer) inspected: how much, why."""
        flow = self._flow
        client, server = self._eps()
        cs = flow.client_side
        attrs: dict[str, Any] = {
            "direction": "c2s",
            "uninspected_reason": self._why,
            "protocol": self._proto,
            "bytes_c2s": flow.octets[cs],
            "bytes_s2c": flow.octets[1 - cs],
            "packets_c2s": flow.pkts[cs],
            "packets_s2c": flow.pkts[1 - cs],
            "duration": round(max(0.0, flow.last_ts - flow.start_ts), 6),
            "close": close_reason,
        }
        if flow.midstream:
            attrs["midstream"] = True
        if self._extra:
            attrs.update(self._extra)
        five_tuple = ("tcp", client.host, client.port, server.host, server.port)
        env = self._env
        env.counters["events"] += 1
        env.counters["events.tcp"] += 1
        env.emit(Event(
            event_id=make_event_id(five_tuple, flow.start_ts, "flow", 0),
            sensor_id=env.sensor_id,
            observed_at=flow.start_ts,
            source_kind="net",
            channel="tcp",
            src=client,
            dst=Endpoint(server.host, server.port, self._tls.sni) if self._tls and self._tls.sni else server,
            encrypted=self._why == "encrypted",
            tls=self._tls,
            attributes=attrs,
        ))

    # -- detection -----------------------------------------------------------------------------
    def _ordered_specs(self) -> list[ProtocolSpec]:
        key = self._flow.key
        ports = {key[2], key[3]}
        specs = list(self._env.registry.values())
        return sorted(specs, key=lambda s: 0 if s.ports & ports else 1)

    def _sniff(self, side: int, ts: float) -> None:
        prefix = self._prefix[side]
        best = NO
        for spec in self._ordered_specs():
            v = spec.sniff(prefix)
            if v >= CLIENT:
                self._start(spec, side, v == CLIENT or (v == EITHER and side == self._flow.client_side))
                return
            best = max(best, v)
        if best == MORE and len(prefix) < SNIFF_LIMIT:
            return
        self._verdict[side] = NO
        other = 1 - side
        self._skipped[side] += sum(len(p[1]) for p in self._pending if p[0] == side)
        self._pending = [p for p in self._pending if p[0] != side]
        if self._verdict[other] == NO:
            self._uninspected("unknown-protocol")

    def _resniff(self, side: int, data: bytes, ts: float) -> bool:
        if self._flow.payload_bytes > UNDETECTED_LIMIT:
            self._uninspected("unknown-protocol")
            return True
        for spec in self._ordered_specs():
            v = spec.sniff(data[:SNIFF_LIMIT])
            if v >= CLIENT:
                self._verdict[side] = MORE
                self._pending.append((side, data, ts))
                self._start(spec, side, v == CLIENT or (v == EITHER and side == self._flow.client_side))
                return True
        return False

    def _start(self, spec: ProtocolSpec, side: int, side_is_client: bool) -> None:
        flow = self._flow
        client = side if side_is_client else 1 - side
        if client != flow.client_side:
            self._env.counters["tcp.client-side-corrected"] += 1
            flow.client_side = client
        self._proto = spec.name
        self._env.counters[f"flows.{spec.name}"] += 1
        parser = spec.factory(self)
        self._parser = parser
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        for s in (0, 1):
            if self._skipped[s]:  # bytes this side sent before a parsable start: a hole to resync over
                parser.gap(s == client, self._skipped[s], pending[0][2] if pending else 0.0)
        for s, data, ts in pending:
            if self._parser is None or flow.ignore:
                break
            parser.feed(s == client, data, ts)

    def _uninspected(self, reason: str) -> None:
        self._env.counters[f"uninspected.{reason}"] += 1
        self._flow.ignore = True
        self._why = reason
        self._pending = []
        self._pending_bytes = 0

    # -- ParserContext ---------------------------------------------------------------------------
    def stop_inspection(self, reason: str = "encrypted", attributes: dict[str, Any] | None = None) -> None:
        if attributes:
            self._extra = {**(self._extra or {}), **attributes}
        if not self._flow.ignore:
            self._flow.ignore = True
            self._why = reason

    def upgrade(self, protocol: str, attributes: dict[str, Any]) -> Parser:
        spec = self._env.registry[protocol]
        self._env.counters[f"flows.upgraded-{protocol}"] += 1
        self._proto = f"{self._proto}+{protocol}" if self._proto else protocol
        self._extra = {**(self._extra or {}), **attributes}
        parser = spec.factory(self)
        self._parser = parser
        return parser

    def endpoints(self) -> tuple[Endpoint, Endpoint]:
        return self._eps()

    def expect_data_channel(self, host: str, port: int, channel: DataChannel) -> None:
        self._env.counters["ftp.data-channel-announced"] += 1
        self._env.expectations.add(host, port, channel)

    @property
    def data_channel(self) -> DataChannel | None:
        return self._data_channel

    def count(self, key: str, n: int = 1) -> None:
        self._env.counters[key] += n

    def _eps(self) -> tuple[Endpoint, Endpoint]:
        if self._endpoints is None:
            a0, a1, p0, p1 = self._flow.key
            e0, e1 = Endpoint(_addr(a0), p0), Endpoint(_addr(a1), p1)
            self._endpoints = (e0, e1) if self._flow.client_side == 0 else (e1, e0)
        return self._endpoints

    def describe(self) -> str:
        c, s = self._eps()
        return f"tcp {c} -> {s}"

    def dead_letter(self, reason: str, detail: str, payload: bytes, ts: float) -> None:
        env = self._env
        env.counters[f"dead_letters.{reason}"] += 1
        env.dead_letter(
            DeadLetter(
                stage="net-sensor",
                reason=reason,
                detail=f"{detail} ({self._proto} flow {self.describe()})",
                source=env.source,
                observed_at=ts,
                payload=bytes(payload[:DEAD_LETTER_PAYLOAD]),
            )
        )

    def _named(self, ep: Endpoint, name: str) -> Endpoint:
        """``ep`` with a name (AE title, HL7 application), cached: a flow reuses the same few names."""
        cache = self._names
        if cache is None:
            cache = self._names = {}
        key = (ep.port, ep.host, name)
        got = cache.get(key)
        if got is None:
            got = cache[key] = Endpoint(ep.host, ep.port, name)
        return got

    def _event_id(self, direction: str, ordinal: int) -> str:
        """``make_event_id(five_tuple, start_ts, direction, ordinal)``, without re-hashing the flow key.

        The flow part of the hash is computed once per flow and copied per message; the result
        is byte-for-byte what ``make_event_id`` gives (tests check it).
        """
        base = self._id_base
        if base is None:
            client, server = self._eps()
            base = hashlib.blake2b(digest_size=16)
            for p in (("tcp", client.host, client.port, server.host, server.port), self._flow.start_ts):
                base.update(repr(p).encode("utf-8", "surrogatepass"))
                base.update(b"\x1f")
            self._id_base = base
        h = base.copy()
        tail = _DIRECTION_REPR.get(direction) or f"{direction!r}\x1f".encode("utf-8", "surrogatepass")
        h.update(tail + str(ordinal).encode() + b"\x1f")
        return h.hexdigest()

    def message(self, msg: Message) -> None:
        env = self._env
        client, server = self._endpoints or self._eps()
        if msg.from_client:
            src, dst, direction, idx = client, server, "c2s", 1
        else:
            src, dst, direction, idx = server, client, "s2c", 0
        if msg.src_name:
            src = self._named(src, msg.src_name)
        if msg.dst_name:
            dst = self._named(dst, msg.dst_name)
        self._ordinals[idx] += 1
        content = b"" if msg.encrypted else msg.content
        truncated = msg.truncated
        if len(content) > env.max_message_bytes:
            content = content[: env.max_message_bytes]
            truncated = True
        attrs = msg.attributes
        attrs["direction"] = direction
        if self._extra:
            attrs.update(self._extra)
        if msg.tls is not None:
            self._tls = msg.tls
        ev = build_event(self._event_id(direction, self._ordinals[idx]), env.sensor_id, msg.ts, "net", msg.channel,
                         src, dst, msg.actor, "", msg.encrypted, msg.tls, content, msg.content_type,
                         max(msg.size, len(content)), truncated, attrs)
        counters = env.counters
        counters["events"] += 1
        counters[_EVENT_KEYS.get(msg.channel) or f"events.{msg.channel}"] += 1
        env.emit(ev)


def make_session_factory(env: SessionEnv) -> Callable[[TcpFlow], AppSession]:
    def factory(flow: TcpFlow) -> AppSession:
        return AppSession(flow, env)

    return factory

