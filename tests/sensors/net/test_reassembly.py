"""TCP reassembly: ordering, retransmissions, overlaps, gaps, limits and the flow table."""

from __future__ import annotations

from collections import Counter

import pytest

from sensors.net.decode import ACK, FIN, RST, SYN
from sensors.net.reassembly import FlowTable, HalfStream, TcpFlow


class Recorder:
    """A FlowHandler that writes what it gets; gaps appear as b'<gap:N>'."""

    def __init__(self) -> None:
        self.out: dict[int, bytearray] = {0: bytearray(), 1: bytearray()}
        self.closed: list[str] = []

    def on_data(self, side: int, data: bytes, ts: float) -> None:
        self.out[side] += data

    def on_gap(self, side: int, nbytes: int, ts: float) -> None:
        self.out[side] += f"<gap:{nbytes}>".encode()

    def on_close(self, ts: float, reason: str) -> None:
        self.closed.append(reason)


def half(max_buffer: int = 1 << 20) -> tuple[HalfStream, Recorder, Counter[str]]:
    rec, c = Recorder(), Counter[str]()
    return HalfStream(0, rec, c, max_buffer), rec, c


def test_in_order_after_syn():
    hs, rec, c = half()
    hs.segment(100, SYN, b"", 0, 0)
    hs.segment(101, ACK, b"hello ", 0, 0)
    hs.segment(107, ACK, b"world", 0, 0)
    assert bytes(rec.out[0]) == b"hello world"
    assert not c


def test_out_of_order_is_buffered_then_delivered_in_order():
    hs, rec, c = half()
    hs.segment(1, SYN, b"", 0, 0)
    hs.segment(7, ACK, b"world", 0, 0)
    hs.segment(12, ACK, b"!", 0, 0)
    assert bytes(rec.out[0]) == b""
    hs.segment(2, ACK, b"hello", 0, 0)
    assert bytes(rec.out[0]) == b"helloworld!"
    assert c["tcp.out-of-order"] == 2 and not hs.pending


def test_retransmission_is_dropped_and_counted():
    hs, rec, c = half()
    hs.segment(0, 0, b"abc", 0, 0)
    hs.segment(0, 0, b"abc", 0, 0)
    hs.segment(3, 0, b"def", 0, 0)
    assert bytes(rec.out[0]) == b"abcdef"
    assert c["tcp.retransmission"] == 1 and c["tcp.overlap-conflict"] == 0


def test_overlap_with_delivered_data_is_first_wins_and_conflict_counted():
    hs, rec, c = half()
    hs.segment(0, 0, b"abcdef", 0, 0)
    hs.segment(4, 0, b"XYghi", 0, 0)  # 'ef' rewritten as 'XY': conflict, original kept
    assert bytes(rec.out[0]) == b"abcdefghi"
    assert c["tcp.overlap"] == 1 and c["tcp.overlap-conflict"] == 1


def test_overlap_between_buffered_segments_first_arrival_wins():
    hs, rec, c = half()
    hs.segment(0, 0, b"ab", 0, 0)
    hs.segment(5, 0, b"FGH", 0, 0)  # arrives first
    hs.segment(4, 0, b"exyzW", 0, 0)  # overlaps FGH with different bytes, then one new byte
    hs.segment(2, 0, b"cd", 0, 0)
    assert bytes(rec.out[0]) == b"abcdeFGHW"
    assert c["tcp.overlap-conflict"] == 1


def test_identical_overlap_is_not_a_conflict():
    hs, rec, c = half()
    hs.segment(0, 0, b"abcdef", 0, 0)
    hs.segment(3, 0, b"defgh", 0, 0)
    assert bytes(rec.out[0]) == b"abcdefgh"
    assert c["tcp.overlap"] == 1 and c["tcp.overlap-conflict"] == 0


def test_buffer_bound_forces_a_gap():
    hs, rec, c = half(max_buffer=10)
    hs.segment(0, 0, b"ab", 0, 0)
    hs.segment(10, 0, b"0123456789", 0, 0)  # hole 2..9 (8 bytes), buffered
    assert bytes(rec.out[0]) == b"ab"
    hs.segment(20, 0, b"X", 0, 0)  # over the bound: skip the hole, deliver what is buffered
    assert bytes(rec.out[0]) == b"ab<gap:8>0123456789X"
    assert c["tcp.gap"] == 1 and c["tcp.gap-bytes"] == 8 and c["tcp.buffer-limit"] == 1
    assert hs.pending_bytes == 0


def test_flush_skips_holes_including_the_tail_before_fin():
    hs, rec, c = half()
    hs.segment(0, 0, b"ab", 0, 0)
    hs.segment(5, 0, b"fg", 0, 0)
    hs.segment(10, FIN, b"", 0, 0)
    assert not hs.finished
    hs.flush(1.0)
    assert bytes(rec.out[0]) == b"ab<gap:3>fg<gap:3>"
    assert c["tcp.gap"] == 2
    assert hs.finished


def test_sequence_number_wraparound():
    hs, rec, _ = half()
    hs.segment(0xFFFFFFFD, 0, b"abc", 0, 0)
    hs.segment(0, 0, b"def", 0, 0)
    hs.segment(6, 0, b"jkl", 0, 0)  # out of order across the wrap
    hs.segment(3, 0, b"ghi", 0, 0)
    assert bytes(rec.out[0]) == b"abcdefghijkl"


def test_midstream_start_takes_the_first_seen_sequence_number():
    hs, rec, _ = half()
    hs.segment(123456, ACK, b"middle ", 0, 0)
    hs.segment(123463, ACK, b"of it", 0, 0)
    assert bytes(rec.out[0]) == b"middle of it"


