"""The HTTP side: a standard-library ThreadingHTTPServer in front of :class:`Console`.

Logging records method, path, status and duration only: never query values, request bodies
(notes) or response bodies, so nothing an analyst types and no evidence ends up in logs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dashboards.console.app import MAX_BODY, SECURITY_HEADERS, Console, Request, Response
from dashboards.playbooks import PlaybookSet, load_playbooks

log = logging.getLogger("healthdlp.console")


def _handler_for(console: Console) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "healthdlp-console"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve(b"")

        def do_HEAD(self) -> None:
            self._serve(b"", head=True)

        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                self._send(Response(413, b"request body too large", "text/plain; charset=utf-8"))
                self.close_connection = True
                return
            self._serve(self.rfile.read(length))

        def _serve(self, body: bytes, head: bool = False) -> None:
            started = time.perf_counter()
            url = urlsplit(self.path)
            req = Request(
                method="GET" if head else self.command,
                path=url.path,
                query=parse_qs(url.query, keep_blank_values=False, max_num_fields=50),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            try:
                resp = console.handle(req)
            except Exception:
                log.exception("console error on %s %s", self.command, url.path)
                resp = Response(500, b"internal error; see the console log", "text/plain; charset=utf-8")
            self._send(resp, head)
            log.info(
                "%s %s %d %.1fms", self.command, url.path, resp.status, (time.perf_counter() - started) * 1000
            )

        def _send(self, resp: Response, head: bool = False) -> None:
            self.send_response(resp.status)
            for k, v in {**SECURITY_HEADERS, **resp.headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if not head:
                self.wfile.write(resp.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Silence http.server's default line (it includes the full request line)."""

    return Handler


@dataclass
class ConsoleServer:
    """A console running in a background thread (tests, ``healthdlp demo``); ``close()`` stops it."""

    httpd: ThreadingHTTPServer
    thread: threading.Thread
    console: Console

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def _playbooks(playbooks: PlaybookSet | Sequence[str | Path] | None) -> PlaybookSet:
    if isinstance(playbooks, PlaybookSet):
        return playbooks
    return load_playbooks(tuple(playbooks or ()))


def make_server(
    store: Any,
    host: str = "127.0.0.1",
    port: int = 8080,
    playbooks: PlaybookSet | Sequence[str | Path] | None = None,
    database: str | None = None,
) -> tuple[ThreadingHTTPServer, Console]:
    console = Console(store, _playbooks(playbooks), database)
    httpd = ThreadingHTTPServer((host, port), _handler_for(console))
    httpd.daemon_threads = True
    return httpd, console


def start_console(
    store: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    playbooks: PlaybookSet | Sequence[str | Path] | None = None,
    database: str | None = None,
) -> ConsoleServer:
    """Start in a daemon thread; ``port=0`` picks a free port (see ``.url``)."""
    httpd, console = make_server(store, host, port, playbooks, database)
    thread = threading.Thread(target=httpd.serve_forever, name="healthdlp-console", daemon=True)
    thread.start()
    return ConsoleServer(httpd, thread, console)


def serve_console(
    store: Any,
    host: str = "127.0.0.1",
    port: int = 8080,
    playbooks: PlaybookSet | Sequence[str | Path] | None = None,
    database: str | None = None,
) -> None:
    """Serve until interrupted (the ``healthdlp console`` command). Binds to localhost by default:
    the console has no login of its own, so expose it only behind the hospital's authenticating proxy.
    ``database`` is ``cfg.store.database`` (None: taken from the store, else ``healthdlp``).
    """
    httpd, _ = make_server(store, host, port, playbooks, database)
    log.info("healthdlp console on http://%s:%d", host, httpd.server_address[1])
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
