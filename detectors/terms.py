"""Dictionary and structured detector specs: term files (special diseases, diagnoses, drugs) and
HL7 field maps, loaded and validated with file:line like the rest of the catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from detectors.yamlread import Reader, loc_of
from model.yamlsrc import ConfigIssue, load_yaml_file

_ICD_RANGE = regex.compile(r"([A-Z]\d{2}(?:\.\d)?)(?:-([A-Z]\d{2}(?:\.\d)?))?")
_LATIN = regex.compile(r"[A-Za-z]")


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    group: str
    case_exact: bool = False
    requires_context: bool = False
    exclude: tuple[str, ...] = ()
    #: a generic head noun (感染, 畸形, 病变): reported only when the dictionary's span extension
    #: grew it over at least one left modifier (肺部感染, 冠状动脉畸形); alone it names no diagnosis
    head: bool = False

    @property
    def latin(self) -> bool:
        """Latin-script terms need word boundaries; CJK terms do not (no spaces between words)."""
        return bool(_LATIN.search(self.text))


@dataclass(frozen=True, slots=True)
class GroupSpec:
    name: str
    label: str
    icd10: tuple[tuple[str, str], ...]
    where: str


@dataclass(frozen=True, slots=True)
class SpanExtension:
    """How a CJK hit grows to the whole mention (docs/detectors.md "Span extension").

    Chinese writes no spaces, so a dictionary hit is often the head of a longer name: 肺炎 in
    真菌性肺炎, 肿瘤 in 头颈部肿瘤. ``left``: modifiers (course, severity, population, side,
    pathogen, organ) absorbed repeatedly, longest first, up to ``max_left`` extra characters;
    ``right``: head nouns absorbed once (综合征). ``not_before``: words that turn the hit into part
    of another name (肺炎 + 支原体 = a pathogen, 肺炎 + 疫苗 = a vaccine, 肿瘤 + 病房 = a ward): no
    hit then. ``not_after``: words written right before the hit that do the same (耐 + 链霉素 =
    streptomycin-resistant, a property of a germ, not a medication). ``not_across``: words that
    start inside the hit and run past its end (心脏病 + 房 is 心脏 + 病房, a cardiac ward).
    ``left`` holds the inline words plus those of ``left_files`` (generated ``group<TAB>word``
    lists: body sites and ``XY性`` modifiers from CMeKG)."""

    left: frozenset[str] = frozenset()
    right: frozenset[str] = frozenset()
    not_before: frozenset[str] = frozenset()
    max_left: int = 6
    #: also absorb a capitalised Latin name written right before the hit (Turner综合征, Graves病)
    eponym: bool = False
    #: chemistry suffixes (血症 -emia, 尿症 -uria) whose left part is a substance name of any
    #: length: they grow left over any run of ``grow_chars`` (the characters CMeKG writes before
    #: them: 高氨血症, 胱氨酸尿症), at most ``grow_max`` characters
    grow_heads: frozenset[str] = frozenset()
    grow_chars: frozenset[str] = frozenset()
    grow_max: int = 8
    not_after: frozenset[str] = frozenset()
    not_across: frozenset[str] = frozenset()

    @staticmethod
    def lengths(words: frozenset[str]) -> tuple[int, ...]:
        """Distinct word lengths, longest first: a lookup is one slice + set test per length."""
        return tuple(sorted({len(w) for w in words}, reverse=True))


@dataclass(frozen=True)
class DictionarySpec:
    id: str
    version: int
    entity: str
    score: float
    context: tuple[str, ...]
    terms: tuple[Term, ...]
    groups: Mapping[str, GroupSpec]
    examples: tuple[str, ...]
    counter_examples: tuple[str, ...]
    where: str
    min_score: float = -1.0  # this detector's threshold (site tuning); < 0 = defaults.min_score
    extend: SpanExtension | None = None  # CJK span extension; None = hits keep the term's span


@dataclass(frozen=True, slots=True)
class FieldSpec:
    path: str  # "PID-3"
    entity: str
    by_type_code: Mapping[str, str]


@dataclass(frozen=True)
class StructuredSpec:
    id: str
    version: int
    format: str
    score: float
    fields: Mapping[str, FieldSpec]
    examples: tuple[str, ...]
    where: str


#: Formats with an extractor in detectors/structured/ (REGISTRY there must list exactly these).
STRUCTURED_FORMATS = frozenset({"hl7v2", "fhir", "cda", "dicom", "csv", "json"})
#: Field keys: HL7 "PID-3"; others name a path, keyword, OID, data-element code or column/key name.
_FIELD_KEY = {"hl7v2": r"[A-Z][A-Z0-9]{2}-\d{1,3}"}


def _load_term(item: Any, group: str, r: Reader, loc: str, issues: list[ConfigIssue]) -> Term | None:
    if isinstance(item, str) and item.strip():
        return Term(item.strip(), group)
    tr = Reader(item, issues, f"{r.what} term", loc)
    text = tr.text("term", required=True)
    case = tr.text("case", "ignore")
    if case not in ("ignore", "exact"):
        tr.error("case", "'case' must be 'ignore' or 'exact'")
    exclude = tr.strlist("exclude")
    needs_context = tr.flag("requires_context")
    head = tr.flag("head")
    for x in exclude:
        if text and text.lower() not in x.lower():
            tr.error("exclude", f"exclusion {x!r} does not contain the term {text!r}")
    tr.finish()
    if not text:
        return None
    return Term(text, group, case == "exact", needs_context, exclude, head) if tr.ok else None


def _load_groups(path: Path, r: Reader, issues: list[ConfigIssue]) -> tuple[dict[str, GroupSpec], list[Term]]:
    doc = load_yaml_file(path)
    fr = Reader(doc, issues, path.name, f"{path}:1")
    node = fr.raw("groups", required=True)
    fr.finish()
    groups: dict[str, GroupSpec] = {}
    terms: list[Term] = []
    if not isinstance(node, dict) or not node:
        if fr.ok:
            fr.error("groups", "'groups' must be a non-empty mapping")
        return groups, terms
    for name, gnode in node.items():
        gr = Reader(gnode, issues, f"{path.name} group {name}", loc_of(node, name, fr.where()))
        ranges = []
        for spec in gr.strlist("icd10"):
            m = _ICD_RANGE.fullmatch(spec)
            if m is None:
                gr.error("icd10", f"bad ICD-10 code or range {spec!r} (e.g. B20-B24, F43.1)")
            else:
                ranges.append((m.group(1), m.group(2) or m.group(1)))
        tnode = gr.raw("terms", required=True)
        if not isinstance(tnode, list) or not tnode:
            if gr.ok:
                gr.error("terms", "'terms' must be a non-empty list")
            tnode = []
        for i, item in enumerate(tnode):
            loc = loc_of(tnode, i, gr.where("terms"))
            t = _load_term(item, name, gr, loc, issues)
            if t is not None:
                terms.append(t)
        groups[name] = GroupSpec(name, gr.text("label", name), tuple(ranges), gr.where())
        gr.finish()
    return groups, terms


def _check_duplicate_terms(specs: list[DictionarySpec], issues: list[ConfigIssue]) -> None:
    """A term may mean one thing only: a special disease is never also a plain diagnosis."""
    seen: dict[str, str] = {}
    for d in specs:
        for t in d.terms:
            key = t.text if t.case_exact else t.text.lower()
            owner = f"{d.id}/{t.group}"
            if key in seen and seen[key] != owner:
                issues.append(ConfigIssue(d.where, f"dictionary {d.id}: term {t.text!r} also in {seen[key]}"))
            elif key in seen:
                issues.append(ConfigIssue(d.where, f"dictionary {d.id}: duplicate term {t.text!r} ({owner})"))
            seen.setdefault(key, owner)


def _sources(r: Reader) -> list[str]:
    """``source`` is one term file or a list of them (hand-written YAML first, generated .txt after)."""
    v = r.raw("source", required=True)
    if isinstance(v, str) and v:
        return [v]
    if isinstance(v, list) and v and all(isinstance(i, str) and i for i in v):
        return list(v)
    if v is not None:
        r.error("source", "'source' must be a file name or a non-empty list of file names")
    return []


def _load_txt_terms(path: Path, r: Reader) -> tuple[dict[str, GroupSpec], list[Term]]:
    """Generated term lists (detectors/tools/build_lexicons.py): ``group<TAB>term`` per line.

    Plain text, not YAML: tens of thousands of terms load in milliseconds, and every term is a
    plain one (case-insensitive, word boundaries for Latin letters)."""
    groups: dict[str, GroupSpec] = {}
    terms: list[Term] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        group, sep, text = line.partition("\t")
        if not sep or not group or not text.strip():
            r.error("source", f"{path.name}:{n}: expected 'group<TAB>term'")
            continue
        if group not in groups:
            groups[group] = GroupSpec(group, group, (), f"{path}:{n}")
        terms.append(Term(text.strip(), group))
    return groups, terms


def _load_word_file(path: Path, er: Reader, chars: set[str]) -> list[str]:
    """Extension words from a generated ``group<TAB>word`` file (the group only documents),
    except group ``grow_char``: characters of the chemistry suffixes' left part, into ``chars``."""
    words: list[str] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        group, sep, word = line.partition("\t")
        if not sep or not word.strip():
            er.error("left_files", f"{path.name}:{n}: expected 'group<TAB>word'")
            continue
        if group == "grow_char":
            chars.add(word.strip())
        else:
            words.append(word.strip())
    return words


