"""CSV/TSV and xlsx exports: header inference, then one finding per cell value.

A column is typed by its header when the header is a known field name (catalogue ``fields``:
姓名, 身份证号, 手机, 诊断, name, ssn, phone, dx ...; Chinese headers also match by containment,
so 患者姓名 and 联系电话 work), else by its values: a sample of the column must mostly pass one
validator (GB 11643, mobile segment, e-mail shape, ICD-10 code list, surname + 2-4 CJK characters).
Headerless exports are typed the same way. Field paths are ``row[i]::<header>`` so that each row is
one record: the grader counts one subject per row, by its strongest identifier column.

xlsx (openpyxl, optional) has no character offsets inside the zip: its findings get ordinal
offsets (cell k → [k, k+1)) and ``Sheet!B7`` field paths.
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Iterator, Sequence

import regex

from detectors.hit import Hit
from detectors.structured.base import Payload, StructuredTools, accept, emit, make_hit
from detectors.terms import FieldSpec, StructuredSpec
from detectors.validators import cn_mobile, email, gb11643, icd10

DELIMS = (",", "\t", ";", "|")
SAMPLE_ROWS = 50
INFER_MIN = 0.8
_NORM = regex.compile(r"[\s_\-./（）()\[\]:：#]+")
_CELL = {
    d: regex.compile(r'[ ]*(?:"((?:[^"]|"")*)"|([^' + regex.escape(d) + r'"\r\n]*))[ ]*(?:' + regex.escape(d) + r"|$)")
    for d in DELIMS
}

Cell = tuple[str, int, int]


@functools.lru_cache(maxsize=8192)
def norm_header(h: str) -> str:
    """Header and key names repeat on every export and every spec lookup: normalise each once."""
    return _NORM.sub("", h).lower()


def _lines(text: str, limit: int | None = None) -> Iterator[tuple[int, int]]:
    pos, n = 0, 0
    while pos < len(text) and (limit is None or n < limit):
        nl = text.find("\n", pos)
        end = len(text) if nl < 0 else nl
        stop = end - 1 if end > pos and text[end - 1] == "\r" else end
        if stop > pos:
            yield pos, stop
            n += 1
        pos = end + 1


def split_row(text: str, s: int, e: int, delim: str) -> list[Cell]:
    out: list[Cell] = []
    pos = s
    pat = _CELL[delim]
    while pos <= e:
        m = pat.match(text, pos, e)
        if m is None:
            return out
        if m.group(1) is not None:
            out.append((m.group(1).replace('""', '"'), m.start(1), m.end(1)))
        else:
            v = m.group(2) or ""
            st = m.start(2) if m.group(2) is not None else m.start()
            out.append((v, st, st + len(v)))
        if m.end() == pos or (m.end() >= e and not text[m.end() - 1 : m.end()] == delim):
            break
        pos = m.end()
    return out


def _cell_count(text: str, s: int, e: int, delim: str) -> int:
    """``len(split_row(...))`` without building cells: a line with no quote and no CR has one cell
    more than it has delimiters (the sniffer runs on every text; most lines are not CSV rows)."""
    if text.find('"', s, e) < 0 and text.find("\r", s, e) < 0:
        return text.count(delim, s, e) + 1
    return len(split_row(text, s, e, delim))


def _delimiter(text: str) -> str | None:
    lines = list(_lines(text, 12))
    if len(lines) < 2:
        return None
    need = max(2, int(0.9 * len(lines)))
    first_s, first_e = lines[0]
    for d in DELIMS:
        # cheap necessary condition first: a line with two or more cells contains the delimiter,
        # so the first line and ``need`` lines must (free text and logs fail here, unsplit)
        if text.find(d, first_s, first_e) < 0 or sum(text.find(d, s, e) >= 0 for s, e in lines) < need:
            continue
        counts = [_cell_count(text, s, e, d) for s, e in lines]
        if counts[0] >= 2 and sum(c == counts[0] for c in counts) >= need:
            return d
    return None


def sniff_csv(p: Payload) -> bool:
    h = p.head
    if not h or h[0] in "{[<" or h.startswith("MSH") or "\x00" in h[:512]:
        return False
    if p.content_type in ("text/csv", "text/tab-separated-values"):
        return True
    return _delimiter(p.text[:16384]) is not None


def _header_field(h: str, fields: dict[str, FieldSpec]) -> FieldSpec | None:
    n = norm_header(h)
    if not n:
        return None
    if n in fields:
        return fields[n]
    if any(ord(c) > 0x2E7F for c in n):  # CJK header: containment (患者姓名, 联系电话)
        best = max((k for k in fields if any(ord(c) > 0x2E7F for c in k) and k in n), key=len, default=None)
        return fields[best] if best else None
    return None


def _value_type(v: str, tools: StructuredTools) -> str | None:
    v = v.strip()
    if not v:
        return None
    if gb11643(v).ok:
        return "CN_RESIDENT_ID"
    if cn_mobile(v).ok and sum(c.isdigit() for c in v) in (11, 13, 15):
        return "PHONE_NUMBER"
    if "@" in v and email(v).ok:
        return "EMAIL_ADDRESS"
    if 3 <= len(v) <= 8 and v[:1].isupper() and v[1:3].isdigit() and icd10(v, tools.icd_codes).ok:
        return "ICD10_CODE"
    if (
        2 <= len(v) <= 4
        and all("\u4e00" <= c <= "\u9fff" for c in v)
        and (v[0] in tools.surnames or v[:2] in tools.surnames)
    ):
        return "PERSON_NAME"
    return None


def _infer_column(values: Sequence[str], tools: StructuredTools) -> str | None:
    filled = [v for v in values if v.strip()]
    if len(filled) < 2:
        return None
    kinds = [_value_type(v, tools) for v in filled]
    best = max(set(kinds), key=kinds.count)
    return best if best and kinds.count(best) >= INFER_MIN * len(filled) else None


def type_columns(
    rows: Sequence[Sequence[str]], spec: StructuredSpec, tools: StructuredTools
) -> tuple[bool, list[tuple[str, str] | None]]:
    """(first row is a header, per column (entity, column name) or None)."""
    fields = {norm_header(k): f for k, f in spec.fields.items()}
    first = rows[0]
    named = [_header_field(h, fields) for h in first]
    header = any(named) or (
        not any(_value_type(v, tools) for v in first) and all(not c.strip().isdigit() for c in first) and len(rows) > 2
    )
    body = rows[1 : SAMPLE_ROWS + 1] if header else rows[:SAMPLE_ROWS]
    cols: list[tuple[str, str] | None] = []
    for j in range(max(len(r) for r in rows)):
        f = named[j] if header and j < len(named) else None
        name = first[j].strip() if header and j < len(first) and first[j].strip() else f"col[{j}]"
        if f is not None:
            cols.append((f.entity, name))
            continue
        inferred = _infer_column([r[j] if j < len(r) else "" for r in body], tools)
        cols.append((inferred, name) if inferred else None)
    return header, cols


def extract_csv(p: Payload, spec: StructuredSpec, tools: StructuredTools) -> list[Hit]:
    text = p.text
    delim = _delimiter(text[:16384]) or ("\t" if p.content_type == "text/tab-separated-values" else ",")
    spans = list(_lines(text))
    if not spans:
        return []
    sample = [split_row(text, s, e, delim) for s, e in spans[: SAMPLE_ROWS + 1]]
    header, cols = type_columns([[c[0] for c in r] for r in sample], spec, tools)
    out: list[Hit] = []
    if not any(cols):
        return out
    for i, (s, e) in enumerate(spans):
        if header and i == 0:
            continue
        cells = sample[i] if i < len(sample) else split_row(text, s, e, delim)
        for j, (v, cs, ce) in enumerate(cells):
            col = cols[j] if j < len(cols) else None
            if col is not None:
                emit(out, spec, tools, f"row[{i}]::{col[1]}", col[0], cs, ce, v, col[1])
    return out


# -- xlsx ---------------------------------------------------------------------------------------------
def sniff_xlsx(p: Payload) -> bool:
    t = p.text
    return t.startswith("PK\x03\x04") and ("xl/" in t[:200_000] or p.content_type.endswith("sheet"))


def _xlsx_rows(raw: bytes) -> Iterator[tuple[str, list[list[str]]]]:
    import openpyxl  # optional dependency; ImportError is handled by the caller

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        try:
            for ws in wb.worksheets:
                rows = [["" if v is None else str(v) for v in r] for r in ws.iter_rows(values_only=True)]
                yield ws.title, [r for r in rows if any(x.strip() for x in r)]
        finally:
            wb.close()


def _col_letter(j: int) -> str:
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def extract_xlsx(p: Payload, spec: StructuredSpec, tools: StructuredTools) -> list[Hit]:
    out: list[Hit] = []
    k = 0
    for raw, _codec in p.candidate_bytes():
        try:
            sheets = list(_xlsx_rows(raw))
        except ImportError:
            tools.stats["structured_xlsx_unsupported"] += 1
            return out
        except Exception:  # noqa: S112 - not a workbook under this encoding, or a damaged one
            continue
        for title, rows in sheets:
            if not rows:
                continue
            header, cols = type_columns(rows, spec, tools)
            for i, row in enumerate(rows):
                if header and i == 0:
                    continue
                for j, v in enumerate(row):
                    col = cols[j] if j < len(cols) else None
                    a = accept(col[0], v, tools) if col else None
                    if col is None or a is None:
                        continue
                    path = f"{title}!row[{i + 1}]::{col[1]}"  # spreadsheet rows count from 1
                    out.append(make_hit(spec, path, a.entity, k, k + 1, v, a.validator, a.result, a.note, col[1]))
                    k += 1
        return out
    tools.stats["structured_xlsx_broken"] += 1
    return out
