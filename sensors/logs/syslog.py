"""Syslog receiver: UDP, TCP and TLS, RFC 3164 and RFC 5424, into the same format parsers.

Appliances (gateways, database servers, HIS application servers, USB-control agents) send their
logs by syslog rather than writing files the sensor could follow. The receiver listens on the
configured addresses (``logs.syslog``), takes each message off the wire, parses the syslog header
(:func:`parse_syslog`) and hands the message to the parser of its format, chosen by app name and
content (kernel USB lines, auditd records, pgaudit, access logs, JSON of any detected kind); a
message of no known format becomes a ``syslog`` channel event whose content the detectors read.

Framing: UDP = one datagram per message. TCP (RFC 6587) and TLS (RFC 5425) accept, per frame,
octet counting (``<length> <message>``) or non-transparent framing (LF, CRLF or NUL terminated),
told apart by the frame's first byte. Bounds: a message is cut at ``max_message_bytes`` (the
event says ``truncated``), at most ``max_connections`` TCP/TLS peers, and one bounded queue of
``queue_messages`` between the network threads and the parser thread. When the queue is full,
TCP/TLS readers wait (the senders see back-pressure through TCP flow control) while UDP
datagrams are dropped and counted (``syslog-dropped``): UDP has no back-pressure.

Event ids are unique per receiver run (a sequence under a per-run id); with a disk spool
(``kafka.spool_dir``) the events survive a broker outage like a log file's do.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import queue
import re
import socket
import ssl
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any

from model.config import LogsConfig, SyslogConfig
from model.events import DeadLetter, Endpoint, Event, make_event_id
from sensors.logs.formats import json_format, make_parser
from sensors.logs.formats.access import looks_like_access_text
from sensors.logs.formats.base import LineContext, LineParser, ParseError
from sensors.logs.formats.timeparse import parse_bsd, parse_iso
from sensors.sink import EventSink

log = logging.getLogger("healthdlp.sensors.syslog")

STAGE = "syslog"
_FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
               "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
               "local7")
_SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_PRI = re.compile(rb"^<(\d{1,3})>")
_RFC5424 = re.compile(r"^1 (\S+) (\S+) (\S+) (\S+) (\S+) ")
_RFC3164 = re.compile(r"^([A-Z][a-z]{2} [ 0-3]?\d \d\d:\d\d:\d\d)(?: (\S+))? (?:([^\s:\[]{1,48})(?:\[([^\]]*)\])?: ?)?")
_RFC3164_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (\S+) "
                          r"(?:([^\s:\[]{1,48})(?:\[([^\]]*)\])?: ?)?")
_ACCESS_APPS = frozenset({"nginx", "httpd", "apache", "apache2", "kong", "haproxy", "envoy", "traefik", "openresty"})
_PG_APPS = frozenset({"postgres", "postgresql", "postmaster"})
_MAX_PARSERS = 1024
_FLUSH_EVERY = 1000


@dataclass(frozen=True, slots=True)
class SyslogRecord:
    rfc: str  # "5424", "3164" or "none" (no header)
    facility: str
    severity: str
    ts: float | None
    host: str
    app: str
    procid: str
    msgid: str
    structured_data: str
    msg: str


def _sd_end(text: str) -> int:
    """Index just after RFC 5424 structured data starting at 0 (``[...]`` elements, ``\\]`` escapes)."""
    i = 0
    while i < len(text) and text[i] == "[":
        j = i + 1
        while j < len(text):
            if text[j] == "\\":
                j += 2
                continue
            if text[j] == "]":
                break
            j += 1
        i = j + 1
    return i


def parse_syslog(raw: bytes, received_at: float) -> SyslogRecord:
    """The header fields and the message; a message without a syslog header is kept whole (``rfc='none'``)."""
    pri = -1
    m = _PRI.match(raw)
    if m is not None:
        pri = int(m.group(1))
        raw = raw[m.end():]
    text = raw.decode("utf-8", "replace").rstrip("\r\n\x00")
    facility = _FACILITIES[pri >> 3] if 0 <= pri < 192 and (pri >> 3) < len(_FACILITIES) else ""
    severity = _SEVERITIES[pri & 7] if pri >= 0 else ""
    m5 = _RFC5424.match(text)
    if m5 is not None:
        stamp, host, app, procid, msgid = (None if v == "-" else v for v in m5.groups())
        rest = text[m5.end():]
        sd = ""
        if rest.startswith("-"):
            rest = rest[2:] if rest.startswith("- ") else rest[1:]
        elif rest.startswith("["):
            end = _sd_end(rest)
            sd, rest = rest[:end], rest[end:].lstrip(" ")
        rest = rest.removeprefix("\ufeff")
        return SyslogRecord("5424", facility, severity, parse_iso(stamp) if stamp else None, host or "", app or "",
                            procid or "", msgid or "", sd[:1024], rest)
    m3 = _RFC3164.match(text)
    if m3 is not None:
        stamp, host, app, procid = m3.groups()
        ts = parse_bsd(stamp, received_at)
        return SyslogRecord("3164", facility, severity, ts, host or "", app or "", procid or "", "", "",
                            text[m3.end():])
    mi = _RFC3164_ISO.match(text)
    if mi is not None:
        stamp, host, app, procid = mi.groups()
        return SyslogRecord("3164", facility, severity, parse_iso(stamp), host, app or "", procid or "", "", "",
                            text[mi.end():])
    return SyslogRecord("none", facility, severity, None, "", "", "", "", "", text)


def choose_format(rec: SyslogRecord) -> str:
    """The format parser a message goes to, or "" for a plain syslog event."""
    app = rec.app.lower()
    msg = rec.msg
    if app == "kernel":
        return "usb-kernel"
    if "audit(" in msg and "type=" in msg:
        return "auditd"
    if "AUDIT: " in msg and (app in _PG_APPS or "AUDIT: SESSION," in msg or "AUDIT: OBJECT," in msg):
        return "pgaudit"
    if msg.startswith("{"):
        try:
            obj = json.loads(msg)
        except ValueError:
            return ""
        return json_format(obj) if isinstance(obj, dict) else ""  # the same decision as for files
    if app in _ACCESS_APPS or ('" ' in msg and looks_like_access_text(msg.encode("utf-8", "surrogatepass"))):
        return "access-log"  # error-log lines of these apps are not ours for the parser: plain events
    return ""


class SyslogProcessor:
    """Syslog messages -> events on a sink, with per-sender parser state. Used by the receiver's
    parser thread; also callable directly (tests, replays of captured syslog)."""

    def __init__(self, cfg: LogsConfig, sensor_id: str, sink: EventSink, counters: Counter[str]) -> None:
        self.cfg = cfg
        self.sensor_id = sensor_id
        self.sink = sink
        self.counters = counters
        self.run_id = make_event_id("syslog-run", sensor_id, time.time_ns(), os.getpid())
        self.seq = 0
        self._parsers: OrderedDict[tuple[str, str], LineParser] = OrderedDict()

    def _parser(self, sender: str, fmt: str) -> LineParser:
        key = (sender, fmt)
        p = self._parsers.get(key)
        if p is None:
            p = self._parsers[key] = make_parser(fmt, self.cfg)
            if len(self._parsers) > _MAX_PARSERS:
                self._parsers.popitem(last=False)
                self.counters["syslog-parsers-evicted"] += 1
        else:
            self._parsers.move_to_end(key)
        return p

    def process(self, raw: bytes, peer: str, transport: str, received_at: float, truncated: bool = False) -> None:
        self.seq += 1
        self.counters["syslog-messages"] += 1
        rec = parse_syslog(raw, received_at)
        self.counters[f"syslog-rfc.{rec.rfc}"] += 1
        source = f"syslog+{transport}://{peer}"
        ctx = LineContext(source, self.seq, self.seq, self.run_id, self.sensor_id, rec.ts or received_at, self.counters)
        fmt = choose_format(rec)
        if truncated:
            self._dead(source, "syslog-too-long", f"{source}: message {self.seq} longer than "
                       f"{self.cfg.syslog.max_message_bytes} bytes; its head is kept here", raw)
            return
        if not fmt:
            self._emit(self._plain(rec, ctx, peer, transport))
            return
        line = rec.msg
        if fmt == "usb-kernel":  # the kernel parser wants the syslog prefix it reads times and hosts from
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(rec.ts or received_at))
            line = f"{stamp} {rec.host or peer} kernel: {rec.msg}"
        parser = self._parser(rec.host or peer, fmt)
        try:
            events = parser.parse(line.encode("utf-8", "surrogatepass"), ctx)
        except ParseError as e:
            for ev in e.events:
                self._emit(ev)
            self._dead(source, e.reason, e.detail, raw)
            return
        except Exception as e:  # a parser bug must not stop the receiver
            log.exception("syslog message %d from %s: parser %s failed", self.seq, peer, fmt)
            self._dead(source, "parser-error", f"{source}: message {self.seq}: parser {fmt} raised "
                       f"{type(e).__name__}", raw)
            return
        if events is None:
            self._emit(self._plain(rec, ctx, peer, transport))
            return
        for ev in events:
            self._emit(dataclasses.replace(ev, attributes={**ev.attributes, "syslog_host": rec.host or peer,
                                                           "syslog_app": rec.app, "transport": transport}))

    def _plain(self, rec: SyslogRecord, ctx: LineContext, peer: str, transport: str) -> Event:
        content = rec.msg.encode("utf-8", "surrogatepass")
        attrs: dict[str, Any] = {"format": "syslog", "rfc": rec.rfc, "transport": transport, "peer": peer,
                                 "log_file": ctx.source, "log_line": ctx.line_no}
        for k in ("facility", "severity", "app", "procid", "msgid", "structured_data"):
            v = getattr(rec, k)
            if v:
                attrs[k] = v
        if rec.host:
            attrs["host"] = rec.host
        if rec.ts is None:
            self.counters["ts-fallback"] += 1
        return Event(event_id=ctx.event_id(), sensor_id=self.sensor_id, observed_at=rec.ts or ctx.fallback_time,
                     source_kind="log", channel="syslog", src=Endpoint(rec.host or peer.rsplit(":", 1)[0]),
                     content=content[: self.cfg.sample_bytes], content_type="text/plain", size=len(content),
                     truncated=len(content) > self.cfg.sample_bytes, attributes=attrs)

    def _emit(self, ev: Event) -> None:
        self.sink.emit(ev)
        self.counters["events"] += 1

    def _dead(self, source: str, reason: str, detail: str, raw: bytes) -> None:
        self.counters["dead-letters"] += 1
        self.counters[f"dead-letter.{reason}"] += 1
        self.sink.dead_letter(DeadLetter(stage=STAGE, reason=reason, detail=detail, source=source,
                                         observed_at=time.time(), payload=raw))


def _split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return (host.strip("[]") or "0.0.0.0"), int(port)  # noqa: S104 - ":514" asks for every interface


class SyslogReceiver:
    """Listen on ``cfg.syslog``'s addresses; ``start()``/``stop()``, or ``run(stop)``."""

    def __init__(self, cfg: LogsConfig, sensor_id: str, sink: EventSink, *, flush_interval: float = 1.0) -> None:
        self.cfg = cfg
        self.scfg: SyslogConfig = cfg.syslog
        self.sink = sink
        self._counters: Counter[str] = Counter()  # the parser thread's (read by copying: atomic under the GIL)
        self._net: Counter[str] = Counter()  # the network threads', under _stats_lock
        self._proc = SyslogProcessor(cfg, sensor_id, sink, self._counters)
        self._queue: queue.Queue[tuple[bytes, str, str, float, bool]] = queue.Queue(maxsize=max(1,
                                                                                               self.scfg.queue_messages))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._conns: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self.flush_interval = flush_interval
        self.addresses: dict[str, tuple[str, int]] = {}

    @property
    def stats(self) -> dict[str, int]:
        out = dict(self._counters)
        with self._stats_lock:
            for k, v in self._net.items():
                out[k] = out.get(k, 0) + v
        out["queued"] = self._queue.qsize()
        return out

    def _count(self, key: str, n: int = 1) -> None:
        with self._stats_lock:
            self._net[key] += n

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        s = self.scfg
        if not (s.udp or s.tcp or s.tls):
            raise ValueError("logs.syslog: give at least one of udp, tcp, tls (host:port)")
        tls_ctx = self._tls_context() if s.tls else None
        if s.udp:
            host, port = _split_addr(s.udp)
            us = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
            us.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            us.bind((host, port))
            us.settimeout(0.2)
            self._sockets.append(us)
            self.addresses["udp"] = us.getsockname()[:2]
            self._spawn(self._udp_loop, us, name="syslog-udp")
        for kind, addr, ctx in (("tcp", s.tcp, None), ("tls", s.tls, tls_ctx)):
            if not addr:
                continue
            host, port = _split_addr(addr)
            ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((host, port))
            ls.listen(64)
            ls.settimeout(0.2)
            self._sockets.append(ls)
            self.addresses[kind] = ls.getsockname()[:2]
            self._spawn(self._accept_loop, ls, kind, ctx, name=f"syslog-{kind}-accept")
        self._spawn(self._work_loop, name="syslog-parser")
        log.info("syslog receiver listening: %s", ", ".join(f"{k} {h}:{p}" for k, (h, p) in self.addresses.items()))

    def stop(self) -> None:
        """Stop listening, parse what is queued, flush the sink."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        for sock in self._sockets:
            sock.close()
        with self._conn_lock:
            for c in self._conns:
                try:
                    c.close()
                except OSError:
                    pass
        self._threads.clear()
        self._sockets.clear()

    def run(self, stop: threading.Event) -> None:
        self.start()
        try:
            stop.wait()
        finally:
            self.stop()

    def _spawn(self, target: Any, *args: Any, name: str) -> threading.Thread:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)
        return t

    def _tls_context(self) -> ssl.SSLContext:
        s = self.scfg
        if not (s.tls_cert and s.tls_key):
            raise ValueError("logs.syslog.tls needs tls_cert and tls_key")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(s.tls_cert, s.tls_key)
        if s.tls_client_ca:
            ctx.load_verify_locations(s.tls_client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    # -- network threads ----------------------------------------------------------------------
    def _put(self, item: tuple[bytes, str, str, float, bool], *, block: bool) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2) if block else self._queue.put_nowait(item)
                return True
            except queue.Full:
                if not block:
                    return False
                self._count("syslog-backpressure-waits")
        return False

    def _udp_loop(self, sock: socket.socket) -> None:
        limit = self.scfg.max_message_bytes
        while not self._stop.is_set():
            try:
                data, addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            cut = len(data) > limit
            if not self._put((data[:limit], f"{addr[0]}:{addr[1]}", "udp", time.time(), cut), block=False):
                self._count("syslog-dropped")
                self._count("syslog-dropped.udp-queue-full")

    def _accept_loop(self, ls: socket.socket, kind: str, ctx: ssl.SSLContext | None) -> None:
        while not self._stop.is_set():
            try:
                conn, addr = ls.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._conn_lock:
                if len(self._conns) >= self.scfg.max_connections:
                    self._count("syslog-connections-refused")
                    conn.close()
                    continue
                self._conns.add(conn)
            self._count(f"syslog-connections.{kind}")
            threading.Thread(target=self._conn_loop, args=(conn, addr, kind, ctx), daemon=True,
                             name=f"syslog-{kind}-{addr[0]}").start()

    def _conn_loop(self, conn: socket.socket, addr: Any, kind: str, ctx: ssl.SSLContext | None) -> None:
        peer = f"{addr[0]}:{addr[1]}"
        sock: Any = conn
        try:
            conn.settimeout(10)
            if ctx is not None:
                try:
                    sock = ctx.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    self._count("syslog-tls-handshake-failures")
                    log.warning("syslog TLS handshake with %s failed: %s", peer, type(e).__name__)
                    return
            sock.settimeout(0.5)
            framer = Framer(self.scfg.max_message_bytes)
            while not self._stop.is_set():
                try:
                    data = sock.recv(65536)
                except (TimeoutError, ssl.SSLWantReadError):
                    continue
                except OSError:
                    break
                if not data:
                    break
                for msg, cut in framer.feed(data):
                    if not self._put((msg, peer, kind, time.time(), cut), block=True):
                        return
            tail = framer.finish()
            if tail is not None:
                self._put((tail[0], peer, kind, time.time(), tail[1]), block=True)
        finally:
            with self._conn_lock:
                self._conns.discard(conn)
            try:
                sock.close()
            except OSError:
                pass

    # -- parser thread ------------------------------------------------------------------------
    def _work_loop(self) -> None:
        last_flush = time.monotonic()
        pending = 0
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                item = None
            if item is not None:
                self._proc.process(item[0], item[1], item[2], item[3], item[4])
                pending += 1
            now = time.monotonic()
            idle = item is None or self._queue.empty()
            if pending and (pending >= _FLUSH_EVERY or (idle and now - last_flush >= self.flush_interval) or
                            self._stop.is_set()):
                self._flush()
                pending, last_flush = 0, now
            if self._stop.is_set() and item is None and self._queue.empty():
                if pending:
                    self._flush()
                return

    def _flush(self) -> None:
        try:
            self.sink.flush()
            self._counters["syslog-flushes"] += 1
        except Exception as e:
            self._counters["flush-failures"] += 1
            log.error("syslog receiver: sink flush failed (%s: %s); set kafka.spool_dir to keep events while the "
                      "broker is away", type(e).__name__, e)


class Framer:
    """RFC 6587 framing of one TCP stream: octet counting or LF/NUL-terminated, decided per frame."""

    def __init__(self, max_message: int) -> None:
        self.max = max_message
        self.buf = bytearray()
        self.skip = 0  # bytes still to discard of an over-long octet-counted frame
        self.skip_line = False  # discarding the rest of an over-long newline-framed message

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        out: list[tuple[bytes, bool]] = []
        buf = self.buf
        buf += data
        while buf:
            if self.skip_line:
                lf, nul = buf.find(b"\n"), buf.find(b"\0")
                end = min(lf, nul) if lf >= 0 and nul >= 0 else max(lf, nul)
                if end < 0:
                    buf.clear()
                    break
                del buf[: end + 1]
                self.skip_line = False
                continue
            if self.skip:
                n = min(self.skip, len(buf))
                del buf[:n]
                self.skip -= n
                continue
            if buf[:1].isdigit():
                sp = buf.find(b" ", 0, 12)
                if sp < 0:
                    if len(buf) >= 12:  # digits but no length field: a newline-framed message
                        got = self._newline(buf, out)
                        if not got:
                            break
                        continue
                    break
                length = int(buf[:sp])
                if length > self.max:
                    if len(buf) < sp + 1 + self.max:
                        break  # wait for the head of the message: it is kept, the rest skipped
                    out.append((bytes(buf[sp + 1: sp + 1 + self.max]), True))
                    total = sp + 1 + length
                    consumed = min(len(buf), total)
                    self.skip = total - consumed
                    del buf[:consumed]
                    continue
                if len(buf) < sp + 1 + length:
                    break
                out.append((bytes(buf[sp + 1: sp + 1 + length]), False))
                del buf[: sp + 1 + length]
                continue
            if not self._newline(buf, out):
                break
        return out

    def _newline(self, buf: bytearray, out: list[tuple[bytes, bool]]) -> bool:
        lf, nul = buf.find(b"\n"), buf.find(b"\0")
        end = min(lf, nul) if lf >= 0 and nul >= 0 else max(lf, nul)
        if end < 0:
            if len(buf) > self.max:
                out.append((bytes(buf[: self.max]), True))
                buf.clear()
                self.skip_line = True  # the rest of this message, up to its terminator, is dropped
                return True
            return False
        msg = bytes(buf[:end]).rstrip(b"\r")
        del buf[: end + 1]
        if msg:
            out.append((msg, False))
        return True

    def finish(self) -> tuple[bytes, bool] | None:
        """The peer closed: a last message without terminator."""
        if self.buf and not self.skip and not self.skip_line:
            data = bytes(self.buf[: self.max])
            cut = len(self.buf) > self.max
            self.buf.clear()
            return data, cut
        return None
