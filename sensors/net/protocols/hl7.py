"""HL7 v2 over MLLP: ``0x0B message 0x1C 0x0D`` frames, any number per segment, split anywhere.

One Message per HL7 message (ACKs included). The MSH segment gives the attributes analysts
filter on: message type (MSH-9, "ADT^A01"), control id (MSH-10), sending/receiving application
and facility, version; an ACK also gives MSA-1/MSA-2. Content is the message itself without the
framing bytes, bounded by ``max_message_bytes``.
"""

from __future__ import annotations

from typing import Any, Final

from sensors.net.protocols.base import CLIENT, MORE, NO, SERVER, BoundedBuffer, Message, ParserContext

SB: Final = 0x0B
EB: Final = 0x1C
CR: Final = 0x0D
CONTENT_TYPE: Final = "application/hl7-v2+er7"
_MSH_PARSE_BYTES: Final = 4096
_MAX_SEGMENT_NAMES: Final = 64


def sniff(prefix: bytes) -> int:
    if not prefix or prefix[0] != SB:
        return NO
    if len(prefix) < 4:
        return MORE if b"MSH".startswith(prefix[1:]) else NO
    if prefix[1:4] != b"MSH":
        return NO
    first = prefix[1:].split(b"\r", 1)[0]
    sep = first[3:4] or b"|"
    fields = first.split(sep)
    if len(fields) < 9:
        return MORE if len(prefix) < 1024 and b"\r" not in prefix else CLIENT
    return SERVER if fields[8].startswith(b"ACK") else CLIENT


def parse_msh(content: bytes) -> dict[str, Any] | None:
    """MSH and MSA facts of one HL7 message, or None when it does not start with MSH.

    Works on bytes and decodes only the MSH (and MSA) segment: this runs once per message and
    HL7 feeds are many small messages.
    """
    head = content[:_MSH_PARSE_BYTES]
    if not head.startswith(b"MSH") or len(head) < 8:
        return None
    if b"\n" in head:
        head = head.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    segs = head.split(b"\r")
    msh = segs[0].decode("utf-8", "replace")
    fs = msh[3]
    comp = msh[4] if len(msh) > 4 and msh[4] != fs else "^"
    # MSH-i is fields[i-1] (MSH-1 is the separator itself); absent fields read as "". Plain
    # indexing over a padded list, no helper closure: the compiled build calls this per message.
    fields = msh.split(fs)
    if len(fields) < 12:
        fields += [""] * (12 - len(fields))
    mtype_parts = fields[8].split(comp)
    if mtype_parts[0] == "ACK":
        mtype = "ACK"
    else:
        mtype = comp.join([p for p in mtype_parts[:2] if p])
    attrs: dict[str, Any] = {
        "message_type": mtype,
        "message_structure": mtype_parts[2] if len(mtype_parts) > 2 else "",
        "control_id": fields[9],
        "sending_app": fields[2].split(comp, 1)[0],
        "sending_facility": fields[3].split(comp, 1)[0],
        "receiving_app": fields[4].split(comp, 1)[0],
        "receiving_facility": fields[5].split(comp, 1)[0],
        "version": fields[11].split(comp, 1)[0],
    }
    seen: dict[bytes, None] = {}
    msa_raw = b""
    for seg in segs:
        if seg:
            name = seg[:3]
            if name not in seen:
                seen[name] = None
            if not msa_raw and name == b"MSA":
                msa_raw = seg
    names = list(seen)[:_MAX_SEGMENT_NAMES]
    attrs["segments"] = [n.decode("latin-1") for n in names]
    if b"MSA" in names:
        msa = msa_raw.decode("utf-8", "replace").split(fs)
        attrs["ack_code"] = msa[1] if len(msa) > 1 else ""
        attrs["ack_control_id"] = msa[2] if len(msa) > 2 else ""
    return attrs


class _Half:
    __slots__ = ("body", "skip_cr", "start_ts")

    def __init__(self) -> None:
        self.body: BoundedBuffer | None = None  # None = between frames
        self.skip_cr = False
        self.start_ts = 0.0


def _past_frame_end(h: _Half, data: bytes, eb: int) -> int:
    """The position after the frame's FS byte at ``eb`` and the CR that closes an MLLP frame; when
    the FS is the chunk's last byte, the CR is skipped at the start of the next chunk instead."""
    pos = eb + 1
    if pos < len(data):
        if data[pos] == CR:
            pos += 1
    else:
        h.skip_cr = True
    return pos


class MllpParser:
    def __init__(self, ctx: ParserContext) -> None:
        self._ctx = ctx
        self._halves = (_Half(), _Half())

    def feed(self, from_client: bool, data: bytes, ts: float) -> None:
        h = self._halves[from_client]
        pos, n = 0, len(data)
        if h.skip_cr and n:
            h.skip_cr = False
            if data[0] == CR:
                pos = 1
        while pos < n:
            if h.body is None:
                sb = data.find(b"\x0b", pos)
                junk = (n if sb < 0 else sb) - pos
                if junk and data[pos : pos + junk].strip():
                    self._ctx.count("hl7.junk-bytes", junk)
                if sb < 0:
                    return
                eb = data.find(b"\x1c", sb + 1)
                if 0 <= eb - sb - 1 <= self._ctx.max_message_bytes:
                    # fast path: the whole frame is in this chunk (small HL7 messages): no buffer copy
                    content = data[sb + 1 : eb]
                    self._emit(from_client, content, len(content), False, ts, incomplete=False)
                    pos = _past_frame_end(h, data, eb)
                    continue
                h.body = BoundedBuffer(self._ctx.max_message_bytes)
                h.start_ts = ts
                pos = sb + 1
                continue
            eb = data.find(b"\x1c", pos)
            if eb < 0:
                h.body.add(data[pos:] if pos else data)
                return
            h.body.add(data[pos:eb])
            self._finish(from_client, h, incomplete=False)
            pos = _past_frame_end(h, data, eb)

    def gap(self, from_client: bool, nbytes: int, ts: float) -> None:
        h = self._halves[from_client]
        self._ctx.count("hl7.gap")
        h.skip_cr = False
        if h.body is not None:
            self._finish(from_client, h, incomplete=True)

    def close(self, ts: float) -> None:
        for from_client in (True, False):
            h = self._halves[from_client]
            if h.body is not None and h.body.size:
                self._finish(from_client, h, incomplete=True)
            h.body = None

    def _finish(self, from_client: bool, h: _Half, *, incomplete: bool) -> None:
        body = h.body
        h.body = None
        if body is None:
            return
        self._emit(from_client, bytes(body.data), body.size, body.truncated, h.start_ts, incomplete=incomplete)

    def _emit(self, from_client: bool, content: bytes, size: int, truncated: bool, start_ts: float, *,
              incomplete: bool) -> None:
        attrs = parse_msh(content)
        if attrs is None:
            self._ctx.count("hl7.invalid")
            self._ctx.dead_letter("hl7-invalid", "MLLP frame does not hold an HL7 message starting with MSH",
                                  content[:4096], start_ts)
            return
        if incomplete:
            attrs["incomplete"] = True
            self._ctx.count("hl7.incomplete-message")
        self._ctx.message(
            Message(
                from_client=from_client,
                ts=start_ts,
                channel="hl7-mllp",
                content=content,
                content_type=CONTENT_TYPE,
                size=size,
                truncated=truncated,
                attributes=attrs,
                src_name=attrs["sending_app"],
                dst_name=attrs["receiving_app"],
            )
        )
