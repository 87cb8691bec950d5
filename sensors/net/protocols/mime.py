"""MIME messages (e-mail bodies, HTTP multipart/form-data) into their leaf parts, decoded.

The stdlib ``email`` parser does the hard part (nested multiparts, RFC 2231 file names,
base64 and quoted-printable); we bound what it is given (``max_message_bytes``) and how many
parts we hand on (``MAX_PARTS``), and never let it raise into the stream.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from dataclasses import dataclass
from email.message import Message as EmailMessage
from itertools import pairwise
from typing import Any

MAX_PARTS = 256
_PARSER = email.parser.BytesParser(policy=email.policy.compat32)
#: Headers of a mail we put into attributes (as analysts filter on them), each cut to 256 characters.
MAIL_HEADERS = ("from", "to", "cc", "subject", "date", "message-id", "reply-to", "x-mailer")


@dataclass(frozen=True, slots=True)
class Part:
    index: int  # 1-based position among the leaf parts
    content: bytes  # transfer encoding undone
    content_type: str
    file_name: str
    field_name: str  # form-data field name
    disposition: str  # "attachment" | "inline" | "form-data" | ""
    transfer_encoding: str
    decode_error: bool


def parse_message(raw: bytes) -> EmailMessage:
    """The stdlib parse of ``raw``; well-formed CRLF mails take a fast path with the same result.

    The stdlib ``FeedParser`` walks the text line by line, which for a mail with base64
    attachments (76-character lines) is most of the sensor's SMTP cost. ``_fast_parse`` splits
    multiparts on their boundary lines with ``str.find`` and lets the stdlib parse only the
    header blocks, building the same ``Message`` tree; anything it is not sure to handle
    exactly like the stdlib (bare CR or LF, missing boundaries, ``message/*`` or digest parts,
    header blocks the stdlib would flag as defective) goes to the stdlib parser whole.
    """
    if raw.count(b"\n") == raw.count(b"\r") == raw.count(b"\r\n"):
        msg = _fast_parse(raw.decode("ascii", "surrogateescape"), 0)
        if msg is not None:
            return msg
    return _PARSER.parsebytes(raw)


#: What the stdlib feedparser accepts as a header line (its ``headerRE``), minus "From " lines.
_HEADER_LINE = re.compile(r"[\041-\071\073-\176]*:|[\t ]")
#: Nesting deeper than this goes to the stdlib parser.
_MAX_FAST_DEPTH = 8


def _headers_into(msg: EmailMessage, head: str) -> bool:
    """The header block ``head`` (CRLF lines) into ``msg`` as the stdlib feedparser stores them.

    Same rule as ``FeedParser._parse_headers`` with ``compat32.header_source_parse``: a header is
    its first line plus continuation lines, the value left-stripped of blanks after the colon
    and right-stripped of line ends. False for anything the stdlib would flag as a defect.
    """
    name = ""
    value: list[str] = []
    for line in head[:-2].split("\r\n"):
        if line[:1] in (" ", "\t"):
            value.append("\r\n" + line)
            continue
        if not _HEADER_LINE.match(line) or line[0] == ":":
            return False  # not a header line / an empty name: the stdlib records a defect
        if name:
            msg.set_raw(name, "".join(value).rstrip("\r\n"))
        name, _, first = line.partition(":")
        value = [first.lstrip(" \t")]
    if name:
        msg.set_raw(name, "".join(value).rstrip("\r\n"))
    return True


def _fast_parse(text: str, depth: int) -> EmailMessage | None:
    """One message (or multipart part) of CRLF-only ``text``, or None to let the stdlib do it.

    For a part, ``text`` is what lies between two boundary lines less the line ending before
    the second one (which belongs to the boundary, as the stdlib has it).
    """
    if text.startswith("\r\n"):
        head, body = "", text[2:]
    else:
        sep = text.find("\r\n\r\n")
        if sep < 0:
            return None
        head, body = text[: sep + 2], text[sep + 4 :]
        if head[0] in " \t":
            return None  # a continuation as first header line: the stdlib records a defect
    msg = EmailMessage()
    if head and not _headers_into(msg, head):
        return None
    ctype = msg.get_content_type()
    maintype = ctype.split("/", 1)[0]
    if maintype == "message":
        return None
    if maintype != "multipart":
        msg.set_payload(body)
        return msg
    boundary = msg.get_boundary()
    cte = str(msg.get("content-transfer-encoding", "7bit")).lower()
    if not boundary or ctype == "multipart/digest" or depth >= _MAX_FAST_DEPTH or cte not in ("7bit", "8bit",
                                                                                                  "binary"):
        return None
    delim = "--" + boundary
    # boundary lines: ``--boundary`` at a line start, optional ``--``, blanks, then the line end
    starts: list[tuple[int, int, bool]] = []  # (line start, start of the next line, closing)
    nl_delim = "\r\n" + delim
    cand = 0 if body.startswith(delim) else body.find(nl_delim) + 2 if nl_delim in body else -1
    while cand >= 0:
        after = cand + len(delim)
        closing = body.startswith("--", after)
        if closing:
            after += 2
        eol = body.find("\r\n", after)
        line_end = len(body) if eol < 0 else eol
        if not body[after:line_end].strip(" \t"):
            starts.append((cand, line_end + 2 if eol >= 0 else line_end, closing))
            if closing:
                break
        nxt = body.find(nl_delim, line_end)
        cand = nxt + 2 if nxt >= 0 else -1
    if not starts or not starts[-1][2] or any(c for _, _, c in starts[:-1]):
        return None  # no start or no closing boundary: the stdlib records a defect
    parts: list[EmailMessage] = []
    for (_, begin, _), (end, _, _) in pairwise(starts):
        chunk = body[begin:end]
        if chunk.endswith("\r\n"):
            chunk = chunk[:-2]
        part = _fast_parse(chunk, depth + 1)
        if part is None:
            return None
        parts.append(part)
    if not parts:
        return None
    msg.set_payload(parts)  # type: ignore[arg-type]  # a multipart's payload is its list of parts
    first = starts[0][0]
    msg.preamble = body[: first - 2] if first >= 2 else None
    tail = body[starts[-1][1] :]
    msg.epilogue = tail if tail else ""
    return msg


def headers_of(msg: EmailMessage) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in MAIL_HEADERS:
        v = msg.get(name)
        if v is not None:
            out[name.replace("-", "_")] = str(v)[:256]
    return out


def leaf_parts(msg: EmailMessage, limit: int = MAX_PARTS) -> tuple[list[Part], int]:
    """(up to ``limit`` leaf parts, total number of leaf parts)."""
    parts: list[Part] = []
    total = 0
    for p in msg.walk():
        if p.is_multipart():
            continue
        total += 1
        if len(parts) >= limit:
            continue
        cte = str(p.get("content-transfer-encoding", "")).strip().lower()
        error = False
        try:
            payload = p.get_payload(decode=True)
        except Exception:  # the stdlib is lenient, but a hostile part must not stop the stream
            payload = None
        if not isinstance(payload, bytes):
            raw = p.get_payload()
            payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
            error = True
        if p.defects and cte in ("base64", "quoted-printable"):
            error = True
        disp = str(p.get("content-disposition", "")).split(";", 1)[0].strip().lower()
        name = p.get_param("name", header="content-disposition")
        try:
            file_name = p.get_filename() or ""
        except Exception:
            file_name = ""
        parts.append(Part(
            index=total,
            content=payload,
            content_type=p.get_content_type(),
            file_name=str(file_name)[:512],
            field_name=str(name)[:256] if isinstance(name, str) else "",
            disposition=disp,
            transfer_encoding=cte,
            decode_error=error,
        ))
    return parts, total


def form_data_parts(body: bytes, content_type_header: str, limit: int = MAX_PARTS) -> tuple[list[Part], int]:
    """Leaf parts of an HTTP multipart/form-data body (its Content-Type header gives the boundary)."""
    msg = parse_message(b"Content-Type: " + content_type_header.encode("latin-1", "replace") + b"\r\n\r\n" + body)
    return leaf_parts(msg, limit)


def part_attributes(part: Part, total: int) -> dict[str, Any]:
    attrs: dict[str, Any] = {"part_index": part.index, "part_count": total, "part_content_type": part.content_type}
    if part.file_name:
        attrs["file_name"] = part.file_name
    if part.field_name:
        attrs["field_name"] = part.field_name
    if part.disposition:
        attrs["disposition"] = part.disposition
    if part.transfer_encoding:
        attrs["transfer_encoding"] = part.transfer_encoding
    if part.decode_error:
        attrs["decode_error"] = True
    return attrs
