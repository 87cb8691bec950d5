"""Session internals the hot path relies on: event ids computed like make_event_id."""

from __future__ import annotations

from model.events import make_event_id
from sensors.net import session


def test_event_id_matches_make_event_id_for_any_direction():
    from collections import Counter

    from sensors.net.decode import SYN
    from sensors.net.protocols import REGISTRY
    from sensors.net.reassembly import TcpFlow

    flow = TcpFlow((bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), 40000, 80), 12.5, SYN)
    env = session.SessionEnv(sensor_id="s", source="t", max_message_bytes=1 << 20, counters=Counter(),
                             emit=lambda e: None, dead_letter=lambda d: None, registry=REGISTRY)
    s = session.AppSession(flow, env)
    five = ("tcp", "10.0.0.1", 40000, "10.0.0.2", 80)
    for direction, n in (("c2s", 1), ("s2c", 7), ("c2s", 123456), ("other-é", 2)):
        assert s._event_id(direction, n) == make_event_id(five, 12.5, direction, n)
