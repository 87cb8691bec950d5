"""The network sensor: capture → hand-parsed headers → TCP reassembly → protocol parsers → Events.

``NetSensor`` is what ``healthdlp sensor net`` and the embedded runner use; ``scan_pcap`` is the
one-call form for ``healthdlp scan`` and tests. Nothing here raises on bad input: a cut or
corrupt capture, a malformed packet or a parser surprise becomes a DeadLetter with a countable
reason, and the run goes on.
"""

from __future__ import annotations

import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from model.config import NetConfig
from model.events import DeadLetter, Event
from sensors.net.capture import CaptureFile, Record, live_records
from sensors.net.decode import Segment, decode_fragment, decode_reassembled, decode_tcp
from sensors.net.ipfrag import FragmentTable
from sensors.net.protocols import REGISTRY
from sensors.net.reassembly import FlowTable
from sensors.net.session import Expectations, FlowSummary, SessionEnv, make_session_factory
from sensors.sink import EventSink, ListSink

#: Decode outcomes that mean a broken packet (dead-lettered) rather than traffic we do not inspect.
MALFORMED = frozenset({"bad-ip-header", "bad-tcp-header", "truncated-header"})
#: At most this many per-packet dead letters per run; beyond it they are only counted, so a
#: capture full of garbage cannot flood the dead-letter topic.
MAX_PACKET_DEAD_LETTERS = 10_000
_PACKET_DL_PAYLOAD = 2048


