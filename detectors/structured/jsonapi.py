"""JSON API bodies: values typed by their key names (idCard, sfzh, mobile, patientName, icd10 ...).

Keys are compared case- and separator-insensitively (``id_card`` = ``idCard`` = ``IDCARD``), at any
depth, inside arrays too. Generic keys that mean a person only in context (``name``, ``address``)
count only when the same object also holds a strong key (an ID, phone, record number, diagnosis),
so ``{"name": "Chrome", "version": "120"}`` stays silent. Each object inside an array is a record
(``data.list[3]``), so a page of fifty patients counts fifty subjects.
"""

from __future__ import annotations

from detectors.hit import Hit
from detectors.structured import jsonpos
from detectors.structured.base import Payload, StructuredTools, emit
from detectors.structured.jsonpos import JsonPosError, Leaf, Node
from detectors.structured.tabular import norm_header
from detectors.terms import FieldSpec, StructuredSpec

#: Keys that name a person or place only when the object also holds a strong key.
WEAK_KEYS = frozenset({"name", "fullname", "xm", "address", "addr", "dz", "username", "nickname", "birthday"})


def sniff_json(p: Payload) -> bool:
    h = p.head
    return (h.startswith("{") or h.startswith("[")) and '"resourceType"' not in p.text[:8192]


def _walk(
    node: Node,
    path: str,
    record: str,
    fields: dict[str, FieldSpec],
    found: list[tuple[str, str, FieldSpec, Leaf, bool]],
) -> None:
    if isinstance(node, dict):
        strong = any(norm_header(k) in fields and norm_header(k) not in WEAK_KEYS for k in node)
        for k, v in node.items():
            p = f"{path}.{k}" if path else k
            f = fields.get(norm_header(k))
            if f is not None:
                for lf in v if isinstance(v, list) else [v]:
                    if isinstance(lf, Leaf):
                        found.append((record, p, f, lf, strong or norm_header(k) not in WEAK_KEYS))
            if isinstance(v, (dict, list)):
                _walk(v, p, record, fields, found)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            p = f"{path}[{i}]"
            _walk(v, p, p if isinstance(v, dict) else record, fields, found)


def extract_json(p: Payload, spec: StructuredSpec, tools: StructuredTools) -> list[Hit]:
    try:
        root = jsonpos.loads(p.text)
    except JsonPosError:
        tools.stats["structured_json_broken"] += 1
        return []
    fields = {norm_header(k): f for k, f in spec.fields.items()}
    found: list[tuple[str, str, FieldSpec, Leaf, bool]] = []
    _walk(root, "", "$", fields, found)
    out: list[Hit] = []
    for record, path, f, lf, ok in found:
        if not ok and not (f.entity == "PERSON_NAME" and _cjk_surname(lf.value, tools)):
            continue
        rel = path[len(record) + 1 :] if path.startswith(record + ".") else path
        emit(out, spec, tools, f"{record}::{rel}", f.entity, lf.start, lf.end, lf.value, f.path)
    return out


def _cjk_surname(v: str, tools: StructuredTools) -> bool:
    v = v.strip()
    return (
        2 <= len(v) <= 4
        and all("\u4e00" <= c <= "\u9fff" for c in v)
        and (v[0] in tools.surnames or v[:2] in tools.surnames)
    )
