"""The disk spool: fail-over, ordered replay, bounds and overflow policies, crash safety (no broker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.events import DeadLetter, Event, make_event_id
from sensors.sink import ListSink
from sensors.spool import MAGIC, DiskSpool, SpoolFull, SpoolSink, read_segment


class Broker:
    """Stands for the broker behind a sink: up or down; records what it acknowledged, in order."""

    def __init__(self) -> None:
        self.up = True
        self.acked: list[str] = []
        self.dead: list[str] = []
        self.connects = 0


class FakeSink(ListSink):
    def __init__(self, broker: Broker) -> None:
        super().__init__()
        self.broker = broker
        self.closed = False

    def flush(self) -> None:
        if not self.broker.up:
            raise ConnectionError("broker down")
        self.broker.acked.extend(e.event_id for e in self.events)
        self.broker.dead.extend(d.reason for d in self.dead_letters)
        self.events.clear()
        self.dead_letters.clear()

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def connector(broker: Broker):  # type: ignore[no-untyped-def]
    def connect() -> FakeSink:
        broker.connects += 1
        if not broker.up:
            raise ConnectionError("unreachable")
        return FakeSink(broker)
    return connect


def ev(i: int, actor: str = "alice", size: int = 10) -> Event:
    return Event(event_id=make_event_id("spool-test", i), sensor_id="s", observed_at=float(i), source_kind="log",
                 channel="usb", actor=actor, content=b"x" * size, size=size, attributes={"i": i})


def ids(r: range) -> list[str]:
    return [ev(i).event_id for i in r]


def make(tmp_path: Path, broker: Broker, clock: Clock, **kw: object) -> SpoolSink:
    return SpoolSink(connector(broker), tmp_path / "spool", retry_seconds=5.0, clock=clock, **kw)  # type: ignore[arg-type]


def test_direct_delivery_while_the_broker_is_up(tmp_path: Path) -> None:
    b, c = Broker(), Clock()
    s = make(tmp_path, b, c)
    for i in range(10):
        s.emit(ev(i))
    s.flush()
    assert b.acked == ids(range(10)) and not s.spooling and s.stats["spooled_events"] == 0


def test_outage_spools_and_replays_in_order(tmp_path: Path) -> None:
    b, c = Broker(), Clock()
    s = make(tmp_path, b, c, segment_bytes=4096)
    for i in range(5):
        s.emit(ev(i))
    s.flush()
    b.up = False
    for i in range(5, 40):
        s.emit(ev(i))
    s.flush()  # fails over: the 35 unacknowledged events are on disk, flush returns
    s.dead_letter(DeadLetter("log-sensor", "json-invalid", "x", "f", 1.0, b"{"))
    for i in range(40, 60):
        s.emit(ev(i))
    s.flush()
    assert s.spooling and s.stats["spooled_events"] == 55 and len(s.spool.segments) > 1
    c.t = 3.0
    b.up = True
    for i in range(60, 70):  # while spooling, new events queue behind the spooled ones
        s.emit(ev(i))
    s.flush()  # before retry_seconds: still spooling
    assert b.acked == ids(range(5))
    c.t = 6.0
    s.flush()
    assert b.acked == ids(range(70)) and b.dead == ["json-invalid"]
    assert not s.spooling and s.spool.bytes == 0 and list((tmp_path / "spool").iterdir()) == []
    for i in range(70, 75):  # direct again
        s.emit(ev(i))
    s.flush()
    assert b.acked == ids(range(75)) and s.stats["replayed_events"] == 65


def test_broker_down_at_start_then_up(tmp_path: Path) -> None:
    b, c = Broker(), Clock()
    b.up = False
    s = make(tmp_path, b, c)
    for i in range(3):
        s.emit(ev(i))
    s.flush()
    assert s.stats["connect_failures"] == 1 and s.spooling
    b.up = True
    c.t = 10
    s.flush()
    assert b.acked == ids(range(3))


def test_replay_failure_keeps_the_segment_and_retries(tmp_path: Path) -> None:
    b, c = Broker(), Clock()
    s = make(tmp_path, b, c)
    b.up = False
    s.emit(ev(1))
    s.flush()
    b.up = True
    c.t = 10

    def flaky() -> FakeSink:
        sink = FakeSink(b)
        b.up = False  # goes down again during the replay
        return sink

    s._connect = flaky  # type: ignore[assignment]
    s.flush()
    assert s.spooling and b.acked == [] and s.stats["delivery_failures"] >= 2
    s._connect = connector(b)  # type: ignore[assignment]
    b.up = True
    c.t = 20
    s.flush()
    assert b.acked == ids(range(1, 2))


def test_spool_survives_a_restart_and_is_replayed_first(tmp_path: Path) -> None:
    b, c = Broker(), Clock()
    s1 = make(tmp_path, b, c)
    b.up = False
    for i in range(20):
        s1.emit(ev(i))
    s1.flush()
    del s1  # a crash: nothing closed
    b.up = True
    s2 = make(tmp_path, b, c)
    assert s2.spooling and s2.spool.records == 20
    s2.emit(ev(20))
    s2.flush()
    assert b.acked == ids(range(21))


def test_torn_tail_is_skipped_and_counted(tmp_path: Path) -> None:
    b, c = Broker(), Clock()
    s1 = make(tmp_path, b, c)
    b.up = False
    for i in range(3):
        s1.emit(ev(i))
    s1.flush()
    seg = s1.spool.segments[0]
    with seg.open("ab") as f:  # a crash in the middle of appending the fourth record
        f.write(b"\x00\x00\x01\x00\xde\xad")
    b.up = True
    s2 = make(tmp_path, b, c)
    s2.flush()
    assert b.acked == ids(range(3)) and s2.stats["torn_records"] == 1


def test_segment_format(tmp_path: Path) -> None:
    sp = DiskSpool(tmp_path, max_bytes=1 << 20, segment_bytes=1 << 20)
    sp.append(1, b'{"a":1}')
    sp.sync()
    (seg,) = sp.segments
    assert seg.read_bytes().startswith(MAGIC)
    assert list(read_segment(seg)) == [(1, b'{"a":1}')]


@pytest.mark.parametrize("policy", ["block", "drop-newest", "drop-oldest"])
def test_overflow_policies_are_bounded_and_counted(tmp_path: Path, policy: str) -> None:
    b, c = Broker(), Clock()
    s = make(tmp_path, b, c, max_bytes=20_000, segment_bytes=4096, overflow=policy)
    b.up = False
    raised = False
    for i in range(200):
        s.emit(ev(i, size=200))
        try:
            s.flush()
        except SpoolFull:
            raised = True
    assert s.spool.bytes <= 20_000
    st = s.stats
    if policy == "block":
        assert raised and st["blocked"] > 0
    elif policy == "drop-newest":
        assert not raised and st["dropped_newest"] > 0
        kept = st["spooled_events"]
        b.up = True
        c.t = 100
        s.flush()
        assert b.acked == ids(range(kept))  # the oldest were kept
    else:
        assert not raised and st["dropped_oldest"] > 0
        b.up = True
        c.t = 100
        s.flush()
        assert b.acked[-1] == ev(199).event_id  # the newest were kept
        assert len(b.acked) + st["dropped_oldest"] == 200


def test_bad_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="overflow"):
        make(tmp_path, Broker(), Clock(), overflow="maybe")
