"""Web server and API gateway access logs: who fetched which health data, and how much.

Text: NCSA common and combined (nginx's default ``combined``, Apache ``%h %l %u %t "%r" %>s %b
"%{Referer}i" "%{User-agent}i"``), optionally preceded by a virtual host (Apache
``vhost_combined``: ``host:port ...``) and followed by extra fields (request time, upstream ...,
kept as ``extra``). JSON, one object per line: nginx/Apache JSON ``log_format``s, ECS-style
(``http.request.method``, ``url.original`` ...), Kong (``request.method``, ``request.uri``,
``response.status``, ``consumer.username``) and AWS API Gateway access logging
(``httpMethod``, ``resourcePath``/``path``, ``status``, ``responseLength``, ``ip``,
``caller``/``user``, ``requestTime``); keys are looked up by their common names, nested or
dotted.

Each request becomes one event on channel ``api-log``: ``method``, ``path``, ``query``,
``status``, ``response_bytes``, ``client``, ``user``, ``scheme``/``port``/TLS, the FHIR resource
type and id, and ``patient_ids`` (from the path or query, :mod:`sensors.logs.formats.fhir_url`).
The content is what detectors should read: the request target percent-decoded (query strings
carry names and ID numbers), the referer's query when it has one, and one ``patient_id=<id>``
line per patient named, which is how the detectors and the policy count distinct subjects
(docs/log-sensor.md, "patient ids").

The hot path is one compiled regex, a cached timestamp conversion and no URL parsing unless the
target has a query or a percent sign.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from typing import Any
from urllib.parse import unquote

from model.config import LogsConfig
from model.events import Endpoint, Event, TlsInfo
from sensors.logs.formats.base import LineContext, ParseError, StatelessParser, log_event_id, new_event
from sensors.logs.formats.fhir_url import analyse, parse_query, split_target
from sensors.logs.formats.jsonl import load_object
from sensors.logs.formats.timeparse import parse_timestamp

CHANNEL = "api-log"

#: Unrolled-loop quoted strings (``[^"\\]*(?:\\.[^"\\]*)*``): 8x faster than an alternation per char.
_QUOTED = rb'"([^"\\]*(?:\\.[^"\\]*)*)"'
_COMBINED = re.compile(
    rb'(?:([^\s\[]+:\d+) )?(\S+) (\S+) (\S+) \[([^\]]+)\] ' + _QUOTED + rb' (\d{3}|-) (\d+|-)'
    rb'(?: ' + _QUOTED + rb' ' + _QUOTED + rb')?(.*)'
)
#: The same, on the decoded line (see AccessLogParser.parse_fast).
_COMBINED_TEXT = re.compile(_COMBINED.pattern.decode("ascii"), re.ASCII)
#: What ``bytes.strip()`` strips.
_ASCII_SPACE = " \t\n\r\x0b\x0c"
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_MAX_AGENT = 256
_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
                           "PROPFIND", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH"})


class _ClfTime:
    """``10/Oct/2000:13:55:36 -0700`` -> epoch, cached: consecutive lines share their second."""

    def __init__(self) -> None:
        self.cache: dict[str | bytes, float | None] = {}

    def __call__(self, s: str | bytes) -> float | None:
        got = self.cache.get(s, -1.0)
        if got != -1.0:
            return got
        ts = self._parse(s.decode("ascii", "replace") if isinstance(s, bytes) else s)
        if len(self.cache) > 4096:
            self.cache.clear()  # in place: AccessLogParser holds this dict
        self.cache[s] = ts
        return ts

    @staticmethod
    def _parse(s: str) -> float | None:
        try:
            stamp, _, tz = s.partition(" ")
            day, mon, rest = stamp.split("/", 2)
            year, hh, mm, ss = rest.split(":")
            secs = calendar.timegm((int(year), _MONTHS[mon], int(day), int(hh), int(mm), 0, 0, 0, 0)) + float(ss)
            if tz:
                sign = -1 if tz[0] == "-" else 1
                digits = tz.lstrip("+-").replace(":", "")
                secs -= sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)
            return secs
        except (ValueError, KeyError, IndexError):
            return None


def _dash(b: bytes | None) -> str:
    if not b or b == b"-":
        return ""
    return b.decode("utf-8", "replace")


def _unescape(s: str) -> str:
    """nginx escapes '"' and non-printable bytes as \\xHH in logged strings."""
    if "\\x" not in s:
        return s
    try:
        return s.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1").decode(
            "utf-8", "replace")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return s


class AccessLogParser(StatelessParser):
    name = "access-log"

    def __init__(self, cfg: LogsConfig) -> None:
        super().__init__(cfg)
        self._clf_time = _ClfTime()
        self._clf_cache = self._clf_time.cache

    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        if line[:1] == b"{":
            return self._json(line, ctx)
        events = self._text_line(line, ctx.source, ctx.line_no, ctx.offset, ctx.head_id, ctx.sensor_id,
                                 ctx.fallback_time, ctx.counters)
        if events is None:
            if b'" ' in line and b"[" in line and b"]" in line:
                raise ParseError("access-parse", f"{ctx.where}: access-log line does not parse as "
                                 "common/combined")
            return None
        return [events]

    def _text_line(self, line: bytes, source: str, line_no: int, offset: int, head_id: str, sensor_id: str,
                   fallback_time: float, counters: Counter[str]) -> Event | None:
        """The event of a common/combined line, without a per-line :class:`LineContext`; None for
        anything else (JSON, malformed, not an access line): the sensor then calls :meth:`parse`,
        which decides.

        The line is decoded once and matched as text: the delimiters are ASCII, so fields cut from
        the decoded line equal fields decoded one by one (with ``re.ASCII``, ``\\s`` is the same class)."""
        m = _COMBINED_TEXT.match(line.decode("utf-8", "replace"))
        if m is None:
            return None
        vhost_port, client, _ident, user, stamp, request, status, size, referer, agent, extra = m.groups()
        sp = request.split(" ")
        if len(sp) == 3:
            method, target, proto = sp
        else:
            method, target, proto = _split_request(request)
        ts = self._clf_cache.get(stamp, -1.0)  # the cache's lookup inlined: this runs once per line
        if ts == -1.0:
            ts = self._clf_time(stamp)
        if ts is None:
            counters["ts-unparsed"] += 1
            counters["ts-fallback"] += 1
            ts = fallback_time
        port = None
        vhost = ""
        if vhost_port:
            vhost, _, port_s = vhost_port.rpartition(":")
            port = int(port_s)
        return _event(ts, source, line_no, offset, log_event_id(head_id, offset), sensor_id,
                      "common" if agent is None else "combined", method, target, proto,
                      0 if status == "-" else int(status), 0 if size == "-" else int(size), client,
                      "" if user == "-" else user, "" if not referer or referer == "-" else referer,
                      "" if not agent or agent == "-" else agent, vhost, port, "https" if port == 443 else "",
                      extra.strip(_ASCII_SPACE) if extra else "")

    #: The sensor's per-line fast path (sensors/logs/sensor.py); an alias, not a wrapper: no extra call.
    parse_fast = _text_line

    def _json(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        obj = load_object(line, ctx)
        flat = flatten(obj)
        rec, ts_raw = request_from_json(flat)
        if rec is None:
            return None
        ts = parse_json_time(ts_raw, self._clf_time) if ts_raw is not None else None
        if ts is None:
            ctx.counters["ts-fallback"] += 1
            if ts_raw is not None:
                ctx.counters["ts-unparsed"] += 1
            ts = ctx.fallback_time
        r = rec
        return [_event(ts, ctx.source, ctx.line_no, ctx.offset, ctx.event_id(), ctx.sensor_id, r.dialect, r.method,
                       r.target, r.protocol, r.status, r.size, r.client, r.user,
                       r.referer, r.agent, r.vhost, r.port, r.scheme, r.extra, r.tls_version, r.tls_cipher,
                       r.request_id)]


class _Request:
    __slots__ = ("agent", "client", "dialect", "extra", "method", "port", "protocol", "referer", "request_id",
                 "scheme", "size", "status", "target", "tls_cipher", "tls_version", "user", "vhost")

    def __init__(self, *, method: str, target: str, protocol: str = "", status: int = 0, size: int = 0,
                 client: str = "", user: str = "", referer: str = "", agent: str = "", vhost: str = "",
                 port: int | None = None, scheme: str = "", extra: str = "", dialect: str = "",
                 tls_version: str = "", tls_cipher: str = "", request_id: str = "") -> None:
        self.method, self.target, self.protocol = method, target, protocol
        self.status, self.size, self.client, self.user = status, size, client, user
        self.referer, self.agent, self.vhost, self.port = referer, agent, vhost, port
        self.scheme, self.extra, self.dialect = scheme, extra, dialect
        self.tls_version, self.tls_cipher, self.request_id = tls_version, tls_cipher, request_id


def _split_request(request: str) -> tuple[str, str, str]:
    parts = request.split(" ")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1], ""
    if len(parts) > 3 and parts[0] in _HTTP_METHODS:  # a space in the target (logged unescaped)
        return parts[0], " ".join(parts[1:-1]), parts[-1]
    return "", _unescape(request), ""


def _event(ts: float, source: str, line_no: int, offset: int, event_id: str, sensor_id: str, dialect: str,
           method: str, target: str, protocol: str, status: int, size: int, client: str, user: str, referer: str,
           agent: str, vhost: str, port: int | None, scheme: str, extra: str, tls_version: str = "",
           tls_cipher: str = "", request_id: str = "") -> Event:
    """One request as an event (positional fields: this runs once per access-log line)."""
    if "?" in target or target.startswith("http"):
        path, query = split_target(target)
        params = parse_query(query) if query else []
    else:
        path, query, params = target, "", []
    rtype, rid, ids = analyse(path, params)
    decoded = unquote(target, errors="replace") if "%" in target else target
    text = f"{method} {decoded}" if method else decoded
    if (referer and "?" in referer) or ids:
        lines = [text]
        if referer and "?" in referer:
            lines.append("referer: " + (unquote(referer, errors="replace") if "%" in referer else referer))
        lines.extend("patient_id=" + pid for pid in ids)
        text = "\n".join(lines)
    attrs: dict[str, Any] = {"log_file": source, "log_line": line_no, "log_offset": offset,
                             "format": "access-log", "dialect": dialect, "method": method, "path": path,
                             "status": status, "response_bytes": size}
    if query:
        attrs["query"] = query[:2048]
    if client:
        attrs["client"] = client
    if user:
        attrs["user"] = user
    if protocol:
        attrs["protocol"] = protocol
    if agent:
        attrs["user_agent"] = agent[:_MAX_AGENT]
    if referer:
        attrs["referer"] = referer[:2048]
    if vhost or port is not None or scheme or extra or request_id:  # rare in combined logs: one test
        if vhost:
            attrs["vhost"] = vhost
        if port is not None:
            attrs["port"] = port
        if scheme:
            attrs["scheme"] = scheme
        if extra:
            attrs["extra"] = extra[:512]
        if request_id:
            attrs["request_id"] = request_id[:128]
    if rtype:
        attrs["fhir_resource"] = rtype
        if rid:
            attrs["fhir_id"] = rid[:128]
    if ids:
        attrs["patient_ids"] = ids
    src = None
    if client:
        src = _SOURCES.get(client)
        if src is None:
            if len(_SOURCES) > 4096:
                _SOURCES.clear()
            src = _SOURCES[client] = Endpoint(client)
    # Positional, in Event's field order (keyword arguments cost ~0.3 us per line here).
    return new_event(event_id, sensor_id, ts, "log", CHANNEL, src,
                     Endpoint(vhost or "server", port) if (vhost or port is not None) else None, user, "",
                     scheme == "https" or bool(tls_version),
                     TlsInfo(version=tls_version, cipher=tls_cipher, sni=vhost) if tls_version else None,
                     text.encode("utf-8", "surrogatepass"), "text/x-http-request-target", size, False, attrs)


#: Client endpoints by address: Endpoint is frozen, so events of one client can share one.
_SOURCES: dict[str, Endpoint] = {}


# -- JSON access logs ---------------------------------------------------------------------------------
def flatten(obj: dict[str, Any], prefix: str = "", depth: int = 0, out: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    """Nested objects as dotted keys (three levels), plus the original top-level keys."""
    if out is None:
        out = {}
    for k, v in obj.items():
        key = prefix + k
        if isinstance(v, dict) and depth < 3:
            flatten(v, key + ".", depth + 1, out)
        else:
            out[key] = v
    return out


_K_METHOD = ("request_method", "method", "httpMethod", "http_method", "http.request.method", "request.method",
             "requestMethod", "verb")
_K_TARGET = ("request_uri", "uri", "url.original", "request.uri", "request.url", "url", "path", "resourcePath",
             "url.path", "request_path", "requestUri", "request.path")
_K_QUERY = ("query_string", "args", "url.query", "querystring", "query", "request.querystring")
_K_REQUEST = ("request", "request_line", "requestLine")
_K_STATUS = ("status", "status_code", "response_code", "http.response.status_code", "response.status",
             "statusCode", "response_status", "http_status")
_K_SIZE = ("body_bytes_sent", "bytes_sent", "response_size", "responseLength", "http.response.body.bytes",
           "response.size", "size", "bytes", "response_bytes", "http.response.bytes")
_K_CLIENT = ("remote_addr", "client_ip", "clientip", "client.ip", "source.ip", "ip", "sourceIp",
             "identity.sourceIp", "client", "x_forwarded_for", "http_x_forwarded_for", "remote_ip")
_K_USER = ("remote_user", "user", "username", "user.name", "consumer.username", "consumer.custom_id", "caller",
           "identity.user", "authenticated_entity.id", "principal", "user_id", "userId")
_K_TIME = ("time_iso8601", "@timestamp", "timestamp", "time_local", "requestTime", "requestTimeEpoch",
           "started_at", "time", "ts", "date", "request_time_iso")
_K_SCHEME = ("scheme", "url.scheme", "request.scheme", "https")
_K_PORT = ("server_port", "port", "url.port", "destination.port", "request.port")
_K_HOST = ("host", "server_name", "http_host", "domainName", "url.domain", "request.headers.host", "vhost")
_K_TLS = ("ssl_protocol", "tls.version", "request.tls.version", "tls_version", "ssl.protocol")
_K_CIPHER = ("ssl_cipher", "tls.cipher", "request.tls.cipher", "tls_cipher")
_K_AGENT = ("http_user_agent", "user_agent", "user_agent.original", "userAgent", "request.headers.user-agent",
            "agent")
_K_REFERER = ("http_referer", "referer", "referrer", "http.request.referrer", "request.headers.referer")
_K_ID = ("request_id", "requestId", "trace_id", "request.id", "http.request.id")
_K_ROUTEKEY = ("routeKey",)


def _first(flat: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        v = flat.get(k)
        if v is not None and v != "" and v != "-" and not isinstance(v, (dict, list)):
            return v
    return None


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def _int_or_zero(v: Any) -> int:
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return v
    try:
        return int(str(v))
    except ValueError:
        return 0


def request_from_json(flat: dict[str, Any]) -> tuple[_Request | None, Any]:
    """A request from a flattened JSON access record; (None, _) when it is not one."""
    method = _s(_first(flat, _K_METHOD))
    target = _s(_first(flat, _K_TARGET))
    protocol = ""
    request = _first(flat, _K_REQUEST)
    if isinstance(request, str) and " " in request:
        m2, t2, protocol = _split_request(request)
        method, target = method or m2, target or t2
    route = _first(flat, _K_ROUTEKEY)
    if not target and isinstance(route, str) and " " in route:  # AWS HTTP API "GET /Patient/{id}"
        m3, _, t3 = route.partition(" ")
        method, target = method or m3, t3
    status = _first(flat, _K_STATUS)
    if not method or not target or status is None:
        return None, None
    if "?" not in target:
        q = _first(flat, _K_QUERY)
        if isinstance(q, str) and q:
            target = f"{target}?{q.lstrip('?')}"
    if not protocol:
        p = _first(flat, ("protocol", "server_protocol", "http.version"))
        protocol = _s(p) if p is not None else ""
    scheme = _s(_first(flat, _K_SCHEME)).lower()
    if scheme == "on":
        scheme = "https"
    if target.startswith("https://"):
        scheme = "https"
    elif target.startswith("http://") and not scheme:
        scheme = "http"
    if not scheme:
        full = _first(flat, ("request.url", "url.full", "url.original", "url"))
        if isinstance(full, str) and full.startswith(("https://", "http://")):
            scheme = full.split(":", 1)[0]
    port_v = _first(flat, _K_PORT)
    port = _int_or_zero(port_v) if port_v is not None else None
    if port is not None and not 0 < port < 65536:
        port = None
    if not scheme and port == 443:
        scheme = "https"
    tls_version = _s(_first(flat, _K_TLS))
    if not scheme and tls_version:
        scheme = "https"
    dialect = "kong" if "consumer.username" in flat or ("service.name" in flat and "route.name" in flat) else (
        "aws-apigateway" if "httpMethod" in flat or "routeKey" in flat or "requestId" in flat else "json")
    rec = _Request(
        method=method.upper(), target=target, protocol=protocol, status=_int_or_zero(status),
        size=_int_or_zero(_first(flat, _K_SIZE)), client=_s(_first(flat, _K_CLIENT)).split(",")[0].strip(),
        user=_s(_first(flat, _K_USER)), referer=_s(_first(flat, _K_REFERER)), agent=_s(_first(flat, _K_AGENT)),
        vhost=_s(_first(flat, _K_HOST)), port=port, scheme=scheme, dialect=dialect, tls_version=tls_version,
        tls_cipher=_s(_first(flat, _K_CIPHER)), request_id=_s(_first(flat, _K_ID)),
    )
    return rec, _first(flat, _K_TIME)


def parse_json_time(v: Any, clf: _ClfTime) -> float | None:
    if isinstance(v, str) and len(v) >= 20 and v[2:3] == "/" and v[6:7] == "/":
        return clf(v)  # time_local / AWS requestTime: "25/Nov/2024:09:00:00 +0800"
    return parse_timestamp(v)


def looks_like_access_json(rec: dict[str, Any]) -> bool:
    """For auto-detection."""
    return request_from_json(flatten(rec))[0] is not None


def looks_like_access_text(line: bytes) -> bool:
    return _COMBINED.match(line) is not None
