"""DICOM extractor (pydicom): patient-level tags of Part-10 files and raw data sets.

Part-10 files start with a 128-byte preamble and ``DICM``; the network sensor hands over raw data
sets reassembled from P-DATA (no preamble, no file meta) with content type ``application/dicom``.
pydicom reads both (``force=True`` guesses implicit/explicit VR) and decodes person names with the
data set's SpecificCharacterSet (GB18030, ISO_IR 192 = UTF-8, ISO 2022 escapes...). Values stay
unconverted until read, so each element still knows its byte offset (``value_tell``) and findings
point at the value inside the scanned content. Sequence items are read too (a DICOMDIR lists many
patients, request attributes name the requesting physician), and every element of VR PN is a
person's name whatever its attribute (``VR=PN`` in the catalogue), private ones included.

Only free-text values (LO, LT, PN, SH, ST, UC, UT, UR, and text-like private UN values) are left to
the free-text detectors; the rest of the file (tags, numbers, UIDs, binary values, pixel data) is
marked quiet, so the bytes of an image are never reported as phone numbers or IP addresses.

The engine gives extractors decoded text; the bytes are recovered by re-encoding it with the codec
the engine must have used (see ``Payload.candidate_bytes``). A broken data set never raises: it
is counted (``structured_dicom_broken``) and yields what was read before the damage, or nothing.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from detectors.hit import Hit
from detectors.structured.base import Payload, StructuredTools, emit
from detectors.terms import FieldSpec, StructuredSpec

RECORD = "dicom"
_FIRST_GROUPS = frozenset({"\x02\x00", "\x08\x00", "\x10\x00"})
_TEXT_VRS = frozenset({"LO", "SH", "CS", "DA", "LT", "ST", "UT", "UC", "AE"})


def sniff_dicom(p: Payload) -> bool:
    t = p.text
    if len(t) >= 132 and t[128:132] == "DICM":
        return True
    if p.content_type == "application/dicom":
        return True
    # raw data set: first tag in group 0002/0008/0010, then an explicit VR or a 32-bit length < 64 KiB
    if len(t) >= 12 and t[:2] in _FIRST_GROUPS:
        vr = t[4:6]
        return (vr.isalpha() and vr.isupper()) or (ord(t[6]) == 0 and ord(t[7]) == 0)
    return False


def _consistent(text: str) -> list[tuple[bytes, str]]:
    """Byte strings the engine could have decoded into ``text``: binary (latin-1) first."""
    out: list[tuple[bytes, str]] = []
    for codec in ("latin-1", "gb18030", "utf-8"):
        try:
            b = text.encode(codec)
        except UnicodeEncodeError:
            continue
        if any(b == x for x, _ in out):
            continue
        out.append((b, codec))
    return out


def _read(raw: bytes) -> Any:
    import pydicom  # imported lazily: an engine without DICOM traffic never pays for it

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(raw), force=True, stop_before_pixels=True)
        if len(ds) == 0:
            raise ValueError("empty data set")
        return ds


def _char_offset(raw: bytes, codec: str, byte_off: int) -> int:
    if codec == "latin-1":
        return byte_off
    return len(raw[:byte_off].decode(codec, "replace"))


def _components(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [str(v) for v in value]
    return [str(value)]


#: VRs that can hold free text; every other value (numbers, UIDs, dates, binary, pixel data) and
#: the tags between values are quiet for the free-text detectors
FREE_TEXT_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT", "UR"})
MAX_DEPTH = 8
#: catalogue key for "every element of VR PN": a person name whatever the attribute
ANY_PN = "VR=PN"


@dataclass(frozen=True, slots=True)
class _Elem:
    keyword: str
    vr: str
    value: Any  # as pydicom converts it (names decoded with the character set)
    start: int  # byte offset of the stored value in the scanned bytes
    stored: bytes
    record: str  # "dicom", or one DICOMDIR directory record
    path: str  # "PatientName", "RequestAttributesSequence[0].RequestingPhysician"


def _at(raw: bytes, base: int, tell: int, stored: bytes) -> int | None:
    """Absolute offset of a value: pydicom 3 gives items of a defined-length sequence offsets
    relative to the sequence's value, others absolute; the bytes decide which."""
    for cand in (base + tell, tell):
        if stored and raw[cand : cand + len(stored)] == stored:
            return cand
    return None