class NetSensor:
    """Turns packets into Events on ``sink``; ``stats`` counts everything that happened."""

    def __init__(self, cfg: NetConfig, sensor_id: str, sink: EventSink,
                 flow_observer: Callable[[FlowSummary], None] | None = None) -> None:
        self.flow_observer = flow_observer  # called once per closed flow (cross-checks, a conn log)
        self.cfg = cfg
        self.sensor_id = sensor_id
        self.sink = sink
        self._counters: Counter[str] = Counter()
        self._packet_dead_letters = 0

    @property
    def stats(self) -> dict[str, int]:
        return dict(self._counters)

    # -- entry points ----------------------------------------------------------------------------
    def run_pcap(self, path: str | Path) -> None:
        """Process one pcap/pcapng file to its end (or to the damage); flows end with the file."""
        source = str(path)
        c = self._counters
        c["pcap.files"] += 1
        try:
            fh = open(path, "rb")  # closed by the with below
        except OSError as e:
            self._dead_letter("pcap-unreadable", f"cannot open {source}: {e.strerror}", source, 0.0)
            return
        with fh:
            cap = CaptureFile(fh, source)
            try:
                self._consume(cap.batches(), source)
            except OSError as e:
                self._dead_letter("pcap-unreadable", f"read error in {source}: {e.strerror}", source, 0.0)
        if cap.problem is not None:
            p = cap.problem
            c[f"pcap.{p.reason}"] += 1
            self._dead_letter(p.reason, f"{p.detail} (at byte {p.offset})", source, time.time(), p.tail)
        self.sink.flush()

    def run_live(self, interface: str, bpf: str, stop: threading.Event | None = None) -> None:
        """Capture on ``interface`` with the BPF ``bpf`` until ``stop`` is set."""
        stop = stop or threading.Event()
        source = f"iface:{interface}"
        records = live_records(interface, bpf, stop, snaplen=self.cfg.snaplen, on_kernel_stats=self._kernel_stats)
        self._consume(([r] for r in records), source)  # live frames come one at a time
        self.sink.flush()

    def _kernel_stats(self, received: int, dropped: int) -> None:
        """PACKET_STATISTICS deltas (the kernel resets them on each read): what the socket lost."""
        self._counters["live.kernel-packets"] += received
        self._counters["live.kernel-drops"] += dropped

    # -- the hot loop ------------------------------------------------------------------------------
    def _consume(self, batches: Iterable[list[Record]], source: str) -> None:
        """Every record of ``batches`` through decode → reassembly → parsers.

        Written for the compiled build too: ``decode_tcp`` and ``table.packet`` are called
        directly (native calls under mypyc, not through a bound-method object or ``*args``), and
        records come in lists, not one generator step each.
        """
        c = self._counters
        env = SessionEnv(
            sensor_id=self.sensor_id,
            source=source,
            max_message_bytes=self.cfg.max_message_bytes,
            counters=c,
            emit=self.sink.emit,
            dead_letter=self._sink_dead_letter,
            registry=REGISTRY,
            expectations=Expectations(c),
            flow_observer=self.flow_observer,
        )
        table = FlowTable(
            make_session_factory(env),
            c,
            max_flows=self.cfg.max_flows,
            max_flow_buffer=self.cfg.max_flow_buffer,
            idle_timeout=self.cfg.idle_timeout,
            max_buffered_bytes=self.cfg.max_buffered_bytes,
        )
        frags = FragmentTable(c, max_bytes=max(1 << 16, self.cfg.max_buffered_bytes // 8))
        packets = nbytes = 0
        last_ts = 0.0
        skipped: Counter[str] = Counter()
        try:
            for batch in batches:
                for ts, linktype, frame, origlen in batch:
                    if linktype < 0:  # live heartbeat: no packet, just time passing
                        table.sweep(ts)
                        continue
                    packets += 1
                    nbytes += len(frame)
                    last_ts = ts
                    try:
                        seg = decode_tcp(linktype, frame, origlen)
                        if not isinstance(seg, str):
                            src, dst, sport, dport, seq, flags, payload, missing = seg
                            table.packet(ts, src, dst, sport, dport, seq, flags, payload, missing)
                            continue
                        why = seg
                        if why == "ip-fragment":
                            whole = self._fragment(frags, ts, linktype, frame)
                            if whole is None:
                                continue
                            if not isinstance(whole, str):
                                src, dst, sport, dport, seq, flags, payload, missing = whole
                                table.packet(ts, src, dst, sport, dport, seq, flags, payload, missing)
                                continue
                            why = whole
                    except (struct.error, IndexError):
                        why = "truncated-header"
                    except Exception as e:  # a parser bug must not stop the stream: count and keep it
                        c["internal-error"] += 1
                        self._packet_dead_letter("net-internal-error", f"{type(e).__name__}: {e}",
                                                 source, ts, frame)
                        continue
                    skipped[why] += 1
                    if why in MALFORMED:
                        self._packet_dead_letter("packet-malformed", f"{why} in a frame of {len(frame)} bytes",
                                                 source, ts, frame)
                    elif why == "linktype-unsupported" and skipped[why] == 1:
                        self._dead_letter("pcap-linktype", f"link type {linktype} is not supported; its "
                                          "packets are counted as decode.linktype-unsupported", source, ts)
        finally:
            c["packets"] += packets
            c["bytes"] += nbytes
            for k, v in skipped.items():
                c[f"decode.{k}"] += v
            frags.close()
            try:
                table.close_all(last_ts or None)
            except Exception as e:  # same rule at the end of input
                c["internal-error"] += 1
                self._dead_letter("net-internal-error", f"while closing flows: {type(e).__name__}: {e}",
                                  source, last_ts)

    @staticmethod
    def _fragment(frags: FragmentTable, ts: float, linktype: int, frame: bytes) -> Segment | str | None:
        """One IP fragment into the fragment table; the TCP segment once its datagram is whole."""
        frag = decode_fragment(linktype, frame)
        if isinstance(frag, str):
            return frag
        key, offset, more, data, src, dst, proto = frag
        whole = frags.add(ts, key, offset, more, data)
        if whole is None:
            return None
        return decode_reassembled(src, dst, proto, whole)

    # -- dead letters --------------------------------------------------------------------------------
    def _sink_dead_letter(self, letter: DeadLetter) -> None:
        self._counters["dead_letters"] += 1
        self.sink.dead_letter(letter)

    def _dead_letter(self, reason: str, detail: str, source: str, ts: float, payload: bytes = b"") -> None:
        self._counters[f"dead_letters.{reason}"] += 1
        self._sink_dead_letter(DeadLetter("net-sensor", reason, detail, source, ts, payload))

    def _packet_dead_letter(self, reason: str, detail: str, source: str, ts: float, frame: bytes) -> None:
        if self._packet_dead_letters >= MAX_PACKET_DEAD_LETTERS:
            self._counters["dead_letters.suppressed"] += 1
            return
        self._packet_dead_letters += 1
        self._dead_letter(reason, detail, source, ts, frame[:_PACKET_DL_PAYLOAD])


def scan_pcap(
    path: str | Path, cfg: NetConfig, sensor_id: str
) -> tuple[list[Event], list[DeadLetter], dict[str, int]]:
    """Everything one capture file yields, in memory: (events, dead letters, stats)."""
    sink = ListSink()
    sensor = NetSensor(cfg, sensor_id, sink)
    sensor.run_pcap(path)
    return sink.events, sink.dead_letters, sensor.stats
