"""``healthdlp sensor syslog``: the subcommand module registers itself and runs the receiver (here with --print)."""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time

import pytest

from healthdlp import cmd_syslog
from tests.services import free_port


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="healthdlp")
    p.add_argument("--config")
    sub = p.add_subparsers(dest="command", required=True)
    cmd_syslog.register(sub)
    return p


def test_syslog_print_mode_receives_and_prints_events(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    args = parser().parse_args(["syslog", "--udp", f"127.0.0.1:{port}", "--print", "--duration", "1.5"])
    rc: list[int] = []
    t = threading.Thread(target=lambda: rc.append(args.func(args)))
    t.start()
    time.sleep(0.5)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b'<134>1 2024-11-25T09:00:01+08:00 gw01 nginx - - - 10.0.0.5 - alice [25/Nov/2024:09:00:01 +0800] '
                 b'"GET /fhir/Patient/8812 HTTP/1.1" 200 1 "-" "curl"', ("127.0.0.1", port))
    t.join(10)
    assert rc == [0]
    out, err = capsys.readouterr()
    events = [json.loads(x) for x in out.splitlines()]
    assert len(events) == 1 and events[0]["channel"] == "api-log" and events[0]["actor"] == "alice"
    assert f"listening udp 127.0.0.1:{port}" in err and '"syslog-messages": 1' in err


def test_syslog_without_addresses_is_a_clear_error() -> None:
    args = parser().parse_args(["syslog", "--print"])
    with pytest.raises(SystemExit, match="give --udp"):
        args.func(args)