def _walk(ds: Any, raw: bytes, base: int, record: str, prefix: str, depth: int, stats: Any) -> Iterator[_Elem]:
    """Every element with its stored bytes, sequence items included (DICOMDIR records, request
    attributes, SR content)."""
    if depth > MAX_DEPTH:
        stats["structured_dicom_too_deep"] += 1
        return
    for tag in list(ds.keys()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                item = ds.get_item(tag)
                elem = ds[tag]
                vr, kw = elem.VR, elem.keyword or f"{tag:08X}"
                value = elem.value
        except Exception:
            stats["structured_dicom_bad_element"] += 1
            continue
        tell = getattr(item, "value_tell", None)
        stored = getattr(item, "value", None)
        stored = bytes(stored) if isinstance(stored, (bytes, bytearray)) else b""
        start = _at(raw, base, tell, stored) if tell is not None else None
        if vr == "SQ":
            child = start if start is not None else (base + tell if tell is not None else 0)
            for i, sub in enumerate(value or []):
                rec = f"{RECORD}/{kw}[{i}]" if kw == "DirectoryRecordSequence" else record
                yield from _walk(sub, raw, child, rec, f"{prefix}{kw}[{i}].", depth + 1, stats)
        elif start is not None:
            yield _Elem(kw, vr, value, start, stored, record, f"{prefix}{kw}")


def _free_text(e: _Elem) -> bool:
    if e.vr in FREE_TEXT_VRS:
        return True
    printable = sum(32 <= b < 127 for b in e.stored)  # a private tag of unknown VR holding text
    return e.vr == "UN" and len(e.stored) <= 4096 and printable >= 0.9 * len(e.stored)


def _quiet(p: Payload, raw: bytes, codec: str, text_spans: list[tuple[int, int]]) -> None:
    """Everything but free-text values is quiet: preamble, tags, lengths, numbers, UIDs, binary
    values and pixel data hold no text, only bytes that look like phone numbers and IPs."""
    pos = 0
    for s, e in sorted(text_spans):
        if s > pos:
            p.quiet.append((_char_offset(raw, codec, pos), _char_offset(raw, codec, s)))
        pos = max(pos, e)
    p.quiet.append((_char_offset(raw, codec, pos), len(p.text)))


def extract_dicom(p: Payload, spec: StructuredSpec, tools: StructuredTools) -> list[Hit]:
    ds = None
    raw, codec = b"", "latin-1"
    for cand, cand_codec in _consistent(p.text):
        try:
            ds = _read(cand)
        except Exception:  # noqa: S112 - pydicom raises many types on damaged input: "not readable"
            continue
        raw, codec = cand, cand_codec
        break
    if ds is None:
        tools.stats["structured_dicom_broken"] += 1
        return []
    tools.stats["structured_dicom_datasets"] += 1
    out: list[Hit] = []
    text_spans: list[tuple[int, int]] = []
    for e in _walk(ds, raw, 0, RECORD, "", 0, tools.stats):
        if _free_text(e):
            text_spans.append((e.start, e.start + len(e.stored)))
        f = spec.fields.get(e.keyword) or (spec.fields.get(ANY_PN) if e.vr == "PN" else None)
        if f is not None:
            _emit_element(out, spec, tools, f, e, raw, codec)
    if text_spans:
        _quiet(p, raw, codec, text_spans)
    return out


def _emit_element(
    out: list[Hit], spec: StructuredSpec, tools: StructuredTools, f: FieldSpec, e: _Elem, raw: bytes, codec: str
) -> None:
    values = [v for v in _components(e.value) if v.strip()]
    if not values:
        return
    padded = e.stored.rstrip(b"\x00 ")
    start = _char_offset(raw, codec, e.start)
    end = _char_offset(raw, codec, e.start + len(padded))
    path = f"{e.record}::{e.path}"
    if len(values) == 1 or e.vr not in _TEXT_VRS:
        value = values[0]
        if e.vr == "PN":  # family^given: hash as "family given" like HL7 XPN
            value = " ".join(x for x in values[0].split("=")[0].split("^") if x).strip()
        emit(out, spec, tools, path, f.entity, start, end, value, e.keyword, trusted=True)
        return
    pos = start  # multi-valued ASCII element (OtherPatientIDs): one finding per value
    for i, v in enumerate(values):
        emit(out, spec, tools, f"{path}[{i}]", f.entity, pos, pos + len(v), v, e.keyword, trusted=True)
        pos += len(v) + 1
