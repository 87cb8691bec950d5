"""TCP reassembly: per-direction byte streams, a bounded flow table, and every anomaly counted.

Why it is shaped like this:
- In-order segments (the overwhelming majority) take a fast path: one comparison, one call.
- Out-of-order segments wait in a per-direction buffer bounded by ``max_flow_buffer``; when the
  bound, a FIN/RST, the idle timeout or eviction forces delivery, missing ranges are skipped and
  announced to the consumer as a *gap* (``on_gap``) so a parser can resynchronise rather than
  glue unrelated bytes together.
- Overlaps are resolved first-wins (what arrived first stays; a later copy never rewrites
  history) and overlaps whose bytes *differ* are counted as ``tcp.overlap-conflict``: that is
  the classic IDS-evasion pattern and an analyst wants to know it happened.
- The flow table is an LRU with a global bound; an evicted live flow is flushed (its parser
  still emits what it has) and counted, never silently dropped.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Final, Protocol

from sensors.net.decode import ACK, FIN, RST, SYN

_M: Final = 0xFFFFFFFF
#: Upper bound on buffered out-of-order segments per direction (besides the byte bound), so a
#: peer sending thousands of one-byte segments cannot make insertion quadratic.
MAX_PENDING_SEGMENTS: Final = 2048


class FlowHandler(Protocol):
    """What reassembly feeds: ordered bytes per side, gaps, and the end of the flow."""

    def on_data(self, side: int, data: bytes, ts: float) -> None: ...

    def on_gap(self, side: int, nbytes: int, ts: float) -> None: ...

    def on_close(self, ts: float, reason: str) -> None: ...


class MemoryBudget:
    """The global bound on bytes held for reassembly across all flows (``NetConfig.max_buffered_bytes``).

    Every half stream adds and subtracts its out-of-order bytes here; when the sum goes over
    ``limit`` the flow table forces delivery (with gaps) of the least recently used flows'
    buffers until it is back under 90 % of the limit. Counted, never silent.
    """

    __slots__ = ("limit", "relieve", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.relieve: Callable[[float], None] = lambda ts: None


class HalfStream:
    """One direction of a TCP connection, in absolute byte offsets from the first seen byte."""

    __slots__ = (
        "_budget", "_counters", "_deliver", "_gap", "_side", "fin_off", "max_buffer", "nxt", "off",
        "pending", "pending_bytes", "tail", "tail_off",
    )

    def __init__(self, side: int, handler: FlowHandler, counters: Counter[str], max_buffer: int,
                 budget: MemoryBudget | None = None) -> None:
        self._budget = budget if budget is not None else MemoryBudget(1 << 62)
        self._side = side
        self._deliver = handler.on_data
        self._gap = handler.on_gap
        self._counters = counters
        self.max_buffer = max_buffer
        self.nxt = -1  # next expected 32-bit sequence number, -1 until the first segment
        self.off = 0  # absolute offset of nxt
        self.pending: dict[int, bytes] = {}  # absolute offset -> bytes, waiting for a hole to fill
        self.pending_bytes = 0
        self.tail = b""  # the last delivered chunk, to check retransmissions for conflicts
        self.tail_off = 0
        self.fin_off = -1

    @property
    def finished(self) -> bool:
        return self.fin_off >= 0 and self.off >= self.fin_off and not self.pending

    def segment(self, seq: int, flags: int, payload: bytes, missing: int, ts: float) -> None:
        if flags & SYN:
            seq = (seq + 1) & _M  # data on a SYN (fast open) starts after the SYN's sequence number
        if self.nxt < 0:
            self.nxt = seq
        n = len(payload)
        if n or missing:
            if seq == self.nxt and not self.pending:
                self.tail = payload
                self.tail_off = self.off
                self.nxt = (seq + n) & _M
                self.off += n
                if n:
                    self._deliver(self._side, payload, ts)
                if missing:
                    self._skip(missing, ts, "tcp.snaplen-gap")
            else:
                self._slow(seq, payload, missing, ts)
        if flags & FIN:
            d = (seq + n + missing - self.nxt) & _M
            if d >= 0x80000000:
                d -= 1 << 32
            self.fin_off = max(self.off + d, self.off)

    def _skip(self, nbytes: int, ts: float, reason: str) -> None:
        self._counters[reason] += 1
        self._counters["tcp.gap-bytes"] += nbytes
        self.nxt = (self.nxt + nbytes) & _M
        self.off += nbytes
        self.tail = b""
        self._gap(self._side, nbytes, ts)

    def _slow(self, seq: int, payload: bytes, missing: int, ts: float) -> None:
        c = self._counters
        d = (seq - self.nxt) & _M
        if d >= 0x80000000:
            d -= 1 << 32
        start = self.off + d
        n = len(payload)
        if d < 0:
            self._check_conflict(start, payload)
            if d + n <= 0:
                c["tcp.retransmission"] += 1
                return
            c["tcp.overlap"] += 1
            payload = payload[-d:]
            start = self.off
        if start == self.off and not self.pending:
            self.segment(self.nxt, 0, payload, missing, ts)
            return
        if start > self.off:
            c["tcp.out-of-order"] += 1
        self._insert(start, payload)
        if missing:  # a snapped segment out of order: its hole is skipped when delivery is forced
            c["tcp.snaplen-gap"] += 1
        self._drain(ts)
        if self.pending_bytes > self.max_buffer or len(self.pending) > MAX_PENDING_SEGMENTS:
            c["tcp.buffer-limit"] += 1
            while self.pending and (
                self.pending_bytes > self.max_buffer or len(self.pending) > MAX_PENDING_SEGMENTS
            ):
                self._force_one(ts)
        b = self._budget
        if b.used > b.limit:
            b.relieve(ts)

    def _check_conflict(self, start: int, payload: bytes) -> None:
        tail = self.tail
        if not tail:
            return
        lo = max(start, self.tail_off)
        hi = min(start + len(payload), self.tail_off + len(tail))
        if lo < hi and payload[lo - start : hi - start] != tail[lo - self.tail_off : hi - self.tail_off]:
            self._counters["tcp.overlap-conflict"] += 1

    def _insert(self, start: int, data: bytes) -> None:
        """Buffer ``data`` at ``start``, first-wins against what is already buffered."""
        pieces = [(start, data)]
        for ps, pd in list(self.pending.items()):
            pe = ps + len(pd)
            nxt_pieces: list[tuple[int, bytes]] = []
            for s, dd in pieces:
                e = s + len(dd)
                if e <= ps or s >= pe:
                    nxt_pieces.append((s, dd))
                    continue
                lo, hi = max(s, ps), min(e, pe)
                if dd[lo - s : hi - s] != pd[lo - ps : hi - ps]:
                    self._counters["tcp.overlap-conflict"] += 1
                else:
                    self._counters["tcp.overlap"] += 1
                if s < ps:
                    nxt_pieces.append((s, dd[: ps - s]))
                if e > pe:
                    nxt_pieces.append((pe, dd[pe - s :]))
            pieces = nxt_pieces
            if not pieces:
                self._counters["tcp.retransmission"] += 1
                return
        for s, dd in pieces:
            if dd:
                self.pending[s] = dd
                self.pending_bytes += len(dd)
                self._budget.used += len(dd)

    def _drain(self, ts: float) -> None:
        """Deliver buffered segments that have become contiguous."""
        pending = self.pending
        while pending:
            s = min(pending)
            if s > self.off:
                return
            data = pending.pop(s)
            self.pending_bytes -= len(data)
            self._budget.used -= len(data)
            e = s + len(data)
            if e <= self.off:
                self._check_conflict(s, data)
                continue
            if s < self.off:
                self._check_conflict(s, data)
                data = data[self.off - s :]
            self.tail = data
            self.tail_off = self.off
            self.nxt = (self.nxt + len(data)) & _M
            self.off += len(data)
            self._deliver(self._side, data, ts)

    def _force_one(self, ts: float) -> None:
        s = min(self.pending)
        if s > self.off:
            self._skip(s - self.off, ts, "tcp.gap")
        self._drain(ts)

    def release(self, ts: float) -> int:
        """Deliver everything buffered now, skipping holes (global memory pressure); bytes released."""
        before = self.pending_bytes
        while self.pending:
            self._force_one(ts)
        return before

    def flush(self, ts: float) -> None:
        """End of the stream: deliver everything buffered, skipping holes.

        A missing tail before a FIN is a gap too.
        """
        while self.pending:
            self._force_one(ts)
        if self.fin_off > self.off:
            self._skip(self.fin_off - self.off, ts, "tcp.gap")


class TcpFlow:
    """One connection: two half streams, who the client is, and the application handler."""

    __slots__ = (
        "client_side", "closed", "fins", "handler", "ignore", "key", "last_ts", "midstream", "octets", "pkts",
        "sides", "start_ts",
    )

    def __init__(self, key: tuple[bytes, bytes, int, int], ts: float, flags: int) -> None:
        self.key = key  # (side0 addr, side1 addr, side0 port, side1 port)
        self.start_ts = ts
        self.last_ts = ts
        self.midstream = not flags & SYN
        if flags & SYN:
            self.client_side = 1 if flags & ACK else 0
        else:  # no handshake seen: the side with the lower (service) port is the server
            self.client_side = 0 if key[2] >= key[3] else 1
        self.sides: tuple[HalfStream, HalfStream] | None = None
        self.handler: FlowHandler | None = None
        self.ignore = False  # the application layer needs no more bytes (TLS done, uninspected)
        self.closed = False
        self.fins = 0  # bit per side that sent a FIN (used once the flow is no longer reassembled)
        self.octets = [0, 0]  # payload bytes per side (side 0 = the sender of the first packet)
        self.pkts = [0, 0]  # packets per side

    @property
    def payload_bytes(self) -> int:
        return self.octets[0] + self.octets[1]


class FlowTable:
    """All live flows, LRU-ordered, bounded by ``max_flows``, idled out after ``idle_timeout``.

    ``make_handler(flow)`` is called once per new flow; ``packet`` is the per-packet hot path.
    """

    def __init__(
        self,
        make_handler: Callable[[TcpFlow], FlowHandler],
        counters: Counter[str],
        *,
        max_flows: int,
        max_flow_buffer: int,
        idle_timeout: float,
        max_buffered_bytes: int = 256 << 20,
    ) -> None:
        self.budget = MemoryBudget(max_buffered_bytes)
        self.budget.relieve = self._relieve
        self._make_handler = make_handler
        self.counters = counters
        self.max_flows = max(1, max_flows)
        self.max_flow_buffer = max_flow_buffer
        self.idle_timeout = idle_timeout
        self._index: dict[tuple[bytes, bytes, int, int], tuple[TcpFlow, int]] = {}
        self._lru: OrderedDict[tuple[bytes, bytes, int, int], TcpFlow] = OrderedDict()
        self._next_sweep = 0.0
        self._sweep_every = max(0.5, idle_timeout / 8)

    def __len__(self) -> int:
        return len(self._lru)

    def packet(self, ts: float, src: bytes, dst: bytes, sport: int, dport: int, seq: int, flags: int,
               payload: bytes, missing: int) -> None:
        hit = self._index.get((src, dst, sport, dport))
        if hit is None:
            flow = self._new_flow(ts, src, dst, sport, dport, flags)
            side = 0
        else:
            flow, side = hit
            if flow.closed:
                if flags & SYN and not flags & ACK:  # the 4-tuple is reused by a new connection
                    self._remove(flow)
                    flow = self._new_flow(ts, src, dst, sport, dport, flags)
                    side = 0
                else:
                    self.counters["tcp.after-close"] += 1
                    return
            self._lru.move_to_end(flow.key)
        flow.last_ts = ts
        flow.pkts[side] += 1
        if payload:
            flow.octets[side] += len(payload)
        if ts >= self._next_sweep:
            self.sweep(ts)
        if flow.ignore:  # accounting only: close on RST or once both sides sent a FIN
            if flags & RST:
                self._close(flow, ts, "rst")
            elif flags & FIN:
                flow.fins |= 1 << side
                if flow.fins == 3 or (flow.sides is not None and flow.sides[1 - side].fin_off >= 0):
                    self._close(flow, ts, "fin")
            return
        sides = flow.sides
        if sides is None:
            if not payload and not missing and not flags & (SYN | FIN | RST):
                # a bare ACK: remember nothing yet, the sequence numbers of data will do
                return
            handler = flow.handler
            if handler is None:
                handler = flow.handler = self._make_handler(flow)
            mb = self.max_flow_buffer
            b = self.budget
            sides = flow.sides = (HalfStream(0, handler, self.counters, mb, b),
                                  HalfStream(1, handler, self.counters, mb, b))
        sides[side].segment(seq, flags, payload, missing, ts)
        if flags & RST:
            self._close(flow, ts, "rst")
        elif sides[0].fin_off >= 0 and sides[1].fin_off >= 0 and sides[0].finished and sides[1].finished:
            self._close(flow, ts, "fin")

    def _new_flow(self, ts: float, src: bytes, dst: bytes, sport: int, dport: int, flags: int) -> TcpFlow:
        if len(self._lru) >= self.max_flows:
            self._evict_one(ts)
        key = (src, dst, sport, dport)
        flow = TcpFlow(key, ts, flags)
        self._index[key] = (flow, 0)
        self._index[(dst, src, dport, sport)] = (flow, 1)
        self._lru[key] = flow
        self.counters["flows"] += 1
        if flow.midstream:
            self.counters["tcp.midstream"] += 1
        return flow

    def _evict_one(self, ts: float) -> None:
        _, victim = next(iter(self._lru.items()))
        if victim.closed:
            self.counters["flows.expired-closed"] += 1
        else:
            self.counters["flows.evicted"] += 1
            self._close(victim, ts, "evicted")
        self._remove(victim)

    def _remove(self, flow: TcpFlow) -> None:
        s0, s1, p0, p1 = flow.key
        self._index.pop(flow.key, None)
        self._index.pop((s1, s0, p1, p0), None)
        self._lru.pop(flow.key, None)

    def _close(self, flow: TcpFlow, ts: float, reason: str) -> None:
        """Flush both directions (gaps included) and let the handler finish its messages."""
        if flow.closed:
            return
        flow.closed = True
        self.counters[f"flows.closed-{reason}"] += 1
        if flow.sides is not None and not flow.ignore:
            for hs in flow.sides:
                hs.flush(ts)
        if flow.sides is not None:
            for hs in flow.sides:  # an ignored flow may still hold out-of-order bytes: give them back
                if hs.pending:
                    self.budget.used -= hs.pending_bytes
                    hs.pending = {}
                    hs.pending_bytes = 0
        if flow.handler is not None:
            flow.handler.on_close(ts, reason)
        elif flow.payload_bytes == 0:
            self.counters["uninspected.no-payload"] += 1
        flow.sides = None
        flow.handler = None

    def _relieve(self, ts: float) -> None:
        """Global budget exceeded: release the buffers of the least recently used flows first."""
        c = self.counters
        c["memory.budget-exceeded"] += 1
        target = self.budget.limit * 9 // 10
        for flow in list(self._lru.values()):
            if self.budget.used <= target:
                break
            if flow.sides is None or flow.closed:
                continue
            released = 0
            for hs in flow.sides:
                if hs.pending:
                    released += hs.release(ts)
            if released:
                c["memory.flows-released"] += 1
                c["memory.bytes-released"] += released

    def sweep(self, now: float) -> None:
        """Close flows idle longer than ``idle_timeout``; the LRU front holds the idlest."""
        self._next_sweep = now + self._sweep_every
        limit = now - self.idle_timeout
        lru = self._lru
        while lru:
            flow = next(iter(lru.values()))
            if flow.last_ts >= limit:
                break
            if not flow.closed:
                self.counters["flows.idle-timeout"] += 1
                self._close(flow, now, "idle")
            self._remove(flow)

    def close_all(self, ts: float | None = None) -> None:
        """End of input: every live flow is flushed (counted as closed at end of capture)."""
        for flow in list(self._lru.values()):
            if not flow.closed:
                self._close(flow, ts if ts is not None else flow.last_ts, "end")
            self._remove(flow)
