"""Span-level evaluation of the detectors against a labelled corpus (``healthdlp eval``).

Corpus lines are ``{"id", "text", "spans": [{"start", "end", "type"}]}`` with character offsets
into ``text``. A prediction matches a gold span when the types are equal and the overlap is at
least half of the longer of the two spans (lenient about a trailing 号 or a title, strict about
finding a different thing). Matching is one-to-one, so one long prediction cannot claim two gold
spans. Per-type precision, recall, F1 and F2 (recall-weighted, as presidio-research recommends)
plus micro totals over all types.

Kept in floor 2 (no CLI, no I/O beyond what is passed in) so the CI floors test, the CLI and the
third-party benchmark (bench/eval_thirdparty.py) share one definition of "a hit".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    type: str


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    text: str
    spans: tuple[Span, ...]


class CorpusError(ValueError):
    """A corpus line that is not a valid record (the message names the line number)."""


def overlaps(a: Span, b: Span) -> bool:
    """Same type and overlap >= half of the longer span."""
    if a.type != b.type:
        return False
    inter = min(a.end, b.end) - max(a.start, b.start)
    return inter > 0 and 2 * inter >= max(a.end - a.start, b.end - b.start)


def match(pred: Sequence[Span], gold: Sequence[Span]) -> tuple[list[tuple[Span, Span]], list[Span], list[Span]]:
    """One-to-one matching, best overlap first: (pairs, false positives, false negatives)."""
    cands = []
    for i, p in enumerate(pred):
        for j, g in enumerate(gold):
            if overlaps(p, g):
                cands.append((min(p.end, g.end) - max(p.start, g.start), i, j))
    cands.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_p: set[int] = set()
    used_g: set[int] = set()
    pairs = []
    for _, i, j in cands:
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            pairs.append((pred[i], gold[j]))
    fps = [p for i, p in enumerate(pred) if i not in used_p]
    fns = [g for j, g in enumerate(gold) if j not in used_g]
    return pairs, fps, fns


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def f_beta(p: float, r: float, beta: float) -> float:
    b2 = beta * beta
    return (1 + b2) * p * r / (b2 * p + r) if (p + r) else 0.0


@dataclass
class TypeScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return f_beta(self.precision, self.recall, 1.0)

    @property
    def f2(self) -> float:
        return f_beta(self.precision, self.recall, 2.0)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "gold": self.tp + self.fn,
            "predicted": self.tp + self.fp,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "f2": round(self.f2, 4),
        }


@dataclass
class Report:
    by_type: dict[str, TypeScore] = field(default_factory=dict)
    records: int = 0
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)  # (record id, kind, type, text)

    @property
    def micro(self) -> TypeScore:
        return TypeScore(
            sum(s.tp for s in self.by_type.values()),
            sum(s.fp for s in self.by_type.values()),
            sum(s.fn for s in self.by_type.values()),
        )

    def add(self, rec: Record, pred: Sequence[Span], keep_errors: int = 0) -> None:
        self.records += 1
        pairs, fps, fns = match(pred, rec.spans)
        for p, _ in pairs:
            self.by_type.setdefault(p.type, TypeScore()).tp += 1
        for p in fps:
            self.by_type.setdefault(p.type, TypeScore()).fp += 1
        for g in fns:
            self.by_type.setdefault(g.type, TypeScore()).fn += 1
        for kind, spans in (("FP", fps), ("FN", fns)):
            for s in spans:
                if len(self.errors) < keep_errors:
                    self.errors.append((rec.id, kind, s.type, rec.text[s.start : s.end]))

    def as_dict(self) -> dict[str, object]:
        return {
            "records": self.records,
            "types": {t: s.as_dict() for t, s in sorted(self.by_type.items())},
            "micro": self.micro.as_dict(),
        }


def parse_record(line: str, lineno: int) -> Record:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise CorpusError(f"line {lineno}: not JSON ({e.msg})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise CorpusError(f"line {lineno}: expected an object with a string 'text'")
    text = obj["text"]
    spans = []
    for s in obj.get("spans") or []:
        try:
            sp = Span(int(s["start"]), int(s["end"]), str(s["type"]))
        except (KeyError, TypeError, ValueError):
            raise CorpusError(f"line {lineno}: a span needs integer 'start', 'end' and a 'type'") from None
        if not 0 <= sp.start < sp.end <= len(text):
            raise CorpusError(f"line {lineno}: span {sp.start}-{sp.end} is outside the text")
        spans.append(sp)
    return Record(str(obj.get("id", lineno)), text, tuple(spans))


def read_corpus(lines: Iterable[str]) -> Iterator[Record]:
    for n, line in enumerate(lines, 1):
        if line.strip():
            yield parse_record(line, n)


def evaluate(
    records: Iterable[Record],
    predict: Callable[[str], Sequence[Span]],
    *,
    types: frozenset[str] | None = None,
    keep_errors: int = 0,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Score ``predict`` on ``records``. ``types``: only these types count (predictions and gold of
    other types are ignored, e.g. when a corpus labels only some entity types)."""
    rep = Report()
    for i, rec in enumerate(records, 1):
        pred = [p for p in predict(rec.text) if types is None or p.type in types]
        if types is not None:
            rec = Record(rec.id, rec.text, tuple(s for s in rec.spans if s.type in types))
        rep.add(rec, pred, keep_errors)
        if progress is not None:
            progress(i)
    return rep


def format_table(rep: Report) -> str:
    rows: list[tuple[str, ...]] = [("type", "gold", "pred", "tp", "P", "R", "F1", "F2")]
    for t, s in sorted(rep.by_type.items()):
        rows.append(_row(t, s))
    rows.append(_row("micro (all types)", rep.micro))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
        if k == 0 or k == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(f"{rep.records} records; a hit = same type and overlap >= half the longer span")
    return "\n".join(lines)


def _row(name: str, s: TypeScore) -> tuple[str, ...]:
    return (
        name,
        str(s.tp + s.fn),
        str(s.tp + s.fp),
        str(s.tp),
        f"{s.precision:.3f}",
        f"{s.recall:.3f}",
        f"{s.f1:.3f}",
        f"{s.f2:.3f}",
    )
