"""The MIME fast path must give exactly what the stdlib parser gives, on clean and on damaged mails.

``mime.parse_message`` splits well-formed CRLF multiparts itself and falls back to the stdlib
``BytesParser`` for anything else; these tests compare the two results part by part (headers,
payloads, defects, and what ``leaf_parts``/``headers_of`` hand on), so a shortcut that changes a
single byte of any event fails here.
"""

from __future__ import annotations

from email.message import Message as EmailMessage
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensors.net import craft
from sensors.net.protocols import mime


def _stdlib(raw: bytes) -> EmailMessage:
    return mime._PARSER.parsebytes(raw)


def _tree(msg: EmailMessage) -> list[Any]:
    out: list[Any] = []
    for p in msg.walk():
        payload = p.get_payload()
        out.append((
            list(p.items()),
            p.is_multipart(),
            payload if isinstance(payload, str) else None,
            p.get_content_type(),
            [type(d).__name__ for d in p.defects],
        ))
    return out


def _same(raw: bytes) -> None:
    fast, slow = mime.parse_message(raw), _stdlib(raw)
    assert _tree(fast) == _tree(slow)
    assert mime.headers_of(fast) == mime.headers_of(slow)
    assert mime.leaf_parts(fast) == mime.leaf_parts(slow)
    assert _tree(fast) == _tree(slow)  # after get_payload(decode=True) added its defects


def _fast_taken(raw: bytes) -> bool:
    return mime._fast_parse(raw.decode("ascii", "surrogateescape"), 0) is not None


MAILS = {
    "plain": craft.mime_mail(),
    "qp": craft.mime_mail(text="Blutzucker ✓ " * 40, qp_text=True),
    "attachments": craft.mime_mail(attachments=[("a.pdf", "application/pdf", bytes(range(256)) * 40),
                                                ("b.csv", "text/csv", b"id,name\n1,x\n" * 50)]),
    "nested": (b"From: a@b\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
               b"preamble\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n"
               b"Content-Type: text/plain\r\n\r\nhello\r\n\r\n--i\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n"
               b"--i--\r\n--o\r\n\r\nno headers here\r\n--o\r\nContent-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"x.bin\"\r\n\r\n"
               b"AAEC\r\nAwQF\r\n--o--  \r\nepilogue\r\n"),
}


@pytest.mark.parametrize("name", sorted(MAILS))
def test_fast_path_equals_stdlib_on_clean_mails(name: str) -> None:
    raw = MAILS[name]
    assert _fast_taken(raw), "a clean CRLF mail should take the fast path"
    _same(raw)


DAMAGED = [
    # no closing boundary, no boundary parameter, digest, message/rfc822, LF-only, bare CR
    MAILS["nested"].replace(b"--o--", b"--o-x"),
    MAILS["nested"].replace(b'; boundary="o"', b""),
    MAILS["nested"].replace(b"multipart/mixed", b"multipart/digest"),
    MAILS["nested"].replace(b"Content-Type: text/html", b"Content-Type: message/rfc822"),
    MAILS["attachments"].replace(b"\r\n", b"\n"),
    MAILS["plain"].replace(b"See", b"S\re"),
    # a header block the stdlib flags: continuation first, a non-header line, an empty name
    b" X: y\r\nSubject: s\r\n\r\nbody",
    b"Subject: s\r\nnot a header\r\n\r\nbody",
    b"Subject: s\r\n: v\r\n\r\nbody",
    # boundary look-alikes inside a part, blanks after a boundary, base64 junk
    MAILS["nested"].replace(b"hello", b"--i-not\r\n--ix\r\n -- \r\n--i --"),
    MAILS["nested"].replace(b"--i\r\nContent-Type: text/html", b"--i \t\r\nContent-Type: text/html"),
    MAILS["nested"].replace(b"AAEC", b"A*=!"),
    b"Subject: only headers\r\n",
    b"",
]


@pytest.mark.parametrize("raw", DAMAGED)
def test_fast_path_equals_stdlib_on_damaged_mails(raw: bytes) -> None:
    _same(raw)


_line = st.sampled_from([
    b"--o", b"--o--", b"--i", b"--i--", b"--o ", b"--ox", b"", b"Content-Type: text/plain",
    b"Content-Type: multipart/mixed; boundary=i", b"Content-Transfer-Encoding: base64",
    b"Content-Disposition: attachment; filename=\"r.csv\"", b"AAEC", b"x", b" cont", b"From x", b"\xe6\x82\xa3",
])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_line, max_size=30), sep=st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
def test_fast_path_equals_stdlib_on_generated_structures(lines: list[bytes], sep: bytes) -> None:
    head = b"Subject: s\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n"
    _same(head + sep.join(lines))


@settings(max_examples=500, deadline=None)
@given(raw=st.binary(max_size=400))
def test_fast_path_equals_stdlib_on_hostile_bytes(raw: bytes) -> None:
    _same(b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n" + raw)
