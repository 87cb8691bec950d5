"""Precision/recall of the detectors on third-party labelled corpora (unseen data).

    .venv/bin/python bench/eval_thirdparty.py [--corpora ../shared/corpora] [--json] [--errors N]
        [--split dev|train] [--ner-backend lac|jieba|off]

The default engine is scored, Chinese name tagger (``person_name_zh_ner``, detectors/ner.py) on
its default LAC model; ``--ner-backend jieba`` runs it on jieba and ``off`` switches it off (rules
only), each through a tuning file as a site would. CLUENER ``train`` is unseen for the ``lac``
backend (LAC was not trained on CLUENER) and for the jieba filters (tuned on dev).

Corpora (see ../shared/corpora/SOURCES.md; read in place, never copied into the repository):
* presidio-research ``data/synth_dataset_v2.json``: 1,500 English sentences, Faker-generated PII;
* CLUENER2020 ``dev.json``: 1,343 Chinese news/web sentences labelled with names and addresses
  (among non-PII types, which serve as hard negatives).

Their labels are mapped to our entity types; only mapped types are scored (a prediction of an
unmapped type, e.g. a DRUG in a news sentence, is neither rewarded nor punished). Same match rule
as ``healthdlp eval``: same type and overlap >= half the longer span.

Label differences to keep in mind when reading the figures: presidio's STREET_ADDRESS often spans
city, state and country too; CLUENER's ``address`` includes bare country and city names (美国,
广州), which we do not report as a personal address on their own; CLUENER's ``name`` includes
fictional characters, nicknames and transliterated foreign names.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import ner_option
from detectors import build_engine
from detectors.evaluation import Record, Report, Span, evaluate, format_table
from model.config import DetectorsConfig

PRESIDIO_MAP = {
    "PERSON": "PERSON_NAME",
    "STREET_ADDRESS": "ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL": "EMAIL_ADDRESS",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "CREDIT_CARD": "BANK_CARD",
    "US_SSN": "US_SSN",
    "IP": "IP_ADDRESS",
    "IP_ADDRESS": "IP_ADDRESS",
}
CLUENER_MAP = {"name": "PERSON_NAME", "address": "ADDRESS"}


def presidio(root: Path) -> Iterator[Record]:
    data = json.loads((root / "presidio-research" / "data" / "synth_dataset_v2.json").read_text(encoding="utf-8"))
    for i, item in enumerate(data):
        spans = tuple(
            Span(s["start_position"], s["end_position"], PRESIDIO_MAP[s["entity_type"]])
            for s in item.get("spans") or []
            if s["entity_type"] in PRESIDIO_MAP
        )
        yield Record(f"presidio-{i}", item["full_text"], spans)


def cluener(root: Path, split: str = "dev") -> Iterator[Record]:
    path = root / "cluener2020" / f"{split}.json"
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        item = json.loads(line)
        spans = []
        for label, values in (item.get("label") or {}).items():
            if label not in CLUENER_MAP:
                continue
            for positions in values.values():
                for start, end in positions:  # inclusive end offsets
                    spans.append(Span(start, end + 1, CLUENER_MAP[label]))
        yield Record(f"cluener-{split}-{i}", item["text"], tuple(spans))


def run(name: str, records: list[Record], engine: object, types: frozenset[str], errors: int) -> Report:
    def predict(text: str) -> list[Span]:
        return [Span(f.start, f.end, f.entity_type) for f in engine.scan_text(text)]  # type: ignore[attr-defined]

    t0 = time.perf_counter()
    rep = evaluate(records, predict, types=types, keep_errors=errors)
    dt = time.perf_counter() - t0
    print(f"\n== {name}: {len(records)} records, {dt:.1f} s ==", file=sys.stderr)
    return rep


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpora")
    ap.add_argument("--split", default="dev", help="CLUENER split to score (dev = unseen; train was used for tuning)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--errors", type=int, default=0, help="list up to N false positives/negatives per corpus")
    ner_option.add_option(ap)
    args = ap.parse_args()
    if not args.corpora.is_dir():
        print(f"no corpora at {args.corpora}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        cfg = DetectorsConfig(tuning=ner_option.tuning_file(args.ner_backend, Path(tmp)))
        engine = build_engine(cfg, b"eval-thirdparty")
    results = {}
    for name, recs, types in (
        ("presidio-research synth_dataset_v2", list(presidio(args.corpora)), frozenset(PRESIDIO_MAP.values())),
        (f"CLUENER2020 {args.split}", list(cluener(args.corpora, args.split)), frozenset(CLUENER_MAP.values())),
    ):
        rep = run(name, recs, engine, types, args.errors)
        results[name] = rep.as_dict()
        if not args.json:
            print(f"\n### {name}\n")
            print(format_table(rep))
            for rid, kind, typ, text in rep.errors:
                print(f"  {kind} {typ:16s} {rid}: {text!r}")
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
