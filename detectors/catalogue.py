"""The detector catalogue: entities, pattern, dictionary and structured detectors, all as data.

``load_catalogue(dir)`` reads ``entities.yaml``, ``patterns.yaml``, ``dictionaries.yaml`` and
``structured.yaml`` from one directory, validates every key (entity names, categories, levels,
regex syntax, validator names, data files, duplicate ids and terms) and raises one
:class:`model.yamlsrc.ConfigError` listing every problem with file:line. A typo in a detector
must stop startup, never silently drop the detector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from detectors.terms import DictionarySpec, StructuredSpec, load_dictionaries, load_structured
from detectors.validators import NEEDS_DATA, VALIDATORS
from detectors.yamlread import Reader, loc_of
from model.taxonomy import DataCategory
from model.yamlsrc import ConfigError, ConfigIssue, load_yaml_file, where

BUNDLED = Path(__file__).resolve().parent / "catalogue"
MASKS = frozenset(
    "resident_id phone email bank_card name record_number date address icd10 diagnosis "
    "special_disease lab_result drug ip genetic".split()
)
NORMALIZERS = frozenset("resident_id phone email digits name record_number date icd10 text".split())


@dataclass(frozen=True, slots=True)
class EntitySpec:
    name: str
    category: DataCategory
    level: int
    clause: str
    identifier: bool = False
    subject_rank: int = 99
    priority: int = 0
    mask: str = "diagnosis"
    normalize: str = "text"


@dataclass(frozen=True, slots=True)
class Scoring:
    min_score: float = 0.5
    context_boost: float = 0.2
    negative_boost: float = 0.4
    validated_boost: float = 0.3
    context_window: tuple[int, int] = (40, 20)
    timeout_ms: int = 100


@dataclass(frozen=True)
class PatternSpec:
    id: str
    version: int
    entity: str
    regex: str
    compiled: Any = field(compare=False, repr=False)
    ignore_case: bool
    max_len: int
    score: float
    validated_boost: float
    validator: str
    validator_data: frozenset[str] = field(repr=False)
    requires_context: bool
    context: tuple[str, ...]
    negative_context: tuple[str, ...]
    context_window: tuple[int, int]
    timeout_s: float
    examples: tuple[str, ...]
    counter_examples: tuple[str, ...]
    where: str
    prefilter: str = ""  # expression the prefilter pass looks for ("" = `regex` in prefilter mode)
    prefilter_exact: bool = False  # True: compile `prefilter` as is (Hyperscan syntax), not as a superset
    reach: tuple[int, int] = (0, 0)  # candidate window: chars before / after a prefilter match end
    #: prefilter is a whole list (``prefilter: '{{name}}'``): these literals go into the one pass
    #: as separate expressions (a 3,000-name alternation exceeds Hyperscan's pattern length)
    prefilter_literals: tuple[str, ...] = ()
    #: the regex starts where a prefilter literal starts: run an anchored ``match`` at each literal
    #: instead of a ``finditer`` over a window (a 3,000-name alternation tried at every position)
    anchored: bool = False
    min_score: float = -1.0  # this detector's threshold (site tuning); < 0 = defaults.min_score


@dataclass(frozen=True)
class Catalogue:
    root: Path
    entities: Mapping[str, EntitySpec]
    scoring: Scoring
    patterns: tuple[PatternSpec, ...]
    dictionaries: tuple[DictionarySpec, ...]
    structured: tuple[StructuredSpec, ...]

    def without(self, disabled: tuple[str, ...]) -> Catalogue:
        """A copy with the detectors named in DetectorsConfig.disabled removed."""
        off = set(disabled)
        return Catalogue(
            self.root,
            self.entities,
            self.scoring,
            tuple(p for p in self.patterns if p.id not in off),
            tuple(d for d in self.dictionaries if d.id not in off),
            tuple(s for s in self.structured if s.id not in off),
        )

    def detector_ids(self) -> set[str]:
        return (
            {p.id for p in self.patterns}
            | {d.id for d in self.dictionaries}
            | {s.id for s in self.structured}
        )


def _load_doc(path: Path, key: str, issues: list[ConfigIssue]) -> tuple[Any, str]:
    if not path.exists():
        if key in ("entities", "patterns"):
            issues.append(ConfigIssue(f"{path}:0", "required catalogue file is missing"))
        return None, f"{path}:0"
    doc = load_yaml_file(path)
    r = Reader(doc, issues, path.name, f"{path}:1")
    r.integer("version", 1, required=True, lo=1, hi=1)
    r.raw(key)
    r.finish(("defaults",))
    return (doc if r.ok else None), f"{path}:1"


def _load_entities(doc: Any, loc: str, issues: list[ConfigIssue]) -> dict[str, EntitySpec]:
    out: dict[str, EntitySpec] = {}
    node = doc.get("entities") if isinstance(doc, dict) else None
    if not isinstance(node, dict) or not node:
        issues.append(ConfigIssue(loc, "entities.yaml: 'entities' must be a non-empty mapping"))
        return out
    categories = {c.value: c for c in DataCategory}
    for name, spec in node.items():
        r = Reader(spec, issues, f"entity {name}", loc_of(node, name, loc))
        if not regex.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            r.error(None, "entity names are UPPER_SNAKE_CASE")
        cat = r.text("category", required=True)
        if cat and cat not in categories:
            r.error("category", f"unknown category {cat!r}; one of {', '.join(sorted(categories))}")
        mask, norm = r.text("mask", "diagnosis"), r.text("normalize", "text")
        if mask not in MASKS:
            r.error("mask", f"unknown mask {mask!r}; one of {', '.join(sorted(MASKS))}")
        if norm not in NORMALIZERS:
            r.error("normalize", f"unknown normalizer {norm!r}; one of {', '.join(sorted(NORMALIZERS))}")
        out[name] = EntitySpec(
            name=name,
            category=categories.get(cat, DataCategory.HEALTH_STATUS),
            level=r.integer("level", 1, required=True, lo=1, hi=5),
            clause=r.text("clause", required=True),
            identifier=r.flag("identifier"),
            subject_rank=r.integer("subject_rank", 99, lo=1, hi=99),
            priority=r.integer("priority", 0, lo=0, hi=1000),
            mask=mask,
            normalize=norm,
        )
        r.finish()
    return out


def _load_scoring(doc: Any, loc: str, issues: list[ConfigIssue]) -> Scoring:
    node = doc.get("defaults") if isinstance(doc, dict) else None
    if node is None:
        return Scoring()
    r = Reader(node, issues, "defaults", loc)
    s = Scoring(
        min_score=r.number("min_score", 0.5),
        context_boost=r.number("context_boost", 0.2),
        negative_boost=r.number("negative_boost", 0.4),
        validated_boost=r.number("validated_boost", 0.3),
        context_window=_window(r, "context_window", (40, 20)),
        timeout_ms=r.integer("timeout_ms", 100, lo=1, hi=60_000),
    )
    r.finish()
    return s


def _window(r: Reader, key: str, default: tuple[int, int]) -> tuple[int, int]:
    v = r.raw(key)
    if v is None:
        return default
    if not (isinstance(v, list) and len(v) == 2 and all(isinstance(i, int) and 0 <= i <= 500 for i in v)):
        r.error(key, f"{key!r} must be [chars_before, chars_after], each 0..500")
        return default
    return (v[0], v[1])


def load_data_file(root: Path, rel: str, r: Reader, key: str) -> frozenset[str]:
    """One item a line; '#' starts a comment line. Paths are relative to the catalogue directory."""
    p = (root / rel).resolve()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        r.error(key, f"cannot read data file {rel!r}: {e.strerror}")
        return frozenset()
    items = frozenset(ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))
    if not items:
        r.error(key, f"data file {rel!r} is empty")
    return items


def _compile(r: Reader, pattern: str, ignore_case: bool) -> Any:
    try:
        return regex.compile(pattern, regex.V0 | (regex.IGNORECASE if ignore_case else 0))
    except regex.error as e:
        r.error("regex", f"regex does not compile: {e}")
        return None


WINDOW_MARGIN = 16


_LIST_REF = regex.compile(r"\{\{([a-z_][a-z0-9_]*)\}\}")


_WHOLE_LIST = regex.compile(r"(\(\?i:)?\{\{([a-z_][a-z0-9_]*)\}\}\)?")


def _load_lists(r: Reader, root: Path, raw: dict[str, frozenset[str]] | None = None) -> dict[str, str]:
    """``lists: {name: data file}``: each becomes a literal alternation (longest first) that the
    regex and the prefilter refer to as ``{{name}}``. Gazetteers, surname and lab-test lists stay
    data files instead of thousand-branch regexes pasted into YAML."""
    node = r.raw("lists")
    out: dict[str, str] = {}
    if node is None:
        return out
    if not isinstance(node, dict):
        r.error("lists", "'lists' must map a name to a data file")
        return out
    for name, rel in node.items():
        if not (isinstance(name, str) and regex.fullmatch(r"[a-z_][a-z0-9_]*", name) and isinstance(rel, str)):
            r.error("lists", f"bad list entry {name!r}: names are lower_snake_case, values file paths")
            continue
        items = load_data_file(root, rel, r, "lists")
        if raw is not None:
            raw[name] = items
        out[name] = trie_regex(items)
    return out


def trie_regex(items: frozenset[str] | set[str]) -> str:
    """An alternation factored as a prefix trie (北(?:京市?|海市?)...): the ``regex`` module tries
    alternatives one by one, so a flat 3,000-branch list costs 3,000 attempts per position; the
    trie costs one per character. Longer alternatives come first, as in a longest-first list."""
    trie: dict[str, Any] = {}
    for item in items:
        node = trie
        for ch in item:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        end = "" in node
        branches = [regex.escape(ch, special_only=True) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if end:
            return f"(?:{body})?" if len(branches) > 1 or len(branches[0]) > 1 else f"{body}?"
        return body

    return "(?:" + emit(trie) + ")" if trie else "(?!)"


def _expand(r: Reader, key: str, src: str, lists: Mapping[str, str]) -> str:
    def sub(m: Any) -> str:
        name = m.group(1)
        if name not in lists:
            r.error(key, f"{{{{{name}}}}} is not declared under 'lists'")
            return "(?!)"
        return lists[name]

    return _LIST_REF.sub(sub, src)


def _prefilter(
    r: Reader,
    max_len: int,
    context: tuple[str, ...],
    requires_context: bool,
    window: tuple[int, int],
    lists: Mapping[str, str] | None = None,
) -> tuple[str, bool, tuple[int, int]]:
    """What the one-pass prefilter looks for, and how far around its match the exact regex must look.

    * explicit ``prefilter:`` — a Hyperscan-compatible expression that matches near every true match
      (label-anchored or boundary-consuming, so it reports far fewer candidates than the regex with
      its lookarounds dropped); the window is ``max_len`` plus a margin on both sides;
    * a pattern that ``requires_context`` — its context words: no context word, no match;
    * otherwise the regex itself in Hyperscan prefilter mode.
    """
    explicit = _expand(r, "prefilter", r.text("prefilter"), lists or {})
    if explicit:
        try:
            regex.compile(explicit)
        except regex.error as e:
            r.error("prefilter", f"prefilter does not compile: {e}")
        span = max_len + WINDOW_MARGIN + r.integer("prefilter_reach", 0, lo=0, hi=1000)
        return explicit, True, (span, span)
    if requires_context and context:
        expr, reach = _prefilter_for_context(context, max_len, window)
        return expr, True, reach
    return "", False, (max_len + WINDOW_MARGIN, max_len + WINDOW_MARGIN)


def _prefilter_for_context(
    context: tuple[str, ...], max_len: int, window: tuple[int, int]
) -> tuple[str, tuple[int, int]]:
    """A requires_context pattern is found through its context words: no word, no match."""
    words = "|".join(regex.escape(w, special_only=True) for w in sorted(set(context), key=len, reverse=True))
    longest = max(len(w) for w in context)
    before = window[1] + longest + max_len + WINDOW_MARGIN
    return f"(?i:{words})", (before, window[0] + max_len + WINDOW_MARGIN)


def _load_pattern(
    node: Any,
    loc: str,
    root: Path,
    scoring: Scoring,
    entities: Mapping[str, EntitySpec],
    issues: list[ConfigIssue],
) -> PatternSpec | None:
    r = Reader(node, issues, "pattern", loc)
    pid = r.text("id", required=True)
    r.what = f"pattern {pid or '?'}"
    entity = r.text("entity", required=True)
    if entity and entity not in entities:
        r.error("entity", f"unknown entity {entity!r} (not in entities.yaml)")
    ignore_case = r.flag("ignore_case")
    raw_lists: dict[str, frozenset[str]] = {}
    lists = _load_lists(r, root, raw_lists)
    whole = _WHOLE_LIST.fullmatch(str(node.get("prefilter", "")) if isinstance(node, dict) else "")
    literals: tuple[str, ...] = ()
    if whole and whole.group(2) in raw_lists and bool(whole.group(1)) == ignore_case:
        literals = tuple(sorted(raw_lists[whole.group(2)]))
    anchored = r.flag("anchored")
    if anchored and not literals:
        r.error("anchored", "anchored: true needs a whole-list prefilter ('{{name}}' or '(?i:{{name}})')")
    src = _expand(r, "regex", r.text("regex", required=True), lists)
    compiled = _compile(r, src, ignore_case) if src else None
    validator = r.text("validator")
    if validator and validator not in VALIDATORS:
        r.error("validator", f"unknown validator {validator!r}; one of {', '.join(sorted(VALIDATORS))}")
    data_rel = r.text("validator_data")
    data = load_data_file(root, data_rel, r, "validator_data") if data_rel else frozenset()
    if validator in NEEDS_DATA and not data_rel:
        r.error("validator", f"validator {validator!r} needs 'validator_data'")
    max_len = r.integer("max_len", required=True, lo=1, hi=4096)
    context = tuple(w.lower() for w in r.strlist("context"))
    requires_context = r.flag("requires_context")
    window = _window(r, "context_window", scoring.context_window)
    prefilter, exact, reach = _prefilter(r, max_len, context, requires_context, window, lists)
    spec = PatternSpec(
        id=pid,
        version=r.integer("version", 1, required=True, lo=1),
        entity=entity,
        regex=src,
        compiled=compiled,
        ignore_case=ignore_case,
        max_len=max_len,
        score=r.number("score", 0.5),
        validated_boost=r.number("validated_boost", scoring.validated_boost),
        validator=validator,
        validator_data=data,
        requires_context=requires_context,
        context=context,
        negative_context=tuple(w.lower() for w in r.strlist("negative_context")),
        context_window=window,
        timeout_s=r.integer("timeout_ms", scoring.timeout_ms, lo=1, hi=60_000) / 1000.0,
        examples=r.strlist("examples"),
        counter_examples=r.strlist("counter_examples"),
        where=loc,
        prefilter=prefilter,
        prefilter_exact=exact,
        reach=reach,
        prefilter_literals=literals,
        anchored=anchored,
    )
    if spec.requires_context and not spec.context:
        r.error("requires_context", "requires_context needs a non-empty 'context' list")
    r.finish()
    return spec if compiled is not None and pid and entity in entities else None


def _list_of(doc: Any, key: str, loc: str, issues: list[ConfigIssue]) -> list[tuple[Any, str]]:
    node = doc.get(key) if isinstance(doc, dict) else None
    if node is None:
        return []
    if not isinstance(node, list):
        issues.append(ConfigIssue(where(doc, key, loc), f"{key!r} must be a list"))
        return []
    return [(item, loc_of(node, i, loc)) for i, item in enumerate(node)]


#: Loaded catalogues by directory and file stamps: a catalogue is immutable, and loading one
#: (40k terms, three list-regexes) costs about half a second that tests, the CLI and a worker
#: restart inside one process need not pay twice. Any edited file changes the key.
_CACHE: dict[tuple[str, tuple[tuple[str, int, int], ...]], Catalogue] = {}


def _stamp(root: Path) -> tuple[tuple[str, int, int], ...]:
    out = []
    for f in sorted(root.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            st = f.stat()
            out.append((str(f.relative_to(root)), st.st_mtime_ns, st.st_size))
    return tuple(out)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and validate a catalogue directory (``None`` or "" = the bundled one)."""
    root = Path(path) if path else BUNDLED
    if not root.is_dir():
        raise ConfigError([ConfigIssue(f"{root}:0", "detector catalogue directory does not exist")])
    key = (str(root.resolve()), _stamp(root))
    if key not in _CACHE:
        _CACHE[key] = _load_catalogue(root)
    return _CACHE[key]


