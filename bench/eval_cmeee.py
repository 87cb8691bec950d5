"""Diagnosis and drug mentions in Chinese clinical text: precision/recall on a CMeEE-format file.

    .venv/bin/python bench/eval_cmeee.py PATH [--half all|first|second] [--errors N] [--json]

CMeEE (Chinese Medical Entity Extraction, part of the CBLUE benchmark) is not redistributed with
healthdlp: obtain it from CBLUE yourself (https://github.com/CBLUEbenchmark/CBLUE, Tianchi) and
pass the path of ``CMeEE_dev.json`` or of any file in the same format, read in place, never copied
into the repository: a JSON list of ``{"text", "entities": [{"start_idx", "end_idx", "type",
"entity"}]}`` with INCLUSIVE ``end_idx``.

Label mapping: ``dis`` (disease) → DIAGNOSIS and ``dru`` (drug) → DRUG; the other CMeEE types
(sym, pro, bod, mic, ite, dep, equ) are not scored. A SPECIAL_DISEASE prediction (GB/T 39725 §11.1
sensitive diseases: HIV, psychiatric, …) is a diagnosis too and is scored as DIAGNOSIS. Match rule:
detectors/evaluation.py (same type and overlap >= half the longer span, one-to-one).

Two protocols, both always reported (docs/evaluation.md "CMeEE"):

* strict: every DIAGNOSIS/DRUG prediction that matches no dis/dru gold span is a false positive.
* adjusted (label-scheme aligned, the usual cross-scheme practice): CMeEE splits what healthdlp
  calls a diagnosis mention into dis and sym (symptoms), and labels body parts, procedures and
  tests separately. So (a) a prediction lying mostly (>= half of it) on a gold span of an
  unscored CMeEE type (sym 腹痛, bod 肺) is ignored, neither TP nor FP; (b) a DIAGNOSIS hit from
  the dictionary's ``symptom`` group (explanation note ``class:symptom``: 发热, 咳嗽, which
  healthdlp reports on purpose as health-status data) is CMeEE's sym, so it is scored as an
  unscored SYMPTOM type, which can cost a true positive as well as save a false positive.
  Gold spans and recall are identical under both protocols. (a) needs the unscored labels in the
  file: on a dis/dru-only transcription it changes nothing.

``--half first|second`` scores the first or second half of the records (by position): tune on the
first, report the second as unseen.

Note on CMeEE ``dru``: it labels drug classes (抗生素, 大环内酯类抗生素) and dosage forms (干粉吸入剂)
as drugs. healthdlp reports class words as DRUG too (detector ``drug_class``, lower score than a
named medicine): under GB/T 39725 medication information is health data, so 予抗生素治疗 in a
clinical sentence is a medication mention (docs/evaluation.md "CMeEE"). Dosage forms and 中药 are
not reported and count as misses.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors import build_engine
from detectors.evaluation import Record, Span, evaluate, format_table
from model.config import DetectorsConfig

CMEEE_MAP = {"dis": "DIAGNOSIS", "dru": "DRUG"}
PRED_MAP = {"SPECIAL_DISEASE": "DIAGNOSIS"}  # a sensitive-disease hit is a diagnosis mention


UNSCORED = "cmeee:"  # type prefix of gold spans of unmapped CMeEE types (kept for the adjusted protocol)
SYMPTOM_NOTE = "class:symptom"


def cmeee(path: Path) -> Iterator[Record]:
    data = json.loads(path.read_text(encoding="utf-8"))
    for i, item in enumerate(data):
        spans = tuple(
            Span(e["start_idx"], e["end_idx"] + 1, CMEEE_MAP.get(e["type"], UNSCORED + e["type"]))  # inclusive end
            for e in item.get("entities") or []
        )
        yield Record(f"cmeee-{i}", item["text"], spans)


def adjusted(pred: list[Span], notes: list[str], rec: Record) -> list[Span]:
    """The label-scheme aligned predictions (module docstring): symptom-group hits become the
    unscored SYMPTOM type; predictions lying mostly on an unscored gold span are dropped."""
    other = [g for g in rec.spans if g.type.startswith(UNSCORED)]
    out = []
    for p, note in zip(pred, notes, strict=True):
        if p.type == "DIAGNOSIS" and note == SYMPTOM_NOTE:
            p = Span(p.start, p.end, "SYMPTOM")
        if any(2 * (min(p.end, g.end) - max(p.start, g.start)) >= p.end - p.start for g in other):
            continue
        out.append(p)
    return out


def _in_order(preds: list[list[Span]]) -> Callable[[str], list[Span]]:
    """evaluate() asks for the predictions text by text, in record order."""
    it = iter(preds)
    return lambda _text: next(it)


def _overlap(a: Span, b: Span) -> int:
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def strict_fp_labels(recs: list[Record], preds: list[list[Span]]) -> dict[str, Counter[str]]:
    """What CMeEE says under each strict false positive, so a reader can see how much of the strict
    precision gap is the label scheme: ``TYPE on:sym`` (the gold span overlapping it most is a
    symptom), ``TYPE boundary`` (it overlaps a gold span of its own type, by less than half the
    longer span), ``TYPE none`` (no gold span at all: a plain false positive or a missing label).
    Maps each such key to the predicted texts and their counts. A prediction counts as matched when
    any gold span of its type overlaps it by half the longer span (evaluate() also pairs one to one,
    so its false-positive total can be a few higher)."""
    out: dict[str, Counter[str]] = {}
    for rec, pred in zip(recs, preds, strict=True):
        for p in pred:
            if p.type not in CMEEE_MAP.values():
                continue
            if any(g.type == p.type and 2 * _overlap(p, g) >= max(p.end - p.start, g.end - g.start) for g in rec.spans):
                continue
            best = max(rec.spans, key=lambda g: _overlap(p, g), default=None)
            if best is None or _overlap(p, best) == 0:
                where = "none"
            elif best.type == p.type:
                where = "boundary"
            else:
                where = "on:" + best.type.removeprefix(UNSCORED)
            out.setdefault(f"{p.type} {where}", Counter())[rec.text[p.start : p.end]] += 1
    return dict(sorted(out.items(), key=lambda kv: -sum(kv[1].values())))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", type=Path, help="a CMeEE-format JSON file (obtain CMeEE from CBLUE)")
    ap.add_argument("--half", choices=("all", "first", "second"), default="all")
    ap.add_argument("--errors", type=int, default=0, help="list up to N false positives/negatives (strict)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    recs = list(cmeee(args.path))
    mid = len(recs) // 2
    recs = {"all": recs, "first": recs[:mid], "second": recs[mid:]}[args.half]
    engine = build_engine(DetectorsConfig(), b"eval-cmeee")
    types = frozenset(CMEEE_MAP.values())

    t0 = time.perf_counter()
    strict: list[list[Span]] = []
    adjust: list[list[Span]] = []
    for rec in recs:
        found = engine.scan_text(rec.text)
        pred = [Span(f.start, f.end, PRED_MAP.get(f.entity_type, f.entity_type)) for f in found]
        strict.append(pred)
        adjust.append(adjusted(pred, [f.explanation.note for f in found], rec))
    reps = {}
    for name, preds in (("strict", strict), ("adjusted", adjust)):
        reps[name] = evaluate(recs, _in_order(preds), types=types, keep_errors=args.errors)
    print(
        f"== CMeEE {args.path.name} ({args.half}): {len(recs)} records, {time.perf_counter() - t0:.1f} s ==",
        file=sys.stderr,
    )
    fps = strict_fp_labels(recs, strict)
    if args.json:
        doc = {k: r.as_dict() for k, r in reps.items()}
        doc["strict_fp_labels"] = {k: sum(c.values()) for k, c in fps.items()}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0
    for name, rep in reps.items():
        print(f"-- {name} protocol --")
        print(format_table(rep))
    print("-- strict false positives by the CMeEE label under them --")
    for key, texts in fps.items():
        top = ", ".join(f"{t} x{n}" for t, n in texts.most_common(8))
        print(f"  {key:22s} {sum(texts.values()):4d}  {top}")
    for rid, kind, typ, text in reps["strict"].errors:
        print(f"  {kind} {typ:10s} {rid}: {text!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
