"""DICOM upper layer (PS3.8): associations, P-DATA reassembly and the DIMSE messages they carry.

- A-ASSOCIATE-RQ/AC/RJ: calling and called AE titles (→ ``Endpoint.name`` of every Event of the
  association), the proposed abstract syntaxes, the accepted transfer syntax per presentation
  context, the user identity (→ ``actor``). One Event when the association is answered.
- P-DATA-TF: PDVs are read as a stream (a PDU is never buffered whole) and their fragments
  joined into the command set and the data set of each DIMSE message.
- One Event per DIMSE message (C-STORE, C-FIND, C-MOVE, C-GET, C-ECHO, N-*; requests and
  responses): the command (field, message ids, affected SOP class and instance, status, move
  destination, sub-operation counts) in attributes; the data set bytes, exactly as sent, as
  content (``application/dicom``) with its transfer syntax in ``attributes["transfer_syntax"]``
  — the detectors' DICOM extractor reads the patient-level tags from there.
- A-RELEASE and A-ABORT end the association (counted; an abort is an Event).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final

from sensors.net.protocols.base import CLIENT, MORE, NO, SERVER, BoundedBuffer, Message, ParserContext

CONTENT_TYPE = "application/dicom"
IMPLICIT_LE = "1.2.840.10008.1.2"
#: Largest non-P-DATA PDU we buffer (associations are a few hundred bytes to a few KiB).
MAX_CONTROL_PDU = 256 << 10
#: Command sets are small (a few hundred bytes); anything bigger is not a command set.
MAX_COMMAND = 64 << 10
MAX_SYNTAXES = 128

COMMANDS: dict[int, str] = {
    0x0001: "C-STORE-RQ", 0x8001: "C-STORE-RSP", 0x0010: "C-GET-RQ", 0x8010: "C-GET-RSP",
    0x0020: "C-FIND-RQ", 0x8020: "C-FIND-RSP", 0x0021: "C-MOVE-RQ", 0x8021: "C-MOVE-RSP",
    0x0030: "C-ECHO-RQ", 0x8030: "C-ECHO-RSP", 0x0FFF: "C-CANCEL-RQ",
    0x0100: "N-EVENT-REPORT-RQ", 0x8100: "N-EVENT-REPORT-RSP", 0x0110: "N-GET-RQ", 0x8110: "N-GET-RSP",
    0x0120: "N-SET-RQ", 0x8120: "N-SET-RSP", 0x0130: "N-ACTION-RQ", 0x8130: "N-ACTION-RSP",
    0x0140: "N-CREATE-RQ", 0x8140: "N-CREATE-RSP", 0x0150: "N-DELETE-RQ", 0x8150: "N-DELETE-RSP",
}
_US = {0x0100: "command_field", 0x0110: "message_id", 0x0120: "message_id_responded", 0x0700: "priority",
       0x0800: "data_set_type", 0x0900: "status", 0x1020: "remaining", 0x1021: "completed",
       0x1022: "failed", 0x1023: "warning", 0x1031: "move_originator_message_id"}
_STR = {0x0002: "affected_sop_class", 0x0003: "requested_sop_class", 0x1000: "affected_sop_instance",
        0x1001: "requested_sop_instance", 0x0600: "move_destination", 0x1030: "move_originator_ae"}
# typed with the tuples they return: native integer arithmetic in the compiled build
_u16: Final[Callable[[bytes, int], tuple[int]]] = struct.Struct("<H").unpack_from
_u32: Final[Callable[[bytes, int], tuple[int]]] = struct.Struct("<I").unpack_from
_pdu: Final[Callable[[bytes, int], tuple[int, int]]] = struct.Struct("!BxI").unpack_from
_be16: Final[Callable[[bytes, int], tuple[int]]] = struct.Struct("!H").unpack_from
_be32: Final[Callable[[bytes, int], tuple[int]]] = struct.Struct("!I").unpack_from


def sniff(prefix: bytes) -> int:
    if len(prefix) < 10:
        if not prefix or prefix[0] not in (1, 2, 4) or (len(prefix) > 1 and prefix[1] != 0):
            return NO
        return MORE
    ptype, length = _pdu(prefix, 0)
    if ptype in (1, 2):
        if prefix[6:8] != b"\x00\x01" or not 68 <= length <= MAX_CONTROL_PDU:
            return NO
        if len(prefix) < 74:
            return MORE
        ae = prefix[10:42]
        if not all(0x20 <= b < 0x7F for b in ae):
            return NO
        return CLIENT if ptype == 1 else SERVER
    if ptype == 4:  # mid-stream: a P-DATA-TF PDU whose first PDV fits and looks right
        if len(prefix) < 12:
            return MORE
        pdv = _be32(prefix, 6)[0]
        if 2 <= pdv and pdv + 4 <= length and prefix[10] & 1 and prefix[11] <= 3 and length < 1 << 26:
            return CLIENT
    return NO


def _ae(raw: bytes) -> str:
    return raw.decode("ascii", "replace").strip(" \x00")


def _uid(raw: bytes) -> str:
    return raw.decode("ascii", "replace").rstrip("\x00 ")


def parse_associate(body: bytes, accept: bool) -> dict[str, Any]:
    """A-ASSOCIATE-RQ/AC body (after the 6-byte PDU header)."""
    out: dict[str, Any] = {"called_ae": _ae(body[4:20]), "calling_ae": _ae(body[20:36])}
    contexts: dict[int, dict[str, Any]] = {}
    pos = 68
    n = len(body)
    while pos + 4 <= n:
        itype = body[pos]
        ilen = _be16(body, pos + 2)[0]
        item = body[pos + 4 : pos + 4 + ilen]
        pos += 4 + ilen
        if itype == 0x10:
            out["application_context"] = _uid(item)
        elif itype in (0x20, 0x21) and len(item) >= 4:
            pc: dict[str, Any] = {"id": item[0], "result": item[2], "abstract": "", "transfer": []}
            sp = 4
            while sp + 4 <= len(item):
                st, sl = item[sp], _be16(item, sp + 2)[0]
                uid = _uid(item[sp + 4 : sp + 4 + sl])
                sp += 4 + sl
                if st == 0x30:
                    pc["abstract"] = uid
                elif st == 0x40 and len(pc["transfer"]) < 32:
                    pc["transfer"].append(uid)
            if len(contexts) < MAX_SYNTAXES:
                contexts[item[0]] = pc
        elif itype == 0x50:
            sp = 0
            while sp + 4 <= len(item):
                st, sl = item[sp], _be16(item, sp + 2)[0]
                val = item[sp + 4 : sp + 4 + sl]
                sp += 4 + sl
                if st == 0x51 and len(val) == 4:
                    out["max_pdu_length"] = _be32(val, 0)[0]
                elif st == 0x52:
                    out["implementation_class_uid"] = _uid(val)
                elif st == 0x55:
                    out["implementation_version"] = _ae(val)
                elif st == 0x58 and len(val) >= 4:  # user identity negotiation (RQ)
                    kind = val[0]
                    ln = _be16(val, 2)[0]
                    if kind in (1, 2):  # username, or username + passcode (never kept)
                        out["user_identity"] = val[4 : 4 + ln].decode("utf-8", "replace")[:256]
                    else:
                        out["user_identity_type"] = kind
    out["contexts"] = contexts
    return out


def parse_command(raw: bytes) -> dict[str, Any]:
    """A DIMSE command set (always implicit VR little endian, group 0000)."""
    out: dict[str, Any] = {}
    pos, n = 0, len(raw)
    while pos + 8 <= n:
        group, elem = _u16(raw, pos)[0], _u16(raw, pos + 2)[0]
        ln = _u32(raw, pos + 4)[0]
        val = raw[pos + 8 : pos + 8 + ln]
        pos += 8 + ln
        if group != 0:
            break
        if elem in _US and len(val) >= 2:
            out[_US[elem]] = _u16(val, 0)[0]
        elif elem in _STR:
            out[_STR[elem]] = _ae(val) if elem in (0x0600, 0x1030) else _uid(val)
    return out


class _Half:
    __slots__ = (
        "buf",
        "cmd",
        "cmd_ctx",
        "cmd_ts",
        "data",
        "data_ctx",
        "lost",
        "pdu_left",
        "pdv_cmd",
        "pdv_ctx",
        "pdv_last",
        "pdv_left",
        "pending",
        "pending_ts",
        "skip",
        "ts",
    )

    def __init__(self) -> None:
        self.buf = b""  # header bytes not yet complete
        self.pdu_left = 0  # bytes left in the current P-DATA PDU
        self.pdv_left = 0  # bytes left in the current PDV
        self.pdv_ctx = 0
        self.pdv_cmd = False
        self.pdv_last = False
        self.skip = 0  # bytes of an oversized/unknown PDU to skip
        self.cmd = bytearray()  # command fragments
        self.cmd_ctx = 0
        self.cmd_ts = 0.0
        self.data: BoundedBuffer | None = None  # data set fragments
        self.data_ctx = 0
        self.pending: dict[str, Any] | None = None  # a parsed command waiting for its data set
        self.pending_ts = 0.0
        self.ts = 0.0
        self.lost = False  # framing lost after a gap: wait for a segment that starts a PDU


def _pdu_start(data: bytes) -> bool:
    """Does a segment start with a plausible P-DATA-TF, A-RELEASE or A-ABORT PDU (resync after a gap)?"""
    if len(data) < 6 or data[1] != 0:
        return False
    ptype, length = _pdu(data, 0)
    if ptype in (5, 6, 7):
        return length == 4
    if ptype == 4 and len(data) >= 12:
        pdv = _be32(data, 6)[0]
        return 2 <= pdv and pdv + 4 <= length and bool(data[10] & 1) and data[11] <= 3
    return False


class DicomParser:
    def __init__(self, ctx: ParserContext) -> None:
        self._ctx = ctx
        self._halves = (_Half(), _Half())  # index 1 = from the association requestor
        self._calling = ""
        self._called = ""
        self._user = ""
        self._rq: dict[str, Any] | None = None
        self._rq_ts = 0.0
        self._answered = False
        self._abstract: dict[int, str] = {}
        self._transfer: dict[int, str] = {}
        self._released = False

    # -- stream ----------------------------------------------------------------------------------
    def feed(self, from_client: bool, data: bytes, ts: float) -> None:
        h = self._halves[from_client]
        if h.lost:
            if not _pdu_start(data):
                self._ctx.count("dicom.resync-skipped-bytes", len(data))
                return
            h.lost = False
            self._ctx.count("dicom.resync")
        pos, n = 0, len(data)
        while pos < n:
            if h.skip:
                k = min(h.skip, n - pos)
                h.skip -= k
                pos += k
                continue
            if h.pdv_left:  # PDV value bytes: straight into the command or data set
                k = min(h.pdv_left, n - pos)
                self._pdv_bytes(h, data[pos : pos + k], ts)
                h.pdv_left -= k
                h.pdu_left -= k
                pos += k
                if h.pdv_left == 0:
                    self._pdv_end(from_client, h)
                continue
            if h.pdu_left:  # inside a P-DATA PDU: the next PDV item header (4 length, 1 ctx, 1 mch)
                need = 6 - len(h.buf)
                h.buf += data[pos : pos + need]
                pos += min(need, n - pos)
                if len(h.buf) < 6:
                    return
                ln = _be32(h.buf, 0)[0]
                pcid, mch = h.buf[4], h.buf[5]
                h.buf = b""
                h.pdu_left -= 6
                if ln < 2 or ln - 2 > h.pdu_left:
                    self._ctx.count("dicom.bad-pdv")
                    h.skip = max(0, h.pdu_left)
                    h.pdu_left = 0
                    continue
                h.pdv_ctx, h.pdv_cmd, h.pdv_last = pcid, bool(mch & 1), bool(mch & 2)
                h.pdv_left = ln - 2
                if h.pdv_left == 0:
                    self._pdv_end(from_client, h)
                continue
            # a PDU header (6 bytes)
            need = 6 - len(h.buf)
            if need > 0:
                h.buf += data[pos : pos + need]
                pos += min(need, n - pos)
                if len(h.buf) < 6:
                    return
                h.ts = ts
            ptype, length = _pdu(h.buf, 0)
            if ptype == 4:
                h.buf = b""
                h.pdu_left = length
                continue
            if ptype not in (1, 2, 3, 5, 6, 7) or length > MAX_CONTROL_PDU:
                self._ctx.count("dicom.bad-pdu")
                h.buf = b""
                h.skip = length
                continue
            have = len(h.buf) - 6
            take = min(length - have, n - pos)
            h.buf += data[pos : pos + take]
            pos += take
            if len(h.buf) - 6 < length:
                return
            body = h.buf[6:]
            h.buf = b""
            self._control(from_client, ptype, body, h.ts)

    # -- P-DATA ------------------------------------------------------------------------------------
    def _pdv_bytes(self, h: _Half, chunk: bytes, ts: float) -> None:
        if h.pdv_cmd:
            if not h.cmd:
                h.cmd_ts = ts
                h.cmd_ctx = h.pdv_ctx
            if len(h.cmd) + len(chunk) <= MAX_COMMAND:
                h.cmd += chunk
            else:
                self._ctx.count("dicom.command-too-large")
            return
        if h.data is None:
            h.data = BoundedBuffer(self._ctx.max_message_bytes)
            h.data_ctx = h.pdv_ctx
            if h.pending is None:
                h.pending_ts = ts
        h.data.add(chunk)

    def _pdv_end(self, from_client: bool, h: _Half) -> None:
        if not h.pdv_last:
            return
        if h.pdv_cmd:
            cmd = parse_command(bytes(h.cmd))
            h.cmd = bytearray()
            if h.pending is not None:  # a command whose data set never came
                self._ctx.count("dicom.missing-data-set")
                self._dimse(from_client, h, incomplete=True)
            h.pending = cmd
            h.pending_ts = h.cmd_ts
            cmd["presentation_context_id"] = h.cmd_ctx
            if cmd.get("data_set_type", 0x0101) == 0x0101:
                self._dimse(from_client, h, incomplete=False)
            return
        if h.pending is None:
            self._ctx.count("dicom.data-set-without-command")
            h.pending = {}
        self._dimse(from_client, h, incomplete=False)

    def _dimse(self, from_client: bool, h: _Half, *, incomplete: bool) -> None:
        cmd = h.pending or {}
        data = h.data
        h.pending = None
        h.data = None
        field = cmd.get("command_field")
        attrs: dict[str, Any] = {"pdu": "P-DATA-TF"}
        attrs["command"] = COMMANDS.get(field, f"0x{field:04x}") if isinstance(field, int) else ""
        attrs.update(cmd)
        attrs.pop("data_set_type", None)
        if "status" in attrs:
            attrs["status"] = f"0x{attrs['status']:04x}"
        pcid = h.data_ctx if data is not None else cmd.get("presentation_context_id", 0)
        attrs["abstract_syntax"] = self._abstract.get(pcid, "")
        attrs["has_data_set"] = data is not None
        if data is not None:
            attrs["transfer_syntax"] = self._transfer.get(pcid, "")
        if self._calling:
            attrs["calling_ae"] = self._calling
            attrs["called_ae"] = self._called
        if incomplete:
            attrs["incomplete"] = True
        self._ctx.count("dicom.messages")
        self._message(from_client, h.pending_ts, attrs,
                      bytes(data.data) if data is not None else b"",
                      data.size if data is not None else 0, data.truncated if data is not None else False)

    def _message(self, from_client: bool, ts: float, attrs: dict[str, Any], content: bytes, size: int,
                 truncated: bool) -> None:
        src, dst = (self._calling, self._called) if from_client else (self._called, self._calling)
        self._ctx.message(Message(
            from_client=from_client, ts=ts, channel="dicom", content=content,
            content_type=CONTENT_TYPE if content else "", size=size, truncated=truncated,
            attributes=attrs, actor=self._user, src_name=src, dst_name=dst,
        ))

    # -- control PDUs ------------------------------------------------------------------------------
    def _control(self, from_client: bool, ptype: int, body: bytes, ts: float) -> None:
        ctx = self._ctx
        try:
            if ptype == 1:
                rq = parse_associate(body, accept=False)
                self._rq, self._rq_ts = rq, ts
                self._calling, self._called = rq["calling_ae"], rq["called_ae"]
                self._user = rq.get("user_identity", "")
                self._abstract = {k: v["abstract"] for k, v in rq["contexts"].items()}
                ctx.count("dicom.associate-rq")
            elif ptype == 2:
                ac = parse_associate(body, accept=True)
                accepted = {k: v["transfer"][0] for k, v in ac["contexts"].items()
                            if v["result"] == 0 and v["transfer"]}
                self._transfer.update(accepted)
                if not self._calling:
                    self._calling, self._called = ac["calling_ae"], ac["called_ae"]
                self._association("accepted", ts, accepted=len(accepted))
            elif ptype == 3:
                self._association("rejected", ts, reject_result=body[1] if len(body) > 1 else 0,
                                  source=body[2] if len(body) > 2 else 0, reason=body[3] if len(body) > 3 else 0)
            elif ptype in (5, 6):
                ctx.count("dicom.release-rq" if ptype == 5 else "dicom.release-rp")
                self._released = True
            elif ptype == 7:
                ctx.count("dicom.abort")
                attrs = {"pdu": "A-ABORT", "abort_source": body[2] if len(body) > 2 else 0,
                         "abort_reason": body[3] if len(body) > 3 else 0}
                self._message(from_client, ts, attrs, b"", 0, False)
        except (struct.error, IndexError):
            ctx.count("dicom.malformed-pdu")
            ctx.dead_letter("dicom-malformed", f"unreadable DICOM PDU of type {ptype}", body[:4096], ts)

    def _association(self, result: str, ts: float, **extra: Any) -> None:
        if self._answered:
            return
        self._answered = True
        rq = self._rq or {}
        attrs: dict[str, Any] = {"pdu": "A-ASSOCIATE", "association": result,
                                 "calling_ae": self._calling, "called_ae": self._called,
                                 "abstract_syntaxes": sorted({a for a in self._abstract.values() if a})}
        for k in ("application_context", "implementation_class_uid", "implementation_version", "max_pdu_length",
                  "user_identity"):
            if k in rq:
                attrs[k] = rq[k]
        attrs.update(extra)
        self._ctx.count(f"dicom.association-{result}")
        self._message(True, self._rq_ts or ts, attrs, b"", 0, False)

    def gap(self, from_client: bool, nbytes: int, ts: float) -> None:
        """A hole: the PDU framing is lost on this side; emit what we have and skip to the next PDU."""
        self._ctx.count("dicom.gap")
        h = self._halves[from_client]
        if h.pdv_left and not h.pdv_cmd and h.data is not None and nbytes < h.pdv_left:
            h.data.size += nbytes  # the hole lies inside a data-set fragment: framing survives
            h.pdv_left -= nbytes
            h.pdu_left -= nbytes
            h.pending = h.pending if h.pending is not None else {}
            h.pending["incomplete"] = True
            return
        if h.pending is not None or h.data is not None:
            self._dimse(from_client, h, incomplete=True)
        fresh = _Half()
        fresh.lost = True
        self._halves = (fresh, self._halves[1]) if not from_client else (self._halves[0], fresh)

    def close(self, ts: float) -> None:
        if self._rq is not None and not self._answered:
            self._association("unanswered", ts)
        for from_client in (True, False):
            h = self._halves[from_client]
            if h.pending is not None or h.data is not None:
                self._dimse(from_client, h, incomplete=True)
