"""Exact data match (EDM): confirm that a name found next to an ID / record number / birth date
belongs to a real patient of this hospital, without the sensor ever holding the patient index.

Build (``healthdlp edm build PATIENT_INDEX.csv``): for every patient and every pair
(name, resident ID), (name, record number), (name, date of birth), the fingerprint is the first
64 bits of HMAC-SHA256(deployment key, "edm" 0x1f kind 0x1f norm(name) 0x1f norm(other)), with the
same normalizers as value hashes (hashing.py). Fingerprints are sorted and written as one
little-endian uint64 array after a 64-byte header. The file holds no raw values, and without the
key it cannot be brute-forced offline (an unkeyed hash of name + birth date could).

Match: the file is memory-mapped (``numpy.memmap``) and searched with ``searchsorted``; resident
memory is the pages touched (~25 per lookup), not the 240 MB a 10-million-patient index takes on
disk. Three fingerprints per patient at 64 bits give a false-match rate near n / 2^64 per lookup.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.hashing import normalize
from detectors.hit import Hit

MAGIC = b"HDLPEDM1"
HEADER = struct.Struct("<8sQ16s32x")  # magic, count, key check (HMAC of a constant), padding → 64 bytes
#: pair kind → (entity types of the other value, normalizer)
KINDS: dict[str, tuple[frozenset[str], str]] = {
    "id": (frozenset({"CN_RESIDENT_ID"}), "resident_id"),
    "mrn": (frozenset({"MEDICAL_RECORD_NUMBER", "MEDICAL_INSURANCE_NUMBER"}), "record_number"),
    "dob": (frozenset({"DATE_OF_BIRTH"}), "date"),
}
MAX_PAIRS = 256  # per record: a page of names next to a page of numbers must not cost n*m HMACs


class EdmError(ValueError):
    pass


def key_check(key: bytes) -> bytes:
    return hmac.digest(key, b"healthdlp-edm-key-check", "sha256")[:16]


def fingerprint(key: bytes, kind: str, name: str, other: str) -> int:
    n = normalize("name", name)
    o = normalize(KINDS[kind][1], other)
    if not n or not o:
        return 0
    msg = f"edm\x1f{kind}\x1f{n}\x1f{o}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hmac.digest(key, msg, "sha256")[:8], "little")


@dataclass(frozen=True, slots=True)
class PatientRow:
    name: str
    resident_id: str = ""
    mrn: str = ""
    dob: str = ""


def patient_fingerprints(key: bytes, p: PatientRow) -> list[int]:
    out = []
    for kind, other in (("id", p.resident_id), ("mrn", p.mrn), ("dob", p.dob)):
        if other.strip():
            fp = fingerprint(key, kind, p.name, other)
            if fp:
                out.append(fp)
    return out


def build_index(key: bytes, patients: Iterable[PatientRow], out: str | Path, chunk: int = 1 << 20) -> int:
    """Write the sorted fingerprint set for ``patients``; returns the number of fingerprints.

    Fingerprints are collected in uint64 chunks (8 bytes each, never Python ints in a list), then
    concatenated and sorted in place: peak memory ≈ 2 × 8 bytes × fingerprints (the concatenation)."""
    chunks: list[np.ndarray] = []
    buf = np.empty(chunk, dtype=np.uint64)
    n = 0
    for p in patients:
        for fp in patient_fingerprints(key, p):
            buf[n] = fp
            n += 1
            if n == chunk:
                chunks.append(buf.copy())
                n = 0
    chunks.append(buf[:n].copy())
    del buf
    arr = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    chunks.clear()
    arr.sort()
    keep = np.ones(len(arr), dtype=bool)
    if len(arr) > 1:
        np.not_equal(arr[1:], arr[:-1], out=keep[1:])
    count = int(keep.sum())
    path = Path(out)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:  # written in slices: no second full-size copy for de-duplication
        f.write(HEADER.pack(MAGIC, count, key_check(key)))
        for i in range(0, len(arr), chunk):
            f.write(arr[i : i + chunk][keep[i : i + chunk]].astype("<u8", copy=False).tobytes())
    tmp.replace(path)
    return count


class EdmIndex:
    """A memory-mapped fingerprint set. ``repr`` shows the size only (never the key)."""

    def __init__(self, path: str | Path, key: bytes) -> None:
        self.path = Path(path)
        self._key = key
        with open(self.path, "rb") as f:
            head = f.read(HEADER.size)
        if len(head) < HEADER.size:
            raise EdmError(f"{self.path}: not an EDM index (too short)")
        magic, count, check = HEADER.unpack(head)
        if magic != MAGIC:
            raise EdmError(f"{self.path}: not an EDM index (bad magic)")
        if not hmac.compare_digest(check, key_check(key)):
            raise EdmError(f"{self.path}: built with a different hash key; rebuild it with this deployment's key")
        expected = HEADER.size + 8 * count
        if self.path.stat().st_size != expected:
            raise EdmError(f"{self.path}: truncated ({self.path.stat().st_size} bytes, expected {expected})")
        self.count = int(count)
        self._arr = (
            np.memmap(self.path, dtype="<u8", mode="r", offset=HEADER.size, shape=(self.count,))
            if self.count
            else np.empty(0, dtype="<u8")
        )

    def __repr__(self) -> str:
        return f"EdmIndex({self.path.name}, {self.count} fingerprints)"

    def __contains__(self, fp: int) -> bool:
        if not self.count or not fp:
            return False
        v = np.uint64(fp)
        i = int(np.searchsorted(self._arr, v))
        return i < self.count and self._arr[i] == v

    def contains_many(self, fps: Sequence[int]) -> np.ndarray:
        q = np.asarray(fps, dtype=np.uint64)
        if not self.count or not len(q):
            return np.zeros(len(q), dtype=bool)
        idx = np.minimum(np.searchsorted(self._arr, q), self.count - 1)
        return np.asarray(self._arr[idx] == q) & (q != 0)

    def confirm(self, hits: list[Hit], stats: dict[str, int] | None = None) -> int:
        """Mark hits that form a known (name, ID / MRN / DOB) pair within one record: score 0.99
        at least and ``note`` "edm:<kind>". Returns the number of confirmed pairs."""
        groups: dict[str, tuple[list[Hit], list[tuple[str, Hit]]]] = {}
        for h in hits:
            rec = h.field_path.partition("::")[0] if "::" in h.field_path else ""
            if h.entity == "PERSON_NAME":
                groups.setdefault(rec, ([], []))[0].append(h)
                continue
            for kind, (types, _) in KINDS.items():
                if h.entity in types:
                    groups.setdefault(rec, ([], []))[1].append((kind, h))
        pairs: list[tuple[Hit, Hit, str]] = []
        fps: list[int] = []
        for names, others in groups.values():
            group = [(nh, oh, kind) for nh in names for kind, oh in others][:MAX_PAIRS]
            pairs.extend(group)
            fps.extend(fingerprint(self._key, kind, nh.value, oh.value) for nh, oh, kind in group)
        if not pairs:
            return 0
        found = self.contains_many(fps)
        n = 0
        for (nh, oh, kind), ok in zip(pairs, found, strict=True):
            if not ok:
                continue
            n += 1
            for h in (nh, oh):
                h.score = max(h.score, 0.99)
                if not h.note.startswith("edm"):
                    h.note = f"edm:{kind}" + (f";{h.note}" if h.note else "")
        if stats is not None:
            stats["edm_lookups"] = stats.get("edm_lookups", 0) + len(fps)
            stats["edm_confirmed"] = stats.get("edm_confirmed", 0) + n
        return n


def load_edm(edm: EdmIndex | str | Path | None, key: bytes) -> EdmIndex | None:
    if edm is None or edm == "":
        return None
    return edm if isinstance(edm, EdmIndex) else EdmIndex(edm, key)


__all__ = ["EdmError", "EdmIndex", "PatientRow", "build_index", "fingerprint", "load_edm"]
