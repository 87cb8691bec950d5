"""One multi-pattern pass per text that finds where the expensive checks are worth running.

Every catalogue pattern and every dictionary term goes into ONE Hyperscan database. A single scan
reports candidate end offsets; the engine then runs the exact ``regex`` pattern and its validator
only in a small window around each candidate. Cost hardly grows with the number of detectors,
unlike a loop of regexes over the whole text (bench/bench_detectors.py measures both).

What a pattern contributes to the pass is decided by the catalogue (detectors/catalogue.py,
``_prefilter``): an explicit Hyperscan expression, its context words, or the regex itself in
Hyperscan's prefilter mode (a superset that tolerates lookarounds).

Without Hyperscan, :class:`PythonPrefilter` gives the same interface with one ``regex`` per
pattern (overlapped, each under its own time budget) and pyahocorasick automata for the terms and
list prefilters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import regex

from detectors.catalogue import PatternSpec
from detectors.terms import Term
from model.yamlsrc import ConfigError, ConfigIssue


@dataclass
class Candidates:
    windows: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # pattern index -> windows
    terms: list[tuple[int, int, int]] = field(default_factory=list)  # (term index, start, end) chars
    timeouts: int = 0
    whole: set[int] = field(default_factory=set)  # patterns whose window is the whole text
    starts: dict[int, list[int]] = field(default_factory=dict)  # anchored pattern -> literal starts


class Prefilter(Protocol):
    name: str

    def scan(self, text: str) -> Candidates: ...


#: Windows closer than this are scanned as one: one ``finditer`` over a short gap costs less than
#: the Python overhead of a second call (dense traffic has a candidate every few dozen characters).
_GAP = 96


def _merge_ends(ends: list[int], before: int, after: int, n: int) -> list[tuple[int, int]]:
    """The windows ``(max(0, e - before), min(n, e + after))`` around candidate ends, merged when
    closer than ``_GAP``, in one pass: with a fixed reach, window starts and ends both grow with
    ``e``, so sorting the ends sorts the windows. Dense traffic has a candidate every few dozen
    characters, so this loop runs per hit and avoids building a tuple per window."""
    ends.sort()
    out: list[tuple[int, int]] = []
    cur_s = cur_e = -1
    for e in ends:
        s = e - before if e > before else 0
        we = e + after if e + after < n else n
        if cur_e >= 0 and s <= cur_e + _GAP:
            if we > cur_e:
                cur_e = we
        else:
            if cur_e >= 0:
                out.append((cur_s, cur_e))
            cur_s, cur_e = s, we
    if cur_e >= 0:
        out.append((cur_s, cur_e))
    return out


def _windows(
    ends: dict[int, list[int]], patterns: Sequence[PatternSpec], n: int, whole: set[int] | frozenset[int] = frozenset()
) -> dict[int, list[tuple[int, int]]]:
    out = {}
    for idx, es in ends.items():
        if len(es) == 1 and es[0] == n and idx in whole:
            out[idx] = [(0, n)]
            continue
        before, after = patterns[idx].reach
        out[idx] = _merge_ends(es, before, after, n)
    return out


def encode(text: str) -> bytes:
    return text.encode("utf-8", "replace")


def char_offsets(data: bytes, offsets: Iterable[int]) -> dict[int, int]:
    """Byte offsets of the UTF-8 encoding ``data`` → character offsets of the str it encodes.

    One incremental decode over the sorted distinct offsets: each byte is decoded once per text,
    however many hits end at or after it (only called for non-ASCII text; ASCII is the identity).
    """
    out: dict[int, int] = {}
    last_b = last_c = 0
    for b in sorted(set(offsets)):
        last_c += len(data[last_b:b].decode("utf-8", "replace"))
        last_b = b
        out[b] = last_c
    return out


def _literal(term: Term) -> str:
    return regex.escape(term.text, special_only=True)


def _compile_error(
    hs: Any, exprs: list[bytes], flags: list[int], owner: Sequence[int], patterns: Sequence[PatternSpec]
) -> ConfigError:
    """Find which expression Hyperscan refused and say where it is in the catalogue."""
    issues = []
    for i, (e, f) in enumerate(zip(exprs, flags, strict=True)):
        try:
            hs.Database(mode=hs.HS_MODE_BLOCK).compile(expressions=[e], ids=[0], elements=1, flags=[f])
        except hs.error as err:
            if i < len(owner):
                p = patterns[owner[i]]
                issues.append(ConfigIssue(p.where, f"pattern {p.id}: Hyperscan refused: {err}"))
            else:
                issues.append(ConfigIssue("<dictionary>:0", f"term {e.decode(errors='replace')!r}: {err}"))
    return ConfigError(issues or [ConfigIssue("<catalogue>:0", "Hyperscan compile failed")])


#: Compiled databases by expression set: an engine rebuilt with the same catalogue (tests, a
#: worker restart inside one process, the CLI's eval) does not pay the compile again.
_HS_CACHE: dict[bytes, bytes] = {}


def _pattern_exprs(patterns: Sequence[PatternSpec]) -> list[tuple[str, bool, bool, int, int]]:
    """(expression, exact?, caseless?, owner pattern index, literal length or 0) for every
    pattern's prefilter; a list prefilter contributes one literal expression per item."""
    out = []
    for i, p in enumerate(patterns):
        if p.prefilter_literals:
            out += [
                (regex.escape(x, special_only=True), True, p.ignore_case, i, len(x)) for x in p.prefilter_literals
            ]
        else:
            out.append((p.prefilter or p.regex, p.prefilter_exact, p.ignore_case, i, 0))
    return out


