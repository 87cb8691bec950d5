"""The match rule of `healthdlp eval`: same type, overlap >= half the longer span, one-to-one."""

from __future__ import annotations

import pytest

from detectors.evaluation import CorpusError, Record, Span, evaluate, format_table, match, overlaps, parse_record


@pytest.mark.parametrize(
    "a, b, ok",
    [
        (Span(0, 10, "X"), Span(0, 10, "X"), True),
        (Span(0, 10, "X"), Span(5, 10, "X"), True),  # 5 of 10: exactly half
        (Span(0, 10, "X"), Span(6, 10, "X"), False),  # 4 of 10
        (Span(0, 10, "X"), Span(0, 10, "Y"), False),  # other type
        (Span(0, 4, "X"), Span(4, 8, "X"), False),  # touching is not overlapping
    ],
)
def test_overlap_rule(a: Span, b: Span, ok: bool) -> None:
    assert overlaps(a, b) is ok and overlaps(b, a) is ok


def test_one_prediction_cannot_claim_two_gold_spans() -> None:
    pairs, fps, fns = match([Span(0, 10, "X")], [Span(0, 6, "X"), Span(4, 10, "X")])
    assert len(pairs) == 1 and not fps and len(fns) == 1


def test_scores_per_type_and_micro() -> None:
    recs = [
        Record("1", "a" * 40, (Span(0, 5, "A"), Span(10, 15, "B"))),
        Record("2", "a" * 40, (Span(0, 5, "A"),)),
    ]
    preds = {0: [Span(0, 5, "A"), Span(20, 25, "B")], 1: [Span(0, 5, "A")]}
    calls = iter(range(2))
    rep = evaluate(recs, lambda t: preds[next(calls)])
    a, b = rep.by_type["A"], rep.by_type["B"]
    assert (a.tp, a.fp, a.fn) == (2, 0, 0) and a.f2 == 1.0
    assert (b.tp, b.fp, b.fn) == (0, 1, 1) and b.precision == 0.0
    m = rep.micro
    assert (m.tp, m.fp, m.fn) == (2, 1, 1)
    assert abs(m.f1 - 2 / 3) < 1e-9 and abs(m.f2 - 2 / 3) < 1e-9
    table = format_table(rep)
    assert "micro" in table and "A " in table


def test_types_filter_ignores_other_labels() -> None:
    rec = Record("1", "x" * 20, (Span(0, 5, "A"), Span(6, 9, "OTHER")))
    rep = evaluate([rec], lambda t: [Span(0, 5, "A"), Span(10, 12, "Z")], types=frozenset({"A"}))
    assert set(rep.by_type) == {"A"} and rep.micro.fp == 0


@pytest.mark.parametrize(
    "line, msg",
    [
        ("{not json", "not JSON"),
        ('{"id": 1}', "string 'text'"),
        ('{"text": "abc", "spans": [{"start": 0, "end": 9, "type": "X"}]}', "outside the text"),
        ('{"text": "abc", "spans": [{"start": 0, "type": "X"}]}', "integer"),
    ],
)
def test_bad_corpus_lines_name_the_line(line: str, msg: str) -> None:
    with pytest.raises(CorpusError, match=msg) as e:
        parse_record(line, 7)
    assert "line 7" in str(e.value)
