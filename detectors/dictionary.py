"""Dictionary detector kind: turn prefilter term hits into scored hits, and map ICD-10 codes to
special-disease classes.

Latin terms must stand on ASCII word boundaries ("HIV" not in "archive"); CJK terms have no
word boundaries to rely on, so each term lists the longer expressions that contain it but mean
something else (``exclude``: 艾滋病 in 世界艾滋病日, 中风 in 中风险).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from detectors.catalogue import Scoring
from detectors.hit import Hit, clamp, context_words
from detectors.terms import DictionarySpec, SpanExtension, Term


def _word_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


def _excluded(text: str, start: int, end: int, term: Term) -> bool:
    for x in term.exclude:
        xl, tl = x.lower(), term.text.lower()
        i = xl.find(tl)
        while i >= 0:
            s = start - i
            if s >= 0 and text[s : s + len(x)].lower() == xl:
                return True
            i = xl.find(tl, i + 1)
    return False


class Extender:
    """Applies a dictionary's SpanExtension (built once per dictionary, shared by its terms)."""

    __slots__ = ("across_lens", "after_lens", "ext", "left_lens", "right_lens", "stop_lens")

    def __init__(self, ext: SpanExtension) -> None:
        self.ext = ext
        self.left_lens = ext.lengths(ext.left)
        self.right_lens = ext.lengths(ext.right)
        self.stop_lens = ext.lengths(ext.not_before)
        self.after_lens = ext.lengths(ext.not_after)
        self.across_lens = ext.lengths(ext.not_across)

    def _modifier_ends(self, text: str, at: int) -> bool:
        return any(text[max(0, at - n) : at] in self.ext.left for n in self.left_lens if n > 1)

    def blocked(self, text: str, start: int, end: int) -> bool:
        """The term is part of another name: the first part (肺炎|支原体, 肿瘤|病房), the last
        (耐|链霉素: a resistance, not a medication), or a word crosses its end (心脏|病房)."""
        ext = self.ext
        if any(text[end : end + n] in ext.not_before for n in self.stop_lens):
            return True
        if any(text[max(0, start - n) : start] in ext.not_after for n in self.after_lens):
            return True
        for n in self.across_lens:  # a word of length n starting k characters before the end
            for k in range(1, min(n, end - start + 1)):
                if text[end - k : end - k + n] in ext.not_across:
                    return True
        return False

    def span(self, text: str, start: int, end: int) -> tuple[int, int]:
        """Grow left over modifiers (repeatedly, longest first, at most max_left characters) and
        right over one head noun; a chemistry suffix (血症) first grows over its substance name."""
        left = self.ext.left
        if self.ext.grow_heads and text[start:end] in self.ext.grow_heads:
            chars, low = self.ext.grow_chars, max(0, start - self.ext.grow_max)
            # stop where a modifier ends (家族性|低磷血症): the loop below absorbs it whole
            while start > low and text[start - 1] in chars and not self._modifier_ends(text, start):
                start -= 1
        floor = max(0, start - self.ext.max_left)
        grown = True
        while grown:
            grown = False
            for n in self.left_lens:
                if start - n >= floor and text[start - n : start] in left:
                    start -= n
                    grown = True
                    break
        if self.ext.eponym:
            start = _eponym_start(text, start)
        right = self.ext.right
        for n in self.right_lens:
            if text[end : end + n] in right:
                return start, end + n
        return start, end


def _eponym_start(text: str, start: int) -> int:
    """Start of a capitalised Latin name (Turner, Reye, Paget's) written right before ``start``
    (Turner综合征, Sydenham舞蹈病), else ``start``."""
    j = start
    if text[max(0, j - 2) : j] in ("'s", "’s"):
        j -= 2
    k = j
    while k > 0 and text[k - 1].isascii() and text[k - 1].isalpha():
        k -= 1
    name = text[k:j]
    after_digit = k > 0 and text[k - 1].isascii() and text[k - 1].isdigit()
    if len(name) >= 3 and name[0].isupper() and name[1:].islower() and not after_digit:
        return k
    return start


@dataclass(frozen=True, slots=True)
class TermRef:
    spec: DictionarySpec
    term: Term
    latin: bool = field(init=False)  # Term.latin runs a regex: computed once here, not per hit
    extender: Extender | None = None  # CJK terms of a dictionary with ``extend`` only

    def __post_init__(self) -> None:
        object.__setattr__(self, "latin", self.term.latin)
        if self.latin:
            object.__setattr__(self, "extender", None)


def term_refs(specs: Sequence[DictionarySpec]) -> list[TermRef]:
    """One TermRef per term, in catalogue order (the prefilter's term index)."""
    out: list[TermRef] = []
    for d in specs:
        ext = Extender(d.extend) if d.extend is not None else None
        out.extend(TermRef(d, t, ext) for t in d.terms)
    return out


def term_hit(
    ref: TermRef, text: str, start: int, end: int, scoring: Scoring, assume_context: bool = False
) -> Hit | None:
    term, spec = ref.term, ref.spec
    if ref.latin:
        if start > 0 and _word_char(text[start - 1]) and _word_char(term.text[0]):
            return None
        if end < len(text) and _word_char(text[end]) and _word_char(term.text[-1]):
            return None
    if term.exclude and _excluded(text, start, end, term):
        return None
    if ref.extender is not None:
        if ref.extender.blocked(text, start, end):
            return None
        left = start
        start, end = ref.extender.span(text, start, end)
        if term.head and start == left:  # a generic head noun names no diagnosis alone
            return None
    elif term.head:
        return None
    ctx = context_words(text, start, end, spec.context, scoring.context_window)
    if term.requires_context and not ctx and not assume_context:
        return None
    score = clamp(spec.score + (scoring.context_boost if ctx else 0.0))
    if score < (spec.min_score if spec.min_score >= 0 else scoring.min_score):
        return None
    return Hit(
        spec.id,
        spec.version,
        spec.entity,
        start,
        end,
        score,
        text[start:end],
        pattern=f"{spec.id}:{term.group}",
        context_words=ctx,
        note=f"class:{term.group}",
    )


class IcdClassIndex:
    """ICD-10 code → special-disease class, from the ``icd10`` ranges of a dictionary's groups."""

    def __init__(self, specs: Sequence[DictionarySpec], entity: str = "SPECIAL_DISEASE") -> None:
        self.ranges: list[tuple[str, str, str]] = []
        self.entity = entity
        for spec in specs:
            if spec.entity == entity:
                for g in spec.groups.values():
                    self.ranges.extend((lo, hi, g.name) for lo, hi in g.icd10)

    def classify(self, code: str) -> str | None:
        c = code.strip().upper()
        cat = c[:3]
        for lo, hi, cls in self.ranges:
            if "." in lo:
                if c.startswith(lo):
                    return cls
            elif lo <= cat <= hi:
                return cls
        return None
