"""Syslog receiver: header parsing, RFC 6587 framing, and real UDP/TCP/TLS sockets into the parsers."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from model.config import LogsConfig, SyslogConfig
from model.events import DeadLetter, Event
from sensors.logs.syslog import Framer, SyslogProcessor, SyslogReceiver, choose_format, parse_syslog
from sensors.sink import ListSink


class LockedSink(ListSink):
    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.flushes = 0

    def emit(self, event: Event) -> None:
        with self.lock:
            super().emit(event)

    def dead_letter(self, letter: DeadLetter) -> None:
        with self.lock:
            super().dead_letter(letter)

    def flush(self) -> None:
        self.flushes += 1


AUDIT = ('type=USER_DEVICE msg=audit(1732497600.1:5): pid=1 uid=0 auid=4294967295 msg=\'op=insert '
         'device=/devices/pci0000:00/usb1/1-2 device_rule="allow id 0781:5567 serial \\"SER1\\" name \\"Stick\\"" '
         'target=allow exe="/usr/sbin/usbguard-daemon" res=success\'')
ACCESS = '10.0.0.5 - alice [25/Nov/2024:09:00:01 +0800] "GET /fhir/Patient/8812 HTTP/1.1" 200 18211 "-" "curl"'


@pytest.mark.parametrize(
    "raw, rfc, host, app, msg",
    [
        (b"<34>1 2024-11-25T09:00:01.5+08:00 gw01 nginx 123 ID47 - " + ACCESS.encode(), "5424", "gw01", "nginx",
         ACCESS),
        (b'<165>1 2024-11-25T01:00:00Z h app - - [exampleSDID@32473 iut="3" eventSource="App\\]x"] \xef\xbb\xbfhello',
         "5424", "h", "app", "hello"),
        (b"<13>Nov 25 09:00:01 ws-042 kernel: usb 1-1: USB disconnect, device number 5", "3164", "ws-042", "kernel",
         "usb 1-1: USB disconnect, device number 5"),
        (b"<86>Nov  5 09:00:01 db1 postgres[77]: AUDIT: SESSION,1,1,READ,SELECT,,,select 1,<none>", "3164", "db1",
         "postgres", "AUDIT: SESSION,1,1,READ,SELECT,,,select 1,<none>"),
        (b"<14>2024-11-25T09:00:01+08:00 srv1 myapp[9]: started", "3164", "srv1", "myapp", "started"),
        (b"no header at all", "none", "", "", "no header at all"),
    ],
)
def test_parse_syslog(raw: bytes, rfc: str, host: str, app: str, msg: str) -> None:
    rec = parse_syslog(raw, time.time())
    assert (rec.rfc, rec.host, rec.app, rec.msg) == (rfc, host, app, msg)


def test_priority_and_time() -> None:
    rec = parse_syslog(b"<34>1 2024-11-25T01:00:00Z h a - - - m", 0.0)
    assert (rec.facility, rec.severity, rec.ts) == ("auth", "crit", 1732496400.0)


@pytest.mark.parametrize(
    "msg, app, fmt",
    [(ACCESS, "nginx", "access-log"), (AUDIT, "audispd", "auditd"), ("usb 1-1: Product: X", "kernel", "usb-kernel"),
     ("AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>", "postgres", "pgaudit"), ('{"ts": 1, "msg": "x"}', "app", "jsonl"),
     ("plain words", "app", "")],
)
def test_choose_format(msg: str, app: str, fmt: str) -> None:
    rec = parse_syslog(f"<13>Nov 25 09:00:01 h {app}: {msg}".encode(), time.time())
    assert choose_format(rec) == fmt


def test_framer_octet_counting_newlines_nul_and_split_reads() -> None:
    f = Framer(100)
    stream = b"11 <13>hello w" + b"orld" + b"<13>line one\n<13>line two\r\n" + b"<13>nul\x00" + b"5 abcde"
    out: list[tuple[bytes, bool]] = []
    for i in range(0, len(stream), 7):  # arbitrary TCP segment boundaries
        out += f.feed(stream[i:i + 7])
    assert out == [(b"<13>hello w", False), (b"orld<13>line one", False), (b"<13>line two", False),
                   (b"<13>nul", False), (b"abcde", False)]


def test_framer_bounds_long_frames() -> None:
    f = Framer(10)
    out = f.feed(b"25 " + b"x" * 25 + b"<13>ok\n")
    assert out == [(b"x" * 10, True), (b"<13>ok", False)]
    g = Framer(10)
    assert g.feed(b"y" * 30) == [(b"y" * 10, True)]
    assert g.feed(b"yyy\n<13>ok\n") == [(b"<13>ok", False)]  # the rest of the long line is skipped


def test_processor_feeds_format_parsers_and_keeps_plain_messages() -> None:
    sink = ListSink()
    proc = SyslogProcessor(LogsConfig(sample_files=False), "s1", sink, Counter())
    now = time.time()
    proc.process(b"<134>1 2024-11-25T09:00:01+08:00 gw01 nginx - - - " + ACCESS.encode(), "10.0.0.1:514", "udp", now)
    proc.process(b"<14>Nov 25 09:00:01 ws audispd: " + AUDIT.encode(), "10.0.0.2:514", "tcp", now)
    proc.process(b"<14>Nov 25 09:00:01 lis1 lisd: result ready for patient 110101199003074514", "10.0.0.3:514",
                 "udp", now)
    proc.process(b"<14>Nov 25 09:00:01 gw01 nginx: " + b'1.2.3.4 - - [x] "GET /" abc 1', "10.0.0.1:514", "udp", now)
    channels = [e.channel for e in sink.events]
    assert channels == ["api-log", "usb", "syslog"]
    api, usb, plain = sink.events
    assert api.attributes["patient_ids"] == ["8812"] and api.attributes["syslog_host"] == "gw01"
    assert usb.device == "SER1" and usb.attributes["transport"] == "tcp"
    assert plain.content == b"result ready for patient 110101199003074514" and plain.attributes["app"] == "lisd"
    assert [d.reason for d in sink.dead_letters] == ["access-parse"]
    assert len({e.event_id for e in sink.events}) == 3


def wait_for(pred: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_receiver_udp_and_tcp_end_to_end() -> None:
    sink = LockedSink()
    cfg = LogsConfig(sample_files=False, syslog=SyslogConfig(udp="127.0.0.1:0", tcp="127.0.0.1:0"))
    rx = SyslogReceiver(cfg, "s1", sink, flush_interval=0.05)
    rx.start()
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"<134>1 2024-11-25T09:00:01+08:00 gw01 nginx - - - " + ACCESS.encode(), rx.addresses["udp"])
        u.close()
        with socket.create_connection(rx.addresses["tcp"]) as t:
            msgs = [f"<14>Nov 25 09:00:0{i} ws app: message {i}".encode() for i in range(5)]
            t.sendall(b"".join(f"{len(m)} ".encode() + m for m in msgs[:3]) + b"\n".join(msgs[3:]) + b"\n")
        wait_for(lambda: len(sink.events) == 6)
        wait_for(lambda: sink.flushes >= 1)
    finally:
        rx.stop()
    assert sorted(e.channel for e in sink.events) == ["api-log"] + ["syslog"] * 5
    st = rx.stats
    assert st["syslog-messages"] == 6 and st["syslog-connections.tcp"] == 1


def test_udp_overflow_is_counted_not_blocking() -> None:
    sink = LockedSink()
    cfg = LogsConfig(syslog=SyslogConfig(udp="127.0.0.1:0", queue_messages=1))
    rx = SyslogReceiver(cfg, "s1", sink)
    rx.start()
    gate = threading.Event()
    original = rx._proc.process

    def slow(*a: object) -> None:
        gate.wait(5)
        original(*a)  # type: ignore[arg-type]

    rx._proc.process = slow  # type: ignore[method-assign]
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(50):
            u.sendto(f"<14>Nov 25 09:00:00 h app: m{i}".encode(), rx.addresses["udp"])
        u.close()
        wait_for(lambda: rx.stats.get("syslog-dropped", 0) > 0)
        gate.set()
        wait_for(lambda: len(sink.events) + rx.stats.get("syslog-dropped", 0) == 50)
    finally:
        gate.set()
        rx.stop()


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return crt, key


def test_receiver_tls(cert: tuple[Path, Path]) -> None:
    crt, key = cert
    sink = LockedSink()
    cfg = LogsConfig(syslog=SyslogConfig(tls="127.0.0.1:0", tls_cert=str(crt), tls_key=str(key)))
    rx = SyslogReceiver(cfg, "s1", sink, flush_interval=0.05)
    rx.start()
    try:
        ctx = ssl.create_default_context(cafile=str(crt))
        with socket.create_connection(rx.addresses["tls"]) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
            m = b"<134>1 2024-11-25T09:00:01+08:00 gw01 nginx - - - " + ACCESS.encode()
            t.sendall(f"{len(m)} ".encode() + m)
        wait_for(lambda: len(sink.events) == 1)
        plain = socket.create_connection(rx.addresses["tls"])  # not TLS: a failed handshake, counted
        plain.sendall(b"<13>hello\n")
        plain.close()
        wait_for(lambda: rx.stats.get("syslog-tls-handshake-failures", 0) == 1)
    finally:
        rx.stop()
    assert sink.events[0].attributes["transport"] == "tls" and sink.events[0].channel == "api-log"


def test_receiver_needs_an_address_and_tls_material() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SyslogReceiver(LogsConfig(), "s1", ListSink()).start()
    with pytest.raises(ValueError, match="tls_cert"):
        SyslogReceiver(LogsConfig(syslog=SyslogConfig(tls="127.0.0.1:0")), "s1", ListSink()).start()
