"""Fuzzing (bounded, ~10 s in CI): hostile bytes into every parser, and damaged captures of every protocol.

The property is the sensor's contract: nothing raises, every anomaly is a counter or a dead letter,
every flow ends exactly once. Parse errors are counted, never hidden (``internal-error`` is the
counter the per-packet guard bumps when a parser *did* raise; it must stay at zero).
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.config import NetConfig
from model.events import Endpoint
from sensors.net import craft, scan_pcap
from sensors.net.protocols import REGISTRY, DataChannel, Message, Parser

# -- every parser, straight on bytes ---------------------------------------------------------------
SEEDS: dict[str, bytes] = {
    "smtp": b"".join(p for _, p in craft.smtp_turns(craft.mime_mail(attachments=[("a.csv", "text/csv", b"x,y\n")]))),
    "ftp": b"220 FTP\r\nUSER u\r\n227 Entering Passive Mode (10,0,0,1,4,1)\r\nRETR f\r\n226 ok\r\n",
    "dicom": b"".join(p for _, p in craft.dicom_store_turns(1, max_pdv=300)),
    "postgres": b"".join(p for _, p in craft.pg_session([("SELECT 1", ["a"], [["1"], [None]])])),
    "mysql": b"".join(p for _, p in craft.mysql_session([("SELECT 1", ["a"], [["1"], [None]])])),
    "http": craft.http_request("POST", "/fhir/Patient?_count=5", body=craft.multipart_body(
        [("f", "x.csv", "text/csv", b"a,b")]), content_type="multipart/form-data; boundary=----healthdlpBoundary7MA4"),
    "hl7-mllp": craft.mllp(craft.hl7_adt_a01()),
    "tls": craft.tls_client_hello() + craft.tls_server_hello(),
    "imap": b"* OK ready\r\na STARTTLS\r\na OK go\r\n",
    "pop3": b"+OK\r\nUSER x\r\nSTLS\r\n+OK\r\n",
    "ftp-data": b"\x00\x01binary",
}


class FuzzContext:
    max_message_bytes = 4096

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.messages: list[Message] = []
        self.upgraded: Parser | None = None
        self.data_channel = DataChannel("c -> s", 0.0, "u", "RETR", "f.csv", "passive")

    def message(self, msg: Message) -> None:
        assert msg.channel and isinstance(msg.attributes, dict)
        self.messages.append(msg)

    def dead_letter(self, reason: str, detail: str, payload: bytes, ts: float) -> None:
        self.counters[f"dead_letters.{reason}"] += 1

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] += n

    def stop_inspection(self, reason: str = "encrypted", attributes: dict[str, Any] | None = None) -> None:
        self.counters["stopped"] += 1

    def upgrade(self, protocol: str, attributes: dict[str, Any]) -> Parser:
        self.upgraded = REGISTRY[protocol].factory(self)
        return self.upgraded

    def endpoints(self) -> tuple[Endpoint, Endpoint]:
        return Endpoint("10.0.0.1", 1000), Endpoint("10.0.0.2", 21)

    def expect_data_channel(self, host: str, port: int, channel: DataChannel) -> None:
        self.counters["announced"] += 1


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("feed"), st.booleans(), st.binary(max_size=300)),
        st.tuples(st.just("seed"), st.booleans(), st.integers(0, 4000), st.integers(1, 600), st.integers(0, 255)),
        st.tuples(st.just("gap"), st.booleans(), st.integers(1, 5000)),
    ),
    max_size=25,
)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(proto=st.sampled_from(sorted(REGISTRY)), ops=_ops)
def test_fuzz_every_parser_on_hostile_bytes(proto, ops):
    ctx = FuzzContext()
    parser = REGISTRY[proto].factory(ctx)
    seed = SEEDS[proto]
    for op in ops:
        target = ctx.upgraded or parser
        if op[0] == "feed":
            target.feed(op[1], op[2], 1.0)
        elif op[0] == "seed":  # a slice of a valid session with one byte flipped: deep in the state machine
            _, side, start, ln, flip = op
            chunk = bytearray(seed[start % max(1, len(seed)) :][:ln])
            if chunk:
                chunk[flip % len(chunk)] ^= 0xFF
            target.feed(side, bytes(chunk), 1.0)
        else:
            target.gap(op[1], op[2], 1.0)
    (ctx.upgraded or parser).close(2.0)
    assert all(isinstance(v, int) and v >= 0 for v in ctx.counters.values())
    assert all(len(m.content) <= ctx.max_message_bytes + 64 for m in ctx.messages)  # bounds hold


# -- whole captures: reassembly order, truncation, corruption ----------------------------------------
def _base_frames() -> list[bytes]:
    convs = [
        craft.conversation(craft.smtp_turns(craft.mime_mail()), craft.Conversation(dport=25, mss=300)),
        craft.conversation(craft.dicom_store_turns(1, max_pdv=200), craft.Conversation(dport=104, sport=2, mss=300)),
        craft.conversation(craft.pg_session([("SELECT 1", ["a"], [["1"]] * 20)]),
                           craft.Conversation(dport=5432, sport=3, mss=200)),
        craft.conversation(craft.mysql_session([("SELECT 1", ["a"], [["1"]] * 20)]),
                           craft.Conversation(dport=3306, sport=4, mss=200)),
        *craft.ftp_session([("RETR", "f.csv", b"a,b\n" * 300)]),
    ]
    frames = [bytes(p) for c in convs for p in c]
    frames += [bytes(p) for p in craft.fragment_packets(craft.conversation(
        [("c", craft.mllp(craft.hl7_adt_a01()))], craft.Conversation(sport=5, dport=2575)), 64)]
    return frames


_FRAMES = _base_frames()


def _scan(frames: list[bytes]) -> dict[str, int]:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + i // 50, i % 50, len(f), len(f)) + f)
    fd, name = tempfile.mkstemp(suffix=".pcap")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"".join(out))
        _, _, stats = scan_pcap(name, NetConfig(max_flow_buffer=4096, max_message_bytes=2048, max_flows=6,
                                                max_buffered_bytes=16_384), "fz")
    finally:
        os.unlink(name)
    return stats


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    perm_seed=st.randoms(use_true_random=False),
    window=st.integers(1, 40),
    drops=st.sets(st.integers(0, len(_FRAMES) - 1), max_size=10),
    flips=st.lists(st.tuples(st.integers(0, len(_FRAMES) - 1), st.integers(0, 1500), st.integers(1, 255)),
                   max_size=10),
)
def test_fuzz_damaged_captures_of_every_protocol(perm_seed, window, drops, flips):
    frames = [bytearray(f) for i, f in enumerate(_FRAMES) if i not in drops]
    for i, pos, x in flips:
        if i < len(frames) and frames[i]:
            frames[i][pos % len(frames[i])] ^= x
    # local reordering within a window: what real networks and evasion both do
    out: list[bytes] = []
    for k in range(0, len(frames), window):
        chunk = [bytes(f) for f in frames[k : k + window]]
        perm_seed.shuffle(chunk)
        out += chunk
    stats = _scan(out)
    assert stats.get("internal-error", 0) == 0, stats
    assert stats["flows"] == sum(v for k, v in stats.items() if k.startswith("flows.closed-"))
    # every dead letter is counted under its reason, and damage cannot multiply them past the input
    assert stats.get("dead_letters", 0) == sum(v for k, v in stats.items()
                                               if k.startswith("dead_letters.") and k != "dead_letters.suppressed")
    assert stats.get("dead_letters", 0) <= stats["packets"] + stats["flows"]



def test_postgres_datarow_with_lying_column_count_does_not_raise() -> None:
    """Regression (found by the fuzz test): a DataRow whose column count overruns the message is cut
    at the message end; the parser never reads past it (it used to raise struct.error)."""
    turns = craft.pg_session([("SELECT 1", ["a"], [["1"]] * 20)])
    ctx = FuzzContext()
    parser = REGISTRY["postgres"].factory(ctx)
    for side, payload in turns:
        if side == "s" and b"D\x00\x00\x00\x0b\x00\x01" in payload:
            payload = payload.replace(b"D\x00\x00\x00\x0b\x00\x01", b"D\x00\x00\x00\x0b\x00\xff", 1)
            assert b"\x00\xff" in payload
        parser.feed(side == "c", payload, 1.0)
    parser.close(2.0)
    assert ctx.messages, "the session still produced its events"
