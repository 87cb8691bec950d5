"""HTTP/1.x requests and responses, with bodies, as they cross the wire.

Handles Content-Length, chunked transfer coding, gzip/deflate content coding (decompression is
bounded: a bomb stops at ``max_message_bytes`` and is counted as ``http.decompression-limit``),
pipelined requests, responses delimited by connection close, and gaps (a gap inside a body of
known length keeps the parser in sync; anywhere else the parser emits what it has, marked
``incomplete``, and resynchronises on the next start line).

Each request and each response becomes one Message. The channel is ``fhir`` when the content
type or the request path says FHIR, ``http`` otherwise.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from sensors.net.protocols import mime
from sensors.net.protocols.base import CLIENT, MORE, NO, SERVER, BoundedBuffer, Message, ParserContext

METHODS: tuple[bytes, ...] = (
    b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"PATCH", b"TRACE", b"CONNECT",
)
_METHOD_PREFIXES = tuple(m + b" " for m in METHODS)
MAX_HEAD = 64 << 10
_MAX_CHUNK_LINE = 1024
_REQ_LINE = re.compile(rb"^([A-Z]{3,10}) (\S+) HTTP/(1\.[01])$")
_RESP_LINE = re.compile(rb"^HTTP/(1\.[01]) (\d{3})(?: (.*))?$")
_RESYNC_CLIENT = re.compile(rb"(?:^|\n)((?:" + b"|".join(METHODS) + rb") \S+ HTTP/1\.[01]\r?\n)")
_RESYNC_SERVER = re.compile(rb"(?:^|\n)(HTTP/1\.[01] \d{3}[^\n]*\n)")

#: FHIR resource types whose REST paths mark a request as FHIR even without a FHIR media type.
FHIR_RESOURCES: frozenset[str] = frozenset(
    {
        "Patient", "Observation", "Encounter", "Condition", "Procedure", "MedicationRequest",
        "MedicationStatement", "MedicationAdministration", "Medication", "DiagnosticReport",
        "AllergyIntolerance", "Immunization", "CarePlan", "CareTeam", "Claim", "Coverage",
        "ExplanationOfBenefit", "DocumentReference", "Binary", "Bundle", "Composition",
        "Practitioner", "PractitionerRole", "Organization", "Location", "RelatedPerson",
        "ServiceRequest", "Specimen", "ImagingStudy", "FamilyMemberHistory", "Goal",
        "QuestionnaireResponse", "Consent", "Appointment", "Schedule", "Slot", "EpisodeOfCare",
        "Device", "Provenance", "AuditEvent", "Person", "Group",
    }
)
FHIR_MEDIA = ("application/fhir+json", "application/fhir+xml", "application/json+fhir",
              "application/xml+fhir", "application/fhir+ndjson")
NDJSON_MEDIA = ("application/fhir+ndjson", "application/ndjson", "application/x-ndjson")
#: FHIR search/bulk parameters copied into attributes (values cut to 256 characters).
FHIR_PARAMS = ("_count", "_type", "_since", "_outputFormat", "_elements", "_summary", "_include",
               "_revinclude", "_total")


def fhir_shape(method: str, target: str) -> dict[str, Any]:
    """The FHIR REST interaction a request performs (resource type, interaction, operation, _count ...).

    Follows the FHIR R4 RESTful API: ``[base]/[type]/[id]/_history/[vid]``, ``$operations`` at
    system, type and instance level, ``_search`` by POST, and the bulk data ``$export`` kick-off
    (system, ``Patient`` and ``Group/[id]`` level) — the request an analyst most wants to see.
    """
    path, _, query = target.partition("?")
    if path.startswith(("http://", "https://")):
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    segs = [x for x in path.split("/") if x]
    start = next((i for i, x in enumerate(segs) if x in FHIR_RESOURCES or x.startswith("$") or x == "metadata"),
                 len(segs))
    rest = segs[start:]
    out: dict[str, Any] = {}
    m = method.upper()
    interaction = ""
    base_end = next((i + 1 for i, x in enumerate(segs) if x.lower() == "fhir"), 0)
    if not rest and len(segs) > base_end:
        interaction = "other"  # e.g. a bulk-export output file URL: not a REST interaction
    elif not rest:
        interaction = "transaction-or-batch" if m == "POST" else "search-system"
    elif rest[0] == "metadata":
        interaction = "capabilities"
    elif rest[0].startswith("$"):
        interaction, out["fhir_operation"] = "operation", rest[0]
    else:
        out["fhir_resource"] = rest[0]
        tail = rest[1:]
        if not tail:
            interaction = {"GET": "search-type", "POST": "create", "PUT": "conditional-update",
                           "DELETE": "conditional-delete", "PATCH": "conditional-patch"}.get(m, m.lower())
        elif tail[0] == "_search":
            interaction = "search-type"
        elif tail[0] == "_history":
            interaction = "history-type"
        elif tail[0].startswith("$"):
            interaction, out["fhir_operation"] = "operation", tail[0]
        else:
            out["fhir_id"] = tail[0][:128]
            more = tail[1:]
            if not more:
                interaction = {"GET": "read", "HEAD": "read", "PUT": "update", "PATCH": "patch",
                               "DELETE": "delete"}.get(m, m.lower())
            elif more[0] == "_history":
                interaction = "vread" if len(more) > 1 else "history-instance"
            elif more[0].startswith("$"):
                interaction, out["fhir_operation"] = "operation", more[0]
            else:
                interaction, out["fhir_compartment"] = "search-compartment", more[0]
    out["fhir_interaction"] = interaction
    if out.get("fhir_operation") == "$export":
        out["fhir_bulk_export"] = True
    if query:
        for kv in query.split("&"):
            k, _, v = kv.partition("=")
            if k in FHIR_PARAMS:
                key = "fhir" + k
                out[key] = int(v) if k == "_count" and v.isdigit() else unquote(v)[:256]
    return out


def sniff(prefix: bytes) -> int:
    if prefix.startswith(_METHOD_PREFIXES):
        return CLIENT
    if prefix.startswith(b"HTTP/1."):
        return SERVER
    if len(prefix) < 8 and (
        any(p.startswith(prefix) for p in _METHOD_PREFIXES) or b"HTTP/1.".startswith(prefix)
    ):
        return MORE
    return NO


def is_fhir(path: str, content_type: str) -> bool:
    ct = content_type.lower()
    if any(m in ct for m in FHIR_MEDIA):
        return True
    p = path.split("?", 1)[0]
    if p.startswith(("http://", "https://")):  # absolute-form target (proxy requests)
        p = "/" + p.split("://", 1)[1].partition("/")[2]
    for seg in p.split("/"):
        if seg.lower() == "fhir" or seg in FHIR_RESOURCES:
            return True
    return False


@dataclass(slots=True)
class _Request:
    method: str
    path: str
    host: str
    actor: str
    fhir: bool
    shape: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Msg:
    """A message whose head has been parsed and whose body is being read."""

    ts: float
    is_request: bool
    start: dict[str, Any]
    headers: dict[str, str]
    body: _Body
    request: _Request | None = None
    incomplete: bool = False
    wire: int = 0
    notes: list[str] = field(default_factory=list)


class _Body:
    """Decoded body, bounded; content coding undone incrementally with bounded output."""

    __slots__ = ("_ctx", "_d", "buf", "encoding", "error", "limited", "unsupported")

    def __init__(self, encoding: str, ctx: ParserContext) -> None:
        self._ctx = ctx
        self.buf = BoundedBuffer(ctx.max_message_bytes)
        self.encoding = encoding
        self._d: Any = None
        self.error = ""
        self.limited = False
        self.unsupported = encoding not in ("", "identity", "gzip", "x-gzip", "deflate")

    def add(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self.encoding in ("", "identity") or self.unsupported:
            if self.unsupported:
                self.buf.size += len(chunk)  # we cannot decode it: keep no bytes, count them
            else:
                self.buf.add(chunk)
            return
        if self.error or self.limited:
            return
        if self._d is None:
            if self.encoding == "deflate":
                zlib_wrapped = (
                    len(chunk) >= 2 and chunk[0] & 0x0F == 8 and (chunk[0] << 8 | chunk[1]) % 31 == 0
                )
                self._d = zlib.decompressobj(15 if zlib_wrapped else -15)
            else:
                self._d = zlib.decompressobj(31)
        room = self.buf.limit - len(self.buf.data)
        try:
            out = self._d.decompress(chunk, room + 1)
        except zlib.error as e:
            self.error = str(e)
            return
        if len(out) > room or self._d.unconsumed_tail:
            self.limited = True
            self._ctx.count("http.decompression-limit")
        self.buf.add(out[:room] if len(out) > room else out)
        if self.limited:
            self.buf.size += 1  # at least one byte more than we kept: the content is cut


class _Half:
    """Parser state for one direction."""

    __slots__ = ("body_mode", "buf", "chunk_state", "dead", "msg", "remaining", "resync", "start_ts")

    def __init__(self) -> None:
        self.buf = b""
        self.msg: _Msg | None = None
        self.body_mode = ""  # "" head | "length" | "chunked" | "close"
        self.remaining = 0
        self.chunk_state = "size"  # size | data | crlf | trailer
        self.resync = False
        self.dead = False
        self.start_ts = 0.0


class HttpParser:
    """HTTP/1.x over one TCP flow (both directions)."""

    def __init__(self, ctx: ParserContext) -> None:
        self._ctx = ctx
        self._halves = (_Half(), _Half())  # index 1 = from client
        self._requests: deque[_Request] = deque()
        self._actor = ""

    # -- stream interface ----------------------------------------------------------------------
    def feed(self, from_client: bool, data: bytes, ts: float) -> None:
        h = self._halves[from_client]
        if h.dead:
            return
        if h.buf:
            data = h.buf + data
            h.buf = b""
        elif h.msg is None and not h.resync:
            h.start_ts = ts
        pos = 0
        n = len(data)
        while pos < n and not h.dead:
            if h.resync:
                pos = self._do_resync(h, from_client, data, pos)
                if pos < 0:
                    return
            if h.msg is None:
                new = self._head(h, from_client, data, pos, ts)
                if new < 0:
                    return
                pos = new
            else:
                pos = self._body(h, data, pos)
                if pos < 0:
                    return
            if h.msg is not None and h.body_mode == "":  # head done, no body
                self._finish(h)
            if pos < n and h.msg is None:
                h.start_ts = ts

    def gap(self, from_client: bool, nbytes: int, ts: float) -> None:
        h = self._halves[from_client]
        self._ctx.count("http.gap")
        m = h.msg
        if m is not None and h.body_mode == "length" and nbytes < h.remaining:
            m.body.buf.size += nbytes  # the hole lies inside the body: we stay in sync
            h.remaining -= nbytes
            m.incomplete = True
            return
        if m is not None and h.body_mode == "close":
            m.body.buf.size += nbytes
            m.incomplete = True
            return
        if m is not None:
            m.incomplete = True
            self._finish(h)
        h.buf = b""
        h.resync = True

    def close(self, ts: float) -> None:
        for from_client in (True, False):
            h = self._halves[from_client]
            m = h.msg
            if m is not None:
                if not (h.body_mode == "close"):
                    m.incomplete = True
                self._finish(h)
            elif h.buf and not h.resync and not h.dead:
                self._ctx.count("http.incomplete-head")
                self._ctx.dead_letter("http-incomplete", "flow ended inside an HTTP message head",
                                      h.buf[:MAX_HEAD], ts)

    # -- head ------------------------------------------------------------------------------------
    def _do_resync(self, h: _Half, from_client: bool, data: bytes, pos: int) -> int:
        rx = _RESYNC_CLIENT if from_client else _RESYNC_SERVER
        m = rx.search(data, pos)
        if m is None:
            h.buf = data[-MAX_HEAD // 64 :]  # keep a short tail: a start line may straddle segments
            return -1
        self._ctx.count("http.resync")
        h.resync = False
        return m.start(1)

    def _head(self, h: _Half, from_client: bool, data: bytes, pos: int, ts: float) -> int:
        end = data.find(b"\r\n\r\n", pos)
        sep = 4
        if end < 0:
            end = data.find(b"\n\n", pos)
            sep = 2
        if end < 0:
            if len(data) - pos > MAX_HEAD:
                self._bad(h, "http-header-too-large", f"HTTP head over {MAX_HEAD} bytes", data[pos:], ts)
                return -1
            h.buf = data[pos:]
            return -1
        head = data[pos:end]
        lines = head.split(b"\n")
        start_line = lines[0].rstrip(b"\r")
        headers: dict[str, str] = {}
        for raw in lines[1:]:
            name, colon, value = raw.rstrip(b"\r").partition(b":")
            if not colon:
                continue
            k = name.strip().decode("latin-1").lower()
            v = value.strip().decode("latin-1")
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        if from_client:
            ok = self._request_head(h, start_line, headers)
        else:
            ok = self._response_head(h, start_line, headers)
        if not ok:
            self._bad(h, "http-malformed", "unparsable HTTP start line", head, ts)
            return end + sep
        return end + sep

    def _bad(self, h: _Half, reason: str, detail: str, payload: bytes, ts: float) -> None:
        self._ctx.count(f"http.{reason}")
        self._ctx.dead_letter(reason, detail, payload[:MAX_HEAD], ts)
        h.buf = b""
        h.msg = None
        h.resync = True

    def _request_head(self, h: _Half, line: bytes, headers: dict[str, str]) -> bool:
        m = _REQ_LINE.match(line)
        if m is None:
            return False
        method, target, version = (x.decode("latin-1") for x in m.groups())
        host = headers.get("host", "")
        actor = _basic_auth_user(headers.get("authorization", ""))
        if actor:
            self._actor = actor
        ctype = headers.get("content-type", "")
        fhir = is_fhir(target, ctype)
        req = _Request(method, target, host, actor or self._actor, fhir, fhir_shape(method, target) if fhir else {})
        self._requests.append(req)
        if len(self._requests) > 1024:  # responses never came (one-sided capture): stay bounded
            self._requests.popleft()
            self._ctx.count("http.unanswered-request-dropped")
        start = {"method": method, "path": target, "host": host, "http_version": version}
        h.msg = _Msg(h.start_ts, True, start, headers, _Body(_coding(headers), self._ctx), req)
        te = headers.get("transfer-encoding", "").lower()
        if "chunked" in te:
            self._begin_body(h, "chunked", 0)
        else:
            self._begin_body(h, "length", _content_length(headers))
        return True

    def _response_head(self, h: _Half, line: bytes, headers: dict[str, str]) -> bool:
        m = _RESP_LINE.match(line)
        if m is None:
            return False
        version = m.group(1).decode()
        status = int(m.group(2))
        if 100 <= status < 200 and status != 101:
            return True  # interim response (100 Continue): no message, the real one follows
        req = self._requests.popleft() if self._requests else None
        start: dict[str, Any] = {"status": status, "http_version": version}
        h.msg = _Msg(h.start_ts, False, start, headers, _Body(_coding(headers), self._ctx), req)
        if status == 101 or (req is not None and req.method == "CONNECT" and 200 <= status < 300):
            self._ctx.count("uninspected.http-tunnel")
            self._begin_body(h, "length", 0)
            self._finish(h)
            self._ctx.stop_inspection("http-tunnel")
            for half in self._halves:
                half.dead = True
            return True
        te = headers.get("transfer-encoding", "").lower()
        if status in (204, 304) or (req is not None and req.method == "HEAD"):
            self._begin_body(h, "length", 0)
        elif "chunked" in te:
            self._begin_body(h, "chunked", 0)
        elif "content-length" in headers:
            self._begin_body(h, "length", _content_length(headers))
        else:
            self._begin_body(h, "close", 0)
        return True

    def _begin_body(self, h: _Half, mode: str, length: int) -> None:
        if mode == "length" and length <= 0:
            h.body_mode = ""
            return
        h.body_mode = mode
        h.remaining = length
        h.chunk_state = "size"

    # -- body ------------------------------------------------------------------------------------
    def _body(self, h: _Half, data: bytes, pos: int) -> int:
        m = h.msg
        assert m is not None
        n = len(data)
        if h.body_mode == "length":
            take = min(h.remaining, n - pos)
            m.body.add(data[pos : pos + take] if pos or take < n else data)
            m.wire += take
            h.remaining -= take
            if h.remaining == 0:
                h.body_mode = ""
            return pos + take
        if h.body_mode == "close":
            m.body.add(data[pos:] if pos else data)
            m.wire += n - pos
            return n
        return self._chunked(h, m, data, pos)

    def _chunked(self, h: _Half, m: _Msg, data: bytes, pos: int) -> int:
        n = len(data)
        while pos < n:
            st = h.chunk_state
            if st == "data":
                take = min(h.remaining, n - pos)
                m.body.add(data[pos : pos + take])
                m.wire += take
                h.remaining -= take
                pos += take
                if h.remaining == 0:
                    h.chunk_state = "crlf"
                continue
            nl = data.find(b"\n", pos)
            if nl < 0:
                if n - pos > _MAX_CHUNK_LINE and st != "trailer":
                    self._bad(h, "http-malformed", "chunk size line too long", data[pos : pos + 256], m.ts)
                    return -1
                h.buf = data[pos:]
                return -1
            line = data[pos:nl].rstrip(b"\r")
            pos = nl + 1
            if st == "crlf":
                h.chunk_state = "size"
                if line:  # tolerate a missing CRLF after chunk data only if the line is empty
                    self._ctx.count("http.chunk-framing")
                continue
            if st == "size":
                try:
                    size = int(line.split(b";", 1)[0].strip() or b"x", 16)
                except ValueError:
                    m.incomplete = True
                    self._finish(h)
                    self._bad(h, "http-malformed", "bad chunk size line", line[:256], m.ts)
                    return -1
                if size == 0:
                    h.chunk_state = "trailer"
                else:
                    h.remaining = size
                    h.chunk_state = "data"
                continue
            # trailer: header lines until an empty line
            if not line:
                h.body_mode = ""
                return pos
        return pos

    # -- message out -----------------------------------------------------------------------------
    def _finish(self, h: _Half) -> None:
        m = h.msg
        h.msg = None
        h.body_mode = ""
        if m is None:
            return
        ctx = self._ctx
        body = m.body
        if body.error:
            ctx.count("http.decompress-failed")
            ctx.dead_letter("http-decompress-failed", f"{body.encoding} body does not decode: {body.error}",
                            bytes(body.buf.data[:4096]), m.ts)
        if body.unsupported:
            ctx.count("http.encoding-unsupported")
        ctype = m.headers.get("content-type", "")
        attrs: dict[str, Any] = dict(m.start)
        attrs["content_type"] = ctype
        if body.encoding:
            attrs["content_encoding"] = body.encoding
        if "chunked" in m.headers.get("transfer-encoding", "").lower():
            attrs["transfer_encoding"] = "chunked"
        attrs["wire_body_bytes"] = m.wire
        if "user-agent" in m.headers:
            attrs["user_agent"] = m.headers["user-agent"][:256]
        if m.incomplete:
            attrs["incomplete"] = True
        if body.limited:
            attrs["decompression_limited"] = True
        if body.error:
            attrs["decode_error"] = True
        req = m.request
        if m.is_request:
            fhir = req.fhir if req is not None else False
            if "expect" in m.headers:
                attrs["expect"] = m.headers["expect"][:64]
        else:
            fhir = is_fhir(req.path if req else "", ctype)
            if req is not None:
                attrs["request_method"] = req.method
                attrs["request_path"] = req.path
                attrs["host"] = req.host
            disp = m.headers.get("content-disposition", "")
            if disp:
                file_name = _disposition_file_name(disp)
                attrs["disposition"] = disp.split(";", 1)[0].strip().lower()[:32]
                if file_name:
                    attrs["file_name"] = file_name
            if "content-location" in m.headers and m.start.get("status") == 202:
                attrs["content_location"] = m.headers["content-location"][:512]  # bulk export status URL
        if fhir and req is not None:
            attrs.update(req.shape)
        media = ctype.split(";", 1)[0].strip().lower()
        content = bytes(body.buf.data)
        if media in NDJSON_MEDIA:
            attrs["ndjson_records"] = content.count(b"\n") + (1 if content and not content.endswith(b"\n") else 0)
            if fhir:
                attrs["fhir_bulk_file"] = True
        actor = req.actor if req is not None else self._actor
        channel = "fhir" if fhir else "http"
        if m.is_request and media.startswith("multipart/") and content and not body.error:
            self._multipart(m, attrs, content, ctype, channel, actor, body.buf.truncated or body.limited)
            return
        ctx.message(
            Message(
                from_client=m.is_request,
                ts=m.ts,
                channel=channel,
                content=content,
                content_type=media,
                size=body.buf.size,
                truncated=body.buf.truncated or body.limited,
                attributes=attrs,
                actor=actor,
            )
        )

    def _multipart(self, m: _Msg, attrs: dict[str, Any], body: bytes, ctype: str, channel: str, actor: str,
                   truncated: bool) -> None:
        """A multipart request (form upload): the request without its body, then one Message per part."""
        ctx = self._ctx
        try:
            parts, total = mime.form_data_parts(body, ctype)
        except Exception:  # the stdlib parser is lenient; still, a surprise must not stop the stream
            ctx.count("http.multipart-error")
            parts, total = [], 0
        if total > len(parts):
            ctx.count("http.multipart-part-limit")
        head = dict(attrs)
        head["multipart_parts"] = total
        media = ctype.split(";", 1)[0].strip().lower()
        if not parts:  # not parsable as MIME: keep the raw body on the request itself
            ctx.message(Message(from_client=True, ts=m.ts, channel=channel, content=body, content_type=media,
                                size=m.body.buf.size, truncated=truncated, attributes=head, actor=actor))
            return
        ctx.message(Message(from_client=True, ts=m.ts, channel=channel, content=b"", content_type=media,
                            size=0, attributes=head, actor=actor))
        keep = ("method", "path", "host", "http_version", "fhir_resource", "fhir_interaction")
        for part in parts:
            pa = {k: attrs[k] for k in keep if k in attrs}
            pa.update(mime.part_attributes(part, total))
            ctx.count("http.multipart-parts")
            ctx.message(Message(from_client=True, ts=m.ts, channel=channel, content=part.content,
                                content_type=part.content_type, size=len(part.content), truncated=truncated,
                                attributes=pa, actor=actor))


def _coding(headers: dict[str, str]) -> str:
    return headers.get("content-encoding", "").strip().lower()


def _content_length(headers: dict[str, str]) -> int:
    v = headers.get("content-length", "").split(",")[0].strip()
    return int(v) if v.isdigit() else 0


_FILENAME = re.compile(r"""filename\*?=(?:UTF-8''|utf-8'')?"?([^";]+)"?""", re.I)


def _disposition_file_name(value: str) -> str:
    """File name of a Content-Disposition header (``filename*=UTF-8''...`` preferred, percent-decoded)."""
    names = _FILENAME.findall(value)
    if not names:
        return ""
    return unquote(names[-1].strip())[:512]


def _basic_auth_user(value: str) -> str:
    """The user name of HTTP Basic credentials; the password is never kept."""
    scheme, _, cred = value.strip().partition(" ")
    if scheme.lower() != "basic" or not cred:
        return ""
    try:
        raw = base64.b64decode(cred.strip(), validate=True)
    except (binascii.Error, ValueError):
        return ""
    return raw.split(b":", 1)[0].decode("utf-8", "replace")[:256]