def _load_catalogue(root: Path) -> Catalogue:
    issues: list[ConfigIssue] = []
    ent_doc, ent_loc = _load_doc(root / "entities.yaml", "entities", issues)
    entities = _load_entities(ent_doc, ent_loc, issues) if ent_doc is not None else {}
    pat_doc, pat_loc = _load_doc(root / "patterns.yaml", "patterns", issues)
    scoring = _load_scoring(pat_doc, pat_loc, issues)
    patterns = [
        p
        for item, loc in _list_of(pat_doc, "patterns", pat_loc, issues)
        if (p := _load_pattern(item, loc, root, scoring, entities, issues)) is not None
    ]
    dict_doc, dict_loc = _load_doc(root / "dictionaries.yaml", "dictionaries", issues)
    dictionaries = load_dictionaries(
        _list_of(dict_doc, "dictionaries", dict_loc, issues), root, entities, issues
    )
    st_doc, st_loc = _load_doc(root / "structured.yaml", "structured", issues)
    structured = load_structured(_list_of(st_doc, "structured", st_loc, issues), entities, issues)
    _check_unique_ids(patterns, dictionaries, structured, issues)
    _check_icd_ranges(patterns, dictionaries, issues)
    if issues:
        raise ConfigError(issues)
    return Catalogue(root, entities, scoring, tuple(patterns), tuple(dictionaries), tuple(structured))