def _load_extension(node: Any, r: Reader, root: Path, issues: list[ConfigIssue]) -> SpanExtension | None:
    """``extend: {left, left_files, right, not_before, not_after, not_across, max_left, eponym,
    grow}``; words must be CJK (Latin has word boundaries and needs no extension; ``eponym`` absorbs a capitalised Latin
    name before the hit: Turner综合征; ``grow: {heads, max_left}`` lets chemistry suffixes grow
    over the ``grow_char`` characters of the word files: 高氨血症)."""
    if node is None:
        return None
    er = Reader(node, issues, f"{r.what} extend", r.where("extend"))
    lists = {k: er.strlist(k) for k in ("left", "right", "not_before", "not_after", "not_across")}
    chars: set[str] = set()
    for fname in er.strlist("left_files"):
        p = root / fname
        if not p.is_file():
            er.error("left_files", f"word file {fname!r} does not exist")
            continue
        lists["left"] = (*lists["left"], *_load_word_file(p, er, chars))
    max_left = er.integer("max_left", 6, lo=1)
    eponym = er.flag("eponym")
    grow_heads: tuple[str, ...] = ()
    grow_max = 8
    if (gnode := er.raw("grow")) is not None:
        gr = Reader(gnode, issues, f"{r.what} extend grow", er.where("grow"))
        grow_heads = gr.strlist("heads", required=True)
        grow_max = gr.integer("max_left", 8, lo=1)
        gr.finish()
        if grow_heads and not chars:
            gr.error("heads", "grow heads need grow_char lines in a left_files word file")
    for key, words in lists.items():
        for w in words:
            if _LATIN.search(w) or not w.strip():
                er.error(key, f"extension word {w!r} must be non-empty CJK text")
    er.finish()
    if not er.ok:
        return None
    return SpanExtension(
        frozenset(lists["left"]),
        frozenset(lists["right"]),
        frozenset(lists["not_before"]),
        max_left,
        eponym,
        frozenset(grow_heads),
        frozenset(chars),
        grow_max,
        frozenset(lists["not_after"]),
        frozenset(lists["not_across"]),
    )