def test_snapped_segment_becomes_an_immediate_gap():
    hs, rec, c = half()
    hs.segment(0, 0, b"abc", 5, 0)
    hs.segment(8, 0, b"z", 0, 0)
    assert bytes(rec.out[0]) == b"abc<gap:5>z"
    assert c["tcp.snaplen-gap"] == 1


def test_many_tiny_out_of_order_segments_stay_bounded():
    hs, _rec, c = half()
    for i in range(1, 5000):
        hs.segment(2 * i, 0, b"x", 0, 0)
    assert len(hs.pending) <= 2049
    assert c["tcp.buffer-limit"] >= 1


# -- flow table ----------------------------------------------------------------------------------
A, B = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def table(**kw):
    handlers: list[Recorder] = []

    def make(flow: TcpFlow) -> Recorder:
        r = Recorder()
        handlers.append(r)
        return r

    c: Counter[str] = Counter()
    opts = {"max_flows": 100, "max_flow_buffer": 1 << 16, "idle_timeout": 60.0, **kw}
    return FlowTable(make, c, **opts), handlers, c


def test_both_directions_land_in_one_flow_and_fin_closes_it():
    t, handlers, c = table()
    t.packet(0.0, A, B, 5000, 80, 10, SYN, b"", 0)
    t.packet(0.1, B, A, 80, 5000, 99, SYN | ACK, b"", 0)
    t.packet(0.2, A, B, 5000, 80, 11, ACK, b"req", 0)
    t.packet(0.3, B, A, 80, 5000, 100, ACK, b"resp", 0)
    t.packet(0.4, A, B, 5000, 80, 14, FIN | ACK, b"", 0)
    t.packet(0.5, B, A, 80, 5000, 104, FIN | ACK, b"", 0)
    assert len(handlers) == 1
    h = handlers[0]
    assert bytes(h.out[0]) == b"req" and bytes(h.out[1]) == b"resp"
    assert h.closed == ["fin"] and c["flows.closed-fin"] == 1
    t.packet(0.6, A, B, 5000, 80, 15, ACK, b"", 0)
    assert c["tcp.after-close"] == 1


def test_syn_ack_first_makes_its_sender_the_server():
    flow = TcpFlow((B, A, 80, 5000), 0.0, SYN | ACK)
    assert flow.client_side == 1
    assert TcpFlow((A, B, 5000, 80), 0.0, ACK).client_side == 0
    assert TcpFlow((B, A, 80, 5000), 0.0, ACK).client_side == 1


def test_rst_closes_and_flushes_with_gaps():
    t, handlers, c = table()
    t.packet(0.0, A, B, 5000, 80, 10, SYN, b"", 0)
    t.packet(0.1, A, B, 5000, 80, 11, ACK, b"ab", 0)
    t.packet(0.2, A, B, 5000, 80, 20, ACK, b"zz", 0)
    t.packet(0.3, B, A, 80, 5000, 1, RST, b"", 0)
    assert handlers[0].closed == ["rst"]
    assert bytes(handlers[0].out[0]) == b"ab<gap:7>zz"
    assert c["flows.closed-rst"] == 1


def test_max_flows_evicts_least_recently_used_and_counts_it():
    t, handlers, c = table(max_flows=3)
    for port in range(1000, 1005):
        t.packet(float(port), A, B, port, 80, 1, ACK, b"data", 0)
    assert len(t) == 3
    assert c["flows.evicted"] == 2 and c["flows"] == 5
    assert [h.closed for h in handlers[:2]] == [["evicted"], ["evicted"]]
    # the evicted flows' data reached their handlers before eviction
    assert bytes(handlers[0].out[0]) == b"data"


def test_lru_order_follows_activity():
    t, handlers, _c = table(max_flows=2)
    t.packet(0.0, A, B, 1, 80, 1, ACK, b"a", 0)
    t.packet(1.0, A, B, 2, 80, 1, ACK, b"b", 0)
    t.packet(2.0, A, B, 1, 80, 2, ACK, b"c", 0)  # flow 1 is now the most recent
    t.packet(3.0, A, B, 3, 80, 1, ACK, b"d", 0)  # evicts flow 2
    assert handlers[1].closed == ["evicted"] and handlers[0].closed == []


def test_idle_timeout_closes_quiet_flows():
    t, handlers, c = table(idle_timeout=10.0)
    t.packet(0.0, A, B, 1, 80, 1, ACK, b"a", 0)
    t.packet(5.0, A, B, 2, 80, 1, ACK, b"b", 0)
    t.packet(12.0, A, B, 2, 80, 2, ACK, b"c", 0)
    assert handlers[0].closed == ["idle"] and handlers[1].closed == []
    assert c["flows.idle-timeout"] == 1 and len(t) == 1


def test_port_reuse_after_close_starts_a_new_flow():
    t, handlers, _c = table()
    t.packet(0.0, A, B, 5000, 80, 10, SYN, b"", 0)
    t.packet(0.1, A, B, 5000, 80, 11, RST, b"", 0)
    t.packet(0.2, A, B, 5000, 80, 777, SYN, b"", 0)
    t.packet(0.3, A, B, 5000, 80, 778, ACK, b"new", 0)
    assert len(handlers) == 2 and bytes(handlers[1].out[0]) == b"new"


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]])
def test_any_arrival_order_reassembles_the_same_bytes(order):
    hs, rec, _ = half()
    chunks = [b"aaaa", b"bbbb", b"cccc", b"dddd"]
    hs.segment(0xFFFFFFFF, SYN, b"", 0, 0)
    for i in order:
        hs.segment(4 * i, 0, chunks[i], 0, 0)
    assert bytes(rec.out[0]) == b"aaaabbbbccccdddd"