def _check_unique_ids(
    patterns: list[PatternSpec],
    dictionaries: list[DictionarySpec],
    structured: list[StructuredSpec],
    issues: list[ConfigIssue],
) -> None:
    seen: dict[str, str] = {}
    for det_id, loc in (
        [(p.id, p.where) for p in patterns]
        + [(d.id, d.where) for d in dictionaries]
        + [(s.id, s.where) for s in structured]
    ):
        if det_id in seen:
            issues.append(ConfigIssue(loc, f"duplicate detector id {det_id!r} (first at {seen[det_id]})"))
        seen.setdefault(det_id, loc)


def _check_icd_ranges(
    patterns: list[PatternSpec], dictionaries: list[DictionarySpec], issues: list[ConfigIssue]
) -> None:
    """Every ICD-10 range endpoint in a dictionary must be a code the icd10 validator knows."""
    codes = next((p.validator_data for p in patterns if p.validator == "icd10"), frozenset())
    if not codes:
        return
    for d in dictionaries:
        for g in d.groups.values():
            for lo, hi in g.icd10:
                for code in {lo, hi} - codes:
                    issues.append(
                        ConfigIssue(
                            g.where, f"dictionary {d.id} group {g.name}: unknown ICD-10 code {code!r}"
                        )
                    )
