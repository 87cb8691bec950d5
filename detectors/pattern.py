"""Pattern detector kind: run one catalogue regex on its candidate windows, validate, score.

Each pattern gets a time budget per text (``timeout_ms``), enforced by the ``regex`` module's
``timeout=``. When it runs out the pattern stops for this text and the timeout is counted: one
pathological pattern or input can slow a scan by at most its budget, never stall the stream.
"""

from __future__ import annotations

import re
import time
from collections.abc import MutableMapping

from detectors.catalogue import PatternSpec, Scoring
from detectors.hit import Hit, clamp, context_words
from detectors.validators import VALIDATORS, ValidatorFn, Verdict


def run_pattern(
    spec: PatternSpec,
    text: str,
    windows: list[tuple[int, int]],
    scoring: Scoring,
    stats: MutableMapping[str, int],
) -> list[Hit]:
    out: list[Hit] = []
    n = len(text)
    clock = time.perf_counter
    deadline = clock() + spec.timeout_s
    validate = VALIDATORS.get(spec.validator) if spec.validator else None
    finditer = spec.compiled.finditer
    for ws, we in windows:
        remaining = deadline - clock()
        if remaining <= 0:
            stats["regex_timeouts"] = stats.get("regex_timeouts", 0) + 1
            break
        try:
            matches = [m.span() for m in finditer(text, ws, we, timeout=remaining)]
        except TimeoutError:
            stats["regex_timeouts"] = stats.get("regex_timeouts", 0) + 1
            break
        for s, e in matches:
            # a match touching a cut window edge saw a fake end/start of text: its real candidate
            # window (which always has a margin around it) reports it instead
            if (e == we and we < n) or (s == ws and ws > 0):
                continue
            hit = _score(spec, text, s, e, validate, scoring, stats)
            if hit is not None:
                out.append(hit)
    return out


def _ascii_word(c: str) -> bool:
    return c.isascii() and c.isalnum()


def run_anchored(
    spec: PatternSpec,
    text: str,
    starts: list[int],
    scoring: Scoring,
    stats: MutableMapping[str, int],
) -> list[Hit]:
    """A pattern whose match begins at a prefilter literal: one anchored ``match`` per distinct
    literal start (a name inside a longer name starts its own attempt; overlap resolution keeps
    the longest), under the same per-text time budget as windows."""
    out: list[Hit] = []
    deadline = time.perf_counter() + spec.timeout_s
    validate = VALIDATORS.get(spec.validator) if spec.validator else None
    match = spec.compiled.match
    last_end = -1
    words = spec.context if spec.requires_context else ()
    lowered = text.lower() if words else ""
    before, after = spec.context_window
    for s in sorted(set(starts)):
        if s < last_end:  # inside the previous match: its own attempt would be a shorter duplicate
            continue
        if s and _ascii_word(text[s]) and _ascii_word(text[s - 1]):  # "pt" in "script": a Latin
            continue  # literal inside a word never starts a match (every anchored regex says so)
        if words:  # no context word anywhere near: the match would be dropped, skip the regex
            near = lowered[max(0, s - before) : s + spec.max_len + after]
            if not any(w in near for w in words):
                continue
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            stats["regex_timeouts"] = stats.get("regex_timeouts", 0) + 1
            break
        try:
            m = match(text, s, timeout=remaining)
        except TimeoutError:
            stats["regex_timeouts"] = stats.get("regex_timeouts", 0) + 1
            break
        if m is None or m.end() == s:
            continue
        hit = _score(spec, text, s, m.end(), validate, scoring, stats)
        if hit is not None:
            out.append(hit)
            last_end = m.end()
    return out


_NO_VERDICT = Verdict(None, "")


#: Where a clause ends: a label in the next (or previous) clause labels another value
#: ("信用卡号：4873…，order #2780…", "Card 4111…; order 12…"). Line breaks end it too.
_CLAUSE_ENDS = "\n,;，；。、"
_NEXT_END = re.compile(f"[{_CLAUSE_ENDS}]")
_THROUGH_LAST_END = re.compile(f".*[{_CLAUSE_ENDS}]", re.S)  # greedy: ends right after the last one


def _same_clause(text: str, s: int, e: int, before: int, after: int) -> tuple[int, int]:
    """The (before, after) window clipped to the clause (and so the line) that holds text[s:e].
    Two C-level regex calls per candidate: it runs for every candidate with negative words."""
    m = _THROUGH_LAST_END.match(text, max(0, s - before), s)
    if m is not None:
        before = s - m.end()
    m = _NEXT_END.search(text, e, e + after)
    if m is not None:
        after = m.start() - e
    return before, after


def _score(
    spec: PatternSpec,
    text: str,
    s: int,
    e: int,
    validate: ValidatorFn | None,
    scoring: Scoring,
    stats: MutableMapping[str, int],
) -> Hit | None:
    value = text[s:e]
    score = spec.score
    verdict = _NO_VERDICT
    if validate is not None:
        verdict = validate(value, spec.validator_data)
        if verdict.ok is False:
            stats["validator_rejects"] = stats.get("validator_rejects", 0) + 1
            return None
        if verdict.ok:
            score += spec.validated_boost
    ctx = context_words(text, s, e, spec.context, spec.context_window)
    if spec.requires_context and not ctx:
        return None
    if ctx:
        score += scoring.context_boost
    # labels precede values: a negative word counts before the value, and right after it only
    # within a few characters ("6217... (order)"); never in another clause or line: the next
    # clause's "order #…" ("卡号 X，order Y", "Card: 3574…\norder PO…") or the previous one's
    # "Order: …" label other values
    if spec.negative_context and context_words(text, s, e, spec.negative_context,
                                               _same_clause(text, s, e, spec.context_window[0],
                                                            min(8, spec.context_window[1]))):
        score -= scoring.negative_boost
    score = clamp(score)
    if score < (spec.min_score if spec.min_score >= 0 else scoring.min_score):
        return None
    result = "none" if verdict.ok is None else ("valid" if verdict.ok else "invalid")
    return Hit(
        spec.id,
        spec.version,
        spec.entity,
        s,
        e,
        score,
        value,
        pattern=spec.id,
        validator=spec.validator,
        validator_result=f"{result}:{verdict.reason}" if spec.validator else "",
        context_words=ctx,
    )
