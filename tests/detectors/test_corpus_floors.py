"""CI gate on detection quality: every entity type keeps at least its recorded precision and
recall on our own labelled corpora (floors in corpus/floors.yaml).

Two corpora, zh and en, 3,000+ records: the seeded generator (tests/detectors/corpus_gen.py,
hard negatives included) and the hand-written set (corpus/handwritten.jsonl). When a change
raises a figure, raise its floor in the same commit; a change that lowers one must say why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from detectors import Engine
from detectors.evaluation import Record, Report, Span, evaluate, read_corpus
from tests.detectors.corpus_gen import generate

HERE = Path(__file__).resolve().parent / "corpus"
FLOORS = yaml.safe_load((HERE / "floors.yaml").read_text(encoding="utf-8"))


def _records(name: str) -> list[Record]:
    if name == "generated":
        lines = [json.dumps(r, ensure_ascii=False) for r in generate(3000)]
    else:
        lines = (HERE / "handwritten.jsonl").read_text(encoding="utf-8").splitlines()
    return list(read_corpus(lines))


_REPORTS: dict[str, Report] = {}


def _report(name: str, engine: Engine) -> Report:
    if name not in _REPORTS:
        _REPORTS[name] = evaluate(
            _records(name), lambda t: [Span(f.start, f.end, f.entity_type) for f in engine.scan_text(t)]
        )
    return _REPORTS[name]


def test_the_corpora_are_big_enough_and_bilingual() -> None:
    recs = _records("generated") + _records("handwritten")
    assert len(recs) >= 3000
    zh = sum(any("\u4e00" <= c <= "\u9fff" for c in r.text) for r in recs)
    assert zh >= 1000 and len(recs) - zh >= 500
    assert sum(not r.spans for r in recs) >= 300  # pure hard negatives


@pytest.mark.parametrize("corpus", sorted(FLOORS))
def test_no_entity_type_drops_below_its_floor(hs_engine: Engine, corpus: str) -> None:
    rep = _report(corpus, hs_engine)
    floors = FLOORS[corpus]
    below = []
    for typ, floor in sorted(floors.items()):
        got = rep.by_type.get(typ)
        p, r = (got.precision, got.recall) if got else (0.0, 0.0)
        if p < floor["precision"] or r < floor["recall"]:
            below.append(f"{typ}: P {p:.3f} (floor {floor['precision']}), R {r:.3f} (floor {floor['recall']})")
    assert not below, "\n".join(below)
    assert set(rep.by_type) <= set(floors), f"types without a floor: {set(rep.by_type) - set(floors)}"