def _hs_database(hs: Any, exprs: list[bytes], flags: list[int], on_error: Any) -> Any:
    """Compile (or load from the in-process cache) one block-mode database; ids are list indexes."""
    import hashlib

    if not exprs:
        return None
    key = hashlib.sha256(repr((exprs, flags)).encode()).digest()
    if key in _HS_CACHE:
        db = hs.loadb(_HS_CACHE[key], mode=hs.HS_MODE_BLOCK)
        db.scratch = hs.Scratch(db)  # a deserialized database has no scratch yet
        return db
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    try:
        db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
    except hs.error:
        raise on_error() from None
    _HS_CACHE[key] = hs.dumpb(db)
    return db


class HyperscanPrefilter:
    """Two databases scanned back to back: the literals (dictionary terms and list prefilters,
    tens of thousands, slow to compile, rarely changed) and the pattern expressions (a few dozen,
    changed by site tuning). Each is cached on its own, so tuning never recompiles the terms."""

    name = "hyperscan"

    def __init__(self, patterns: Sequence[PatternSpec], terms: Sequence[Term]) -> None:
        import hyperscan as hs

        self.patterns = patterns
        self.terms = terms
        rx_exprs, rx_flags, lit_exprs, lit_flags = [], [], [], []
        self.rx_owner: list[int] = []
        # literal id -> (kind, index, length): kind 0 = term, 1 = anchored pattern start, 2 = window end
        self.lit_map: list[tuple[int, int, int]] = []
        for expr, exact, caseless, i, n in _pattern_exprs(patterns):
            flag = hs.HS_FLAG_UTF8 | (hs.HS_FLAG_CASELESS if caseless else 0)
            if n:  # a list item: a plain literal
                lit_exprs.append(encode(expr))
                lit_flags.append(flag)
                self.lit_map.append((1 if patterns[i].anchored else 2, i, n))
            else:
                rx_exprs.append(encode(expr))
                rx_flags.append(flag | hs.HS_FLAG_UCP | (0 if exact else hs.HS_FLAG_PREFILTER))
                self.rx_owner.append(i)
        for ti, t in enumerate(terms):
            lit_exprs.append(encode(_literal(t)))
            lit_flags.append(hs.HS_FLAG_UTF8 | (0 if t.case_exact else hs.HS_FLAG_CASELESS))
            self.lit_map.append((0, ti, len(t.text)))

        def rx_error() -> ConfigError:
            return _compile_error(hs, rx_exprs, rx_flags, self.rx_owner, patterns)

        def lit_error() -> ConfigError:
            return _compile_error(hs, lit_exprs, lit_flags, [m[1] for m in self.lit_map if m[0]], patterns)

        self.db_rx = _hs_database(hs, rx_exprs, rx_flags, rx_error)
        self.db_lit = _hs_database(hs, lit_exprs, lit_flags, lit_error)

    def scan(self, text: str) -> Candidates:
        out = Candidates()
        if not text or (self.db_rx is None and self.db_lit is None):
            return out
        data = encode(text)
        rx_hits: list[tuple[int, int]] = []
        lit_hits: list[tuple[int, int]] = []
        add_rx, add_lit = rx_hits.append, lit_hits.append

        def on_rx(id_: int, frm: int, to: int, flags: int, ctx: Any) -> None:
            add_rx((id_, to))

        def on_lit(id_: int, frm: int, to: int, flags: int, ctx: Any) -> None:
            add_lit((id_, to))

        if self.db_rx is not None:
            self.db_rx.scan(data, match_event_handler=on_rx)
        if self.db_lit is not None:
            self.db_lit.scan(data, match_event_handler=on_lit)
        if not rx_hits and not lit_hits:
            return out
        ascii_only = len(data) == len(text)
        to_char = {} if ascii_only else char_offsets(data, [to for _, to in rx_hits + lit_hits])
        ends: dict[int, list[int]] = {}
        owner = self.rx_owner
        for id_, to in rx_hits:
            ends.setdefault(owner[id_], []).append(to if ascii_only else to_char[to])
        lit_map = self.lit_map
        terms, starts = out.terms, out.starts
        for id_, to in lit_hits:
            end = to if ascii_only else to_char[to]
            kind, idx, n = lit_map[id_]
            if kind == 0:
                terms.append((idx, end - n, end))
            elif kind == 1:
                starts.setdefault(idx, []).append(end - n)
            else:
                ends.setdefault(idx, []).append(end)
        out.windows = _windows(ends, self.patterns, len(text))
        return out


