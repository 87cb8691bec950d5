"""DICOM extractor (pydicom): patient-level tags of Part-10 files and raw data sets.

Part-10 files start with a 128-byte preamble and ``DICM``; the network sensor hands over raw data
sets reassembled from P-DATA (no preamble, no file meta) with content type ``application/dicom``.
pydicom reads both (``force=True`` guesses implicit/explicit VR) and decodes person names with the
data set's SpecificCharacterSet (GB18030, ISO_IR 192 = UTF-8, ISO 2022 escapes...). Values stay
unconverted until read, so each element still knows its byte offset (``value_tell``) and findings
point at the value inside the scanned content.

The engine gives extractors decoded text; the bytes are recovered by re-encoding it with the codec
the engine must have used (see ``Payload.candidate_bytes``). A broken data set never raises: it
is counted (``structured_dicom_broken``) and yields what was read before the damage, or nothing.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from detectors.hit import Hit
from detectors.structured.base import Payload, StructuredTools, emit
from detectors.terms import StructuredSpec

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


def extract_dicom(p: Payload, spec: StructuredSpec, tools: StructuredTools) -> list[Hit]:
    from pydicom.datadict import tag_for_keyword

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
    for keyword, f in spec.fields.items():
        tag = tag_for_keyword(keyword)
        if tag is None or tag not in ds:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                item = ds.get_item(tag)
                tell, length = getattr(item, "value_tell", None), getattr(item, "length", 0)
                elem = ds[tag]
                if elem.VR == "SQ":
                    continue
                values = [v for v in _components(elem.value) if v.strip()]
        except Exception:
            tools.stats["structured_dicom_bad_element"] += 1
            continue
        if not values or tell is None:
            continue
        start = _char_offset(raw, codec, tell)
        end = _char_offset(raw, codec, tell + length) if length < 0xFFFFFFFF else start
        path = f"{RECORD}::{keyword}"
        if len(values) == 1 or elem.VR not in _TEXT_VRS:
            value = "\\".join(values).replace("^", " ").strip() if elem.VR == "PN" else values[0]
            if elem.VR == "PN":  # family^given: hash as "family given" like HL7 XPN
                value = " ".join(x for x in values[0].split("=")[0].split("^") if x).strip()
            emit(out, spec, tools, path, f.entity, start, end, value, keyword, trusted=True)
            continue
        pos = start  # multi-valued ASCII element (OtherPatientIDs): one finding per value
        for i, v in enumerate(values):
            emit(out, spec, tools, f"{path}[{i}]", f.entity, pos, pos + len(v), v, keyword, trusted=True)
            pos += len(v) + 1
    return out