def load_dictionaries(
    items: list[tuple[Any, str]], root: Path, entities: Mapping[str, Any], issues: list[ConfigIssue]
) -> list[DictionarySpec]:
    out: list[DictionarySpec] = []
    for node, loc in items:
        r = Reader(node, issues, "dictionary", loc)
        did = r.text("id", required=True)
        r.what = f"dictionary {did or '?'}"
        entity = r.text("entity", required=True)
        if entity and entity not in entities:
            r.error("entity", f"unknown entity {entity!r} (not in entities.yaml)")
        groups: dict[str, GroupSpec] = {}
        terms: list[Term] = []
        for source in _sources(r):
            p = root / source
            if not p.is_file():
                r.error("source", f"term file {source!r} does not exist")
                continue
            g, t = _load_txt_terms(p, r) if p.suffix == ".txt" else _load_groups(p, r, issues)
            for name, gspec in g.items():
                groups.setdefault(name, gspec)
            terms.extend(t)
        spec = DictionarySpec(
            id=did,
            version=r.integer("version", 1, required=True, lo=1),
            entity=entity,
            score=r.number("score", 0.8),
            context=tuple(w.lower() for w in r.strlist("context")),
            terms=tuple(terms),
            groups=groups,
            examples=r.strlist("examples"),
            counter_examples=r.strlist("counter_examples"),
            where=loc,
            extend=_load_extension(r.raw("extend"), r, root, issues),
        )
        if any(t.requires_context for t in terms) and not spec.context:
            r.error("context", "terms with requires_context need a non-empty 'context' list")
        if (spec.extend is None or not spec.extend.left) and (heads := [t.text for t in terms if t.head]):
            r.error("extend", f"head terms need left extension words to qualify them: {', '.join(heads[:5])}")
        r.finish()
        if did and entity in entities:
            out.append(spec)
    _check_duplicate_terms(out, issues)
    return out


