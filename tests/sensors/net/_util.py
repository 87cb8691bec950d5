"""Shared helpers for the network sensor tests: write crafted packets to a pcap and scan it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from model.config import NetConfig
from model.events import DeadLetter, Event
from sensors.net import craft, scan_pcap

Result = tuple[list[Event], list[DeadLetter], dict[str, int]]


def scan_packets(
    tmp_path: Path,
    packets: Iterable[Any],
    *,
    linktype: int = 1,
    cfg: NetConfig | None = None,
    name: str = "t.pcap",
) -> Result:
    path = craft.write_pcap(tmp_path / name, packets, linktype)
    return scan_pcap(path, cfg or NetConfig(), "test-sensor")


def scan_turns(
    tmp_path: Path,
    turns: Sequence[tuple[str, bytes]],
    conv: craft.Conversation | None = None,
    *,
    cfg: NetConfig | None = None,
    **mutations: Any,
) -> Result:
    conv = conv or craft.Conversation()
    pkts = craft.conversation(turns, conv, **mutations)
    return scan_packets(tmp_path, pkts, linktype=craft.LINKTYPES[conv.link], cfg=cfg)


def by_channel(events: Sequence[Event], channel: str) -> list[Event]:
    return [e for e in events if e.channel == channel]


def assert_clean(stats: dict[str, int]) -> None:
    """No internal error may ever be hidden by the catch-all in the hot loop."""
    assert stats.get("internal-error", 0) == 0, stats
