"""One multi-pattern pass per text that finds where the expensive checks are worth running.

Every catalogue pattern and every dictionary term goes into ONE Hyperscan database. A single scan
reports candidate end offsets; the engine then runs the exact ``regex`` pattern and its validator
only in a small window around each candidate. Cost hardly grows with the number of detectors,
unlike a loop of regexes over the whole text (bench/bench_detectors.py measures both).

What a pattern contributes to the pass is decided by the catalogue (detectors/catalogue.py,
``_prefilter``): an explicit Hyperscan expression, its context words, or the regex itself in
Hyperscan's prefilter mode (a superset that tolerates lookarounds).

Without Hyperscan, :class:`PythonPrefilter` gives the same interface with one combined ``regex``
(overlapped) for patterns and pyahocorasick automata for the terms.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import regex

from detectors.catalogue import PatternSpec
from detectors.terms import Term
from model.yamlsrc import ConfigError, ConfigIssue

_CHECKPOINT = 64


@dataclass
class Candidates:
    windows: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # pattern index -> windows
    terms: list[tuple[int, int, int]] = field(default_factory=list)  # (term index, start, end) chars
    timeouts: int = 0


class Prefilter(Protocol):
    name: str

    def scan(self, text: str) -> Candidates: ...


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans.sort()
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _windows(
    ends: dict[int, list[int]], patterns: Sequence[PatternSpec], n: int
) -> dict[int, list[tuple[int, int]]]:
    out = {}
    for idx, es in ends.items():
        before, after = patterns[idx].reach
        out[idx] = _merge([(max(0, e - before), min(n, e + after)) for e in es])
    return out


def encode(text: str) -> bytes:
    return text.encode("utf-8", "replace")


class OffsetMap:
    """Byte offsets of the UTF-8 encoding → character offsets of the str (identity for ASCII).

    Hyperscan reports matches in ascending end order, so the usual step decodes only the bytes
    since the previous offset; checkpoints every 64 characters serve any jump backwards.
    """

    def __init__(self, text: str, data: bytes) -> None:
        self.identity = len(text) == len(data)
        self.data = data
        self.cp: list[int] = []
        self.last_b = 0
        self.last_c = 0
        if not self.identity:
            total = 0
            for i in range(0, len(text), _CHECKPOINT):
                self.cp.append(total)
                total += len(encode(text[i : i + _CHECKPOINT]))

    def char(self, b: int) -> int:
        if self.identity:
            return b
        if b >= self.last_b:
            c = self.last_c + len(self.data[self.last_b : b].decode("utf-8", "replace"))
        else:
            k = bisect.bisect_right(self.cp, b) - 1
            c = k * _CHECKPOINT + len(self.data[self.cp[k] : b].decode("utf-8", "replace"))
        self.last_b, self.last_c = b, c
        return c


def _literal(term: Term) -> str:
    return regex.escape(term.text, special_only=True)


def _compile_error(
    hs: Any, exprs: list[bytes], flags: list[int], patterns: Sequence[PatternSpec]
) -> ConfigError:
    """Find which expression Hyperscan refused and say where it is in the catalogue."""
    issues = []
    for i, (e, f) in enumerate(zip(exprs, flags, strict=True)):
        try:
            hs.Database(mode=hs.HS_MODE_BLOCK).compile(expressions=[e], ids=[0], elements=1, flags=[f])
        except hs.error as err:
            if i < len(patterns):
                issues.append(
                    ConfigIssue(patterns[i].where, f"pattern {patterns[i].id}: Hyperscan refused: {err}")
                )
            else:
                issues.append(ConfigIssue("<dictionary>:0", f"term {e.decode(errors='replace')!r}: {err}"))
    return ConfigError(issues or [ConfigIssue("<catalogue>:0", "Hyperscan compile failed")])


class HyperscanPrefilter:
    name = "hyperscan"

    def __init__(self, patterns: Sequence[PatternSpec], terms: Sequence[Term]) -> None:
        import hyperscan as hs

        self.patterns = patterns
        self.terms = terms
        self.term_chars = [len(t.text) for t in terms]
        exprs, flags = [], []
        for p in patterns:
            exprs.append(encode(p.prefilter or p.regex))
            mode = 0 if p.prefilter_exact else hs.HS_FLAG_PREFILTER
            flags.append(
                mode | hs.HS_FLAG_UTF8 | hs.HS_FLAG_UCP | (hs.HS_FLAG_CASELESS if p.ignore_case else 0)
            )
        for t in terms:
            exprs.append(encode(_literal(t)))
            flags.append(hs.HS_FLAG_UTF8 | (0 if t.case_exact else hs.HS_FLAG_CASELESS))
        self.db = hs.Database(mode=hs.HS_MODE_BLOCK)
        self.empty = not exprs
        if exprs:
            try:
                self.db.compile(
                    expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags
                )
            except hs.error:
                raise _compile_error(hs, exprs, flags, patterns) from None

    def scan(self, text: str) -> Candidates:
        if self.empty or not text:
            return Candidates()
        data = encode(text)
        hits: list[tuple[int, int]] = []
        add = hits.append

        def on_match(id_: int, frm: int, to: int, flags: int, ctx: Any) -> None:
            add((id_, to))

        self.db.scan(data, match_event_handler=on_match)
        om = OffsetMap(text, data)
        npat = len(self.patterns)
        ends: dict[int, list[int]] = {}
        out = Candidates()
        for id_, to in hits:
            end = om.char(to)
            if id_ < npat:
                ends.setdefault(id_, []).append(end)
            else:
                t = id_ - npat
                out.terms.append((t, end - self.term_chars[t], end))
        out.windows = _windows(ends, self.patterns, len(text))
        return out


class PythonPrefilter:
    """Fallback: one combined regex (overlapped) + Aho-Corasick. Slower, same results in practice;
    a candidate hidden by another pattern's match at the same start position may be missed."""

    name = "python"

    def __init__(self, patterns: Sequence[PatternSpec], terms: Sequence[Term]) -> None:
        import ahocorasick

        self.patterns = patterns
        self.terms = terms
        alts = []
        for i, p in enumerate(patterns):
            expr = p.prefilter or p.regex
            alts.append(f"(?P<p{i}>{'(?i:' + expr + ')' if p.ignore_case else expr})")
        self.combined = regex.compile("|".join(alts)) if alts else None
        self.timeout = sum(p.timeout_s for p in patterns) or 1.0
        self.exact: Any = ahocorasick.Automaton()
        self.folded: Any = ahocorasick.Automaton()
        for i, t in enumerate(terms):
            if t.case_exact:
                self.exact.add_word(t.text, (i, len(t.text)))
            else:
                self.folded.add_word(t.text.lower(), (i, len(t.text)))
        for a in (self.exact, self.folded):
            if len(a):
                a.make_automaton()

    def _term_hits(self, text: str, out: Candidates) -> None:
        lowered = text.lower()
        if len(lowered) != len(text):  # rare characters whose lower case is longer
            lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        for automaton, hay in ((self.exact, text), (self.folded, lowered)):
            if len(automaton):
                for end, (idx, n) in automaton.iter(hay):
                    out.terms.append((idx, end + 1 - n, end + 1))

    def scan(self, text: str) -> Candidates:
        out = Candidates()
        if not text:
            return out
        self._term_hits(text, out)
        if self.combined is None:
            return out
        ends: dict[int, list[int]] = {}
        try:
            for m in self.combined.finditer(text, overlapped=True, timeout=self.timeout):
                name = m.lastgroup
                if name is not None:
                    ends.setdefault(int(name[1:]), []).append(m.end())
        except TimeoutError:  # one pathological alternative: give every pattern the whole text,
            out.timeouts += 1  # each then runs under its own time budget (detectors/pattern.py)
            out.windows = {i: [(0, len(text))] for i in range(len(self.patterns))}
            return out
        out.windows = _windows(ends, self.patterns, len(text))
        return out


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