class PythonPrefilter:
    """Fallback: one overlapped ``regex`` per pattern + Aho-Corasick. Same candidates as Hyperscan,
    at the cost of one pass per pattern (roughly the naive loop): for installs without Hyperscan."""

    name = "python"

    def __init__(self, patterns: Sequence[PatternSpec], terms: Sequence[Term]) -> None:
        import ahocorasick

        self.patterns = patterns
        self.terms = terms
        # one regex per pattern: a combined alternation hides a candidate whenever another
        # alternative matches at the same position (bank-card digits hide an SSN)
        self.compiled = [
            (i, regex.compile(p.prefilter or p.regex, regex.IGNORECASE if p.ignore_case else 0), p.timeout_s)
            for i, p in enumerate(patterns)
            if not p.prefilter_literals
        ]
        self.exact: Any = ahocorasick.Automaton()
        self.folded: Any = ahocorasick.Automaton()
        for i, t in enumerate(terms):
            if t.case_exact:
                _add_word(self.exact, t.text, ("t", i, len(t.text)))
            else:
                _add_word(self.folded, t.text.lower(), ("t", i, len(t.text)))
        for i, p in enumerate(patterns):
            for lit in p.prefilter_literals:
                if p.ignore_case:
                    _add_word(self.folded, lit.lower(), ("p", i, len(lit)))
                else:
                    _add_word(self.exact, lit, ("p", i, len(lit)))
        for a in (self.exact, self.folded):
            if len(a):
                a.make_automaton()

    def _literal_hits(self, text: str, out: Candidates, ends: dict[int, list[int]]) -> None:
        lowered = text.lower()
        if len(lowered) != len(text):  # rare characters whose lower case is longer
            lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        for automaton, hay in ((self.exact, text), (self.folded, lowered)):
            if len(automaton):
                for end, values in automaton.iter(hay):
                    for kind, idx, n in values:
                        if kind == "t":
                            out.terms.append((idx, end + 1 - n, end + 1))
                        elif self.patterns[idx].anchored:
                            out.starts.setdefault(idx, []).append(end + 1 - n)
                        else:
                            ends.setdefault(idx, []).append(end + 1)

    def scan(self, text: str) -> Candidates:
        out = Candidates()
        if not text:
            return out
        ends: dict[int, list[int]] = {}
        self._literal_hits(text, out, ends)
        for i, rx, budget in self.compiled:
            try:
                for m in rx.finditer(text, overlapped=True, timeout=budget):
                    ends.setdefault(i, []).append(m.end())
            except TimeoutError:  # a pathological prefilter: the pattern gets the whole text and
                out.timeouts += 1  # runs under its own time budget (detectors/pattern.py)
                ends[i] = [len(text)]
                out.whole.add(i)
        out.windows = _windows(ends, self.patterns, len(text), out.whole)
        return out


def _add_word(automaton: Any, word: str, value: tuple[str, int, int]) -> None:
    """One automaton key may stand for several terms/patterns (the same literal in two lists)."""
    cur = automaton.get(word, None)
    automaton.add_word(word, (cur or []) + [value])


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


def build_prefilter(
    patterns: Sequence[PatternSpec], terms: Sequence[Term], backend: str = "auto"
) -> Prefilter:
    """``backend``: "auto" (Hyperscan if importable), "hyperscan" or "python"."""
    if backend == "hyperscan" or (backend == "auto" and hyperscan_available()):
        return HyperscanPrefilter(patterns, terms)
    if backend not in ("auto", "python"):
        raise ValueError(f"unknown prefilter backend {backend!r}")
    return PythonPrefilter(patterns, terms)
