"""Keyed value hashes: count data subjects across channels without storing identifiers.

A plain SHA-256 of an 18-digit ID or an 11-digit phone number is brute-forced in minutes, so the
hash is an HMAC-SHA256 under the deployment's secret key (model.config.load_hash_key), truncated
to 128 bits. The value is normalized first so that one subject written two ways
(``138-1234-5678`` / ``+86 13812345678``, ``...002x`` / ``...002X``) hashes the same.
The entity type's normalizer is part of the message, so a phone number and a record number made
of the same digits do not collide.
"""

from __future__ import annotations

import hmac
import unicodedata
from collections.abc import Callable

_SEPARATORS = frozenset(" \t\r\n-_./()[]^·•:：")


def _digits(v: str) -> str:
    return "".join(filter(str.isdigit, v))


def _resident_id(v: str) -> str:
    return "".join(c for c in v if c.isalnum()).upper()


def _phone(v: str) -> str:
    d = _digits(v)
    if len(d) == 15 and d.startswith("0086"):
        d = d[4:]
    elif len(d) == 13 and d.startswith("86"):
        d = d[2:]
    return d


def _email(v: str) -> str:
    return v.strip().lower()


def _record_number(v: str) -> str:
    return "".join(c for c in v if c not in _SEPARATORS).upper()


def _name(v: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", v) if c not in _SEPARATORS).casefold()


def _date(v: str) -> str:
    parts = "".join(c if c.isdigit() else " " for c in v).split()
    if len(parts) == 3:
        return f"{int(parts[0]):04d}{int(parts[1]):02d}{int(parts[2]):02d}"
    return "".join(parts)[:8]


def _icd10(v: str) -> str:
    return v.strip().upper()


def _text(v: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", v).casefold().split())


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "resident_id": _resident_id,
    "phone": _phone,
    "email": _email,
    "digits": _digits,
    "record_number": _record_number,
    "name": _name,
    "date": _date,
    "icd10": _icd10,
    "text": _text,
}


def normalize(kind: str, value: str) -> str:
    return NORMALIZERS[kind](value)


class ValueHasher:
    """HMAC-SHA256 of ``normalizer || 0x1f || normalized value``, first 128 bits as hex."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("hash key must not be empty")
        self._key = key

    def __repr__(self) -> str:  # never show the key
        return "ValueHasher(<key>)"

    def hash(self, kind: str, value: str) -> str:
        msg = f"{kind}\x1f{NORMALIZERS[kind](value)}".encode("utf-8", "surrogatepass")
        return hmac.digest(self._key, msg, "sha256")[:16].hex()
