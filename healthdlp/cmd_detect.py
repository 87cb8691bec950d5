"""``healthdlp detect`` and ``healthdlp eval``: the detector engine on JSON lines, and its
precision/recall on a labelled corpus.

    healthdlp detect --jsonl FILE            # {"id", "text"} per line -> {"id", "findings": [...]}
    healthdlp eval CORPUS.jsonl [--json]     # {"id", "text", "spans"} per line -> P/R/F1/F2 table

``detect`` prints one line per input line, in order, with character offsets into ``text``. A
line may carry ``content_b64`` (raw bytes: DICOM, GB18030 text ...) instead of ``text``; it is
decoded as the sensors' events are (UTF-8, GB18030, Latin-1) and structured payloads are found
by content sniffing, as in the stream. A bad line never stops the run: its output line carries
``"error"`` and the exit code is 1. No finding ever includes the matched text.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

from healthdlp.progress import ProgressBar


def register(sub: Any) -> None:
    d = sub.add_parser("detect", help="run the detectors on JSON lines ({id, text}) and print findings")
    d.add_argument("--jsonl", required=True, metavar="FILE", help="input JSON lines; '-' reads stdin")
    d.add_argument("--explain", action="store_true", help="also print detector id, masked value and explanation")
    d.set_defaults(func=cmd_detect)

    e = sub.add_parser("eval", help="precision/recall/F1/F2 of the detectors on a labelled corpus")
    e.add_argument("corpus", metavar="CORPUS.jsonl", help='lines {"id", "text", "spans": [{"start", "end", "type"}]}')
    e.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    e.add_argument("--types", default="", help="comma-separated entity types to score (default: all)")
    e.add_argument("--errors", type=int, default=0, metavar="N", help="list up to N false positives/negatives")
    e.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a TTY")
    e.set_defaults(func=cmd_eval)


def _engine(args: argparse.Namespace) -> Any:
    from detectors import build_engine
    from model.config import load_config, load_hash_key

    cfg = load_config(getattr(args, "config", None) or os.environ.get("HEALTHDLP_CONFIG"))
    return build_engine(cfg.detectors, load_hash_key(cfg))


def _open(path: str) -> IO[str]:
    return sys.stdin if path == "-" else open(path, encoding="utf-8")


def _record_text(obj: Any) -> tuple[str, str]:
    """(text, content_type) of one input object; raises ValueError with a short reason code."""
    if not isinstance(obj, dict):
        raise ValueError("not-an-object")
    ctype = obj.get("content_type")
    ctype = ctype if isinstance(ctype, str) else ""
    text = obj.get("text")
    if isinstance(text, str):
        return text, ctype
    if isinstance(obj.get("content_b64"), str):
        from detectors.engine import decode_content

        try:
            raw = base64.b64decode(obj["content_b64"], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("bad-base64") from None
        return decode_content(raw, 1 << 20)[0], ctype
    raise ValueError("no-text")


def finding_json(f: Any, explain: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "start": f.start,
        "end": f.end,
        "type": f.entity_type,
        "score": f.score,
        "category": f.category.value,
        "level": f.level,
    }
    if explain:
        out.update(
            detector=f.detector_id,
            masked=f.masked,
            field_path=f.field_path,
            validator=f.explanation.validator_result,
            context=list(f.explanation.context_words),
            note=f.explanation.note,
        )
    return out


def detect_lines(engine: Any, lines: Iterable[str], explain: bool = False) -> Iterator[tuple[dict[str, Any], bool]]:
    """One output object per non-blank input line, and whether that line was good."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        rid: Any = n
        try:
            obj = json.loads(line)
            rid = obj.get("id", n) if isinstance(obj, dict) else n
            text, ctype = _record_text(obj)
        except json.JSONDecodeError:
            yield {"id": rid, "error": "bad-json", "findings": []}, False
            continue
        except ValueError as e:
            yield {"id": rid, "error": str(e), "findings": []}, False
            continue
        found = engine.scan_text(text, content_type=ctype)
        yield {"id": rid, "findings": [finding_json(f, explain) for f in found]}, True


def cmd_detect(args: argparse.Namespace) -> int:
    engine = _engine(args)
    bad = 0
    with _open(args.jsonl) as fh:
        for obj, ok in detect_lines(engine, fh, args.explain):
            bad += not ok
            sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    if bad:
        print(f"healthdlp detect: {bad} input line(s) could not be read (see their 'error')", file=sys.stderr)
    return 1 if bad else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from detectors.evaluation import CorpusError, Span, evaluate, format_table, read_corpus

    try:
        with _open(args.corpus) as fh:
            records = list(read_corpus(fh))
    except CorpusError as e:
        print(f"healthdlp eval: {args.corpus}: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"healthdlp eval: {e}", file=sys.stderr)
        return 2
    engine = _engine(args)
    types = frozenset(t.strip() for t in args.types.split(",") if t.strip()) or None
    bar = ProgressBar(sys.stderr, args.progress or sys.stderr.isatty(), rate=True)

    def predict(text: str) -> list[Span]:
        return [Span(f.start, f.end, f.entity_type) for f in engine.scan_text(text)]

    rep = evaluate(records, predict, types=types, keep_errors=args.errors,
                   progress=lambda done: bar(done, len(records)))
    bar(len(records), len(records), force=True)
    bar.close()
    if args.json:
        out = rep.as_dict()
        if args.errors:
            out["errors"] = [{"id": i, "kind": k, "type": t, "text": x} for i, k, t, x in rep.errors]
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(format_table(rep))
        for rid, kind, typ, text in rep.errors:
            print(f"  {kind} {typ:24s} {rid}: {text!r}")
    return 0
