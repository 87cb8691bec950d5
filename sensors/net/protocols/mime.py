"""MIME messages (e-mail bodies, HTTP multipart/form-data) into their leaf parts, decoded.

The stdlib ``email`` parser does the hard part (nested multiparts, RFC 2231 file names,
base64 and quoted-printable); we bound what it is given (``max_message_bytes``) and how many
parts we hand on (``MAX_PARTS``), and never let it raise into the stream.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass
from email.message import Message as EmailMessage
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
    return _PARSER.parsebytes(raw)


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