def load_structured(
    items: list[tuple[Any, str]], entities: Mapping[str, Any], issues: list[ConfigIssue]
) -> list[StructuredSpec]:
    out: list[StructuredSpec] = []
    for node, loc in items:
        r = Reader(node, issues, "structured", loc)
        sid = r.text("id", required=True)
        r.what = f"structured {sid or '?'}"
        r.text("kind", "structured")
        fmt = r.text("format", required=True)
        if fmt and fmt not in STRUCTURED_FORMATS:
            r.error("format", f"unknown format {fmt!r}; one of {', '.join(sorted(STRUCTURED_FORMATS))}")
        fields: dict[str, FieldSpec] = {}
        fnode = r.raw("fields", required=True)
        for path, fspec in (fnode or {}).items() if isinstance(fnode, dict) else []:
            fr = Reader(fspec, issues, f"{r.what} field {path}", loc_of(fnode, path, loc))
            if fmt == "hl7v2" and not regex.fullmatch(_FIELD_KEY["hl7v2"], str(path)):
                fr.error(None, "field paths look like PID-3 (segment-field)")
            elif not str(path).strip():
                fr.error(None, "field keys must be non-empty")
            ent = fr.text("entity", required=True)
            codes = fr.raw("by_type_code") or {}
            for e in [ent, *(codes.values() if isinstance(codes, dict) else [])]:
                if e and e not in entities:
                    fr.error(None, f"unknown entity {e!r} (not in entities.yaml)")
            fields[str(path)] = FieldSpec(str(path), ent, dict(codes) if isinstance(codes, dict) else {})
            fr.finish()
        spec = StructuredSpec(
            sid,
            r.integer("version", 1, required=True, lo=1),
            fmt,
            r.number("score", 0.95),
            fields,
            r.strlist("examples"),
            loc,
        )
        r.finish()
        if sid and fmt in STRUCTURED_FORMATS:
            out.append(spec)
    return out
