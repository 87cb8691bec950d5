"""Field-level precision, recall and F1 of the engine on structured payloads: third-party samples
read in place (never copied into the repository).

    .venv/bin/python bench/eval_structured.py [--corpora /work/shared/corpora]
        [--split all|tune|holdout] [--show N] [--json] [--formats hl7v2,fhir,...]

Gold comes from independent readers of each format (bench/structured_gold.py: HL7 split by its
separators, a JSON tokenizer, ``xml.parsers.expat``, pydicom, ``csv``), never from the extractors.
A gold field is one personal field of a record (one repetition of ``PID-5``, ``Patient.telecom[1]``,
one DICOM PN element) with the character spans of its value in the scanned text and the entity
types that may label it (an identifier field accepts any identifier type, a diagnosis code
ICD10_CODE, DIAGNOSIS or SPECIAL_DISEASE...). The whole engine runs (structured and free-text
detectors), as in production.

Scoring, per format:
* a finding overlapping gold fields of a compatible type finds the one it overlaps most (a finding
  finds at most one field; a field is a TP once however many findings hit it);
* otherwise, a finding in a neutral zone of a compatible type is not scored (counted as
  "neutral": narrative text, the code naming a test, a clinician's work telephone);
* otherwise it is a false positive: "mistyped" if it overlaps a gold field, else "unlisted";
* a gold field no compatible finding overlaps is a false negative;
* P = TP / (TP + FP), R = TP / (TP + FN), F1 their harmonic mean.
HL7 and FHIR are scored inside the regions the target names (segments PID, NK1, PV1, DG1, OBX;
resources Patient, Condition, Observation, MedicationRequest); findings elsewhere in the same
message are counted and listed as "outside", never scored. CDA, DICOM (binary included: the engine
scans it too), CSV and JSON bodies are scored whole.

Gold exclusions (``structured_gold.why_not``): placeholders, identifiers under 2 characters, names
without a letter, birth dates that are not real dates or before 1900, phones under 7 digits, card
numbers in spreadsheet notation. Each is listed and counted; "R if excluded counted" shows recall
had they been gold and missed.

``--split``: files, ndjson chunks and CSV chunks are split by a stable hash of their name into
"tune" (looked at while fixing extractors) and "holdout" (only measured).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import structured_gold as sg

from detectors import Engine, build_engine
from model.config import DetectorsConfig
from model.events import Event
from model.findings import Finding

NDJSON_CHUNK = 10  # bulk-export lines per event
CSV_CHUNK = 50  # rows per CSV / JSON API body


@dataclass
class Score:
    tp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)  # by "<kind>:<gold label or entity>"
    neutral: Counter[str] = field(default_factory=Counter)
    outside: Counter[str] = field(default_factory=Counter)
    excluded: Counter[str] = field(default_factory=Counter)
    docs: int = 0
    examples: list[str] = field(default_factory=list)

    def totals(self) -> tuple[int, int, int]:
        return sum(self.tp.values()), sum(self.fp.values()), sum(self.fn.values())


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def in_split(name: str, split: str) -> bool:
    if split == "all":
        return True
    tune = hashlib.sha1(name.encode()).digest()[0] % 2 == 0
    return tune == (split == "tune")


def event(data: bytes) -> Event:
    return Event("e", "bench", 0.0, "file", "file", content=data, size=len(data))


def _overlap(f: Finding, spans: Iterable[tuple[int, int]]) -> int:
    return sum(max(0, min(f.end, e) - max(f.start, s)) for s, e in spans)


def _ctx(text: str, s: int, e: int) -> str:
    return text[max(0, s - 40) : e + 20].replace("\r", "\\r").replace("\n", " ")


def score(sc: Score, doc: sg.Doc, findings: Iterable[Finding], show: int) -> None:
    """Apply the scoring rules of the module docstring to one document."""
    sc.docs += 1
    found: set[int] = set()
    for f in findings:
        if doc.regions is not None and not any(s <= f.start < e for s, e in doc.regions):
            sc.outside[_where(doc, f)] += 1
            continue
        hits = [(g, _overlap(f, g.spans)) for g in doc.gold]
        hits = [(g, n) for g, n in hits if n > 0]
        ok = [(g, n) for g, n in hits if f.entity_type in g.types]
        if ok:
            found.add(id(max(ok, key=lambda x: x[1])[0]))
            continue
        zone = next((z for z in doc.neutral if _overlap(f, [z.span]) and (not z.types or f.entity_type in z.types)),
                    None)
        if zone is not None:
            sc.neutral[f"{zone.label}->{f.entity_type}"] += 1
            continue
        kind = f"mistyped:{hits[0][0].label}->{f.entity_type}" if hits else f"unlisted:{f.entity_type}"
        sc.fp[kind] += 1
        if len(sc.examples) < show:
            sc.examples.append(f"FP {doc.name} {kind} [{f.field_path}] …{_ctx(doc.text, f.start, f.end)}…")
    for g in doc.gold:
        if id(g) in found:
            sc.tp[g.label] += 1
        else:
            sc.fn[g.label] += 1
            if len(sc.examples) < show:
                s, e = g.spans[0]
                sc.examples.append(f"FN {doc.name} {g.label} …{_ctx(doc.text, s, e)}…")
    for x in doc.excluded:
        sc.excluded[x] += 1


def _where(doc: sg.Doc, f: Finding) -> str:
    """Where an unscored finding lies: the HL7 segment-field or the FHIR resource type."""
    line_start = doc.text.rfind("\r", 0, f.start) + 1
    line_start = max(line_start, doc.text.rfind("\n", 0, f.start) + 1)
    head = doc.text[line_start : line_start + 3]
    if head.isalnum() and head.isupper():
        return f"{head}-{doc.text.count('|', line_start, f.start)}:{f.entity_type}"
    rt = doc.text.rfind('"resourceType"', 0, f.start)
    if rt >= 0:
        kind = doc.text[rt + 15 : rt + 45].split('"')[1]
        return f"{kind}:{f.entity_type}"
    tags = re.findall(r"<resource><(\w+)|^<(\w+) xmlns=", doc.text[: f.start])  # FHIR XML
    return f"{(tags[-1][0] or tags[-1][1]) if tags else '?'}:{f.entity_type}"


# -- corpora ------------------------------------------------------------------------------------------
Loader = Callable[[Path, str], Iterator[sg.Doc]]


def hl7_docs(root: Path, split: str) -> Iterator[sg.Doc]:
    for f in sorted((root / "fhir-converter-samples/data/SampleData/Hl7v2").glob("*.hl7")):
        if in_split(f.name, split):
            yield sg.hl7_doc(f.name, f.read_bytes())


def _fhir_files(root: Path) -> list[Path]:
    conv = root / "fhir-converter-samples/data/SampleData"
    return sorted((conv / "FHIR").glob("*.json")) + sorted((conv / "Json").glob("*.json")) + sorted(
        (conv / "Stu3").glob("*.json")
    )


def _ndjson_chunks(root: Path) -> Iterator[tuple[str, list[str]]]:
    for f in sorted((root / "synthea-bulk-fhir").glob("*-patients/*.ndjson")):
        if f.name.split(".")[0] not in sg.FHIR_SCORED:
            continue
        lines = [ln for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()][:400]
        for i in range(0, len(lines), NDJSON_CHUNK):
            yield f"{f.parent.name}/{f.name}:{i}", lines[i : i + NDJSON_CHUNK]


def fhir_docs(root: Path, split: str) -> Iterator[sg.Doc]:
    for name, lines in _ndjson_chunks(root):
        if in_split(name, split):
            yield sg.ndjson_doc(name, lines)
    for f in _fhir_files(root):
        if not in_split(f.name, split):
            continue
        try:
            yield from sg.fhir_json_docs(f.name, f.read_bytes())
        except ValueError:  # one sample is Latin-1, not JSON text: skipped and said so
            print(f"skipped (not UTF-8 JSON): {f.name}", file=sys.stderr)


def fhir_xml_docs(root: Path, split: str) -> Iterator[sg.Doc]:
    """The same resources written as FHIR XML (the corpora hold none): ndjson lines one per event."""
    for name, lines in _ndjson_chunks(root):
        if in_split(name, split):
            for j, ln in enumerate(lines):
                yield sg.fhir_xml_doc(f"{name}+{j}.xml", json.loads(ln))
    for f in _fhir_files(root):
        if not in_split(f.name, split):
            continue
        try:
            res = json.loads(sg.decode(f.read_bytes()).lstrip("\ufeff"))
        except ValueError:
            continue
        if "resourceType" in res:
            yield sg.fhir_xml_doc(f.name.replace(".json", ".xml"), res)


def cda_docs(root: Path, split: str) -> Iterator[sg.Doc]:
    for f in sorted((root / "fhir-converter-samples/data/SampleData/Ccda").glob("*")):
        if in_split(f.name, split):
            yield sg.cda_doc(f.name, f.read_bytes())


def dicom_docs(root: Path, split: str) -> Iterator[sg.Doc]:
    base = root / "dicom-files"
    for line in (base / "INVENTORY_phi_tags.jsonl").read_text(encoding="utf-8").splitlines():
        inv = json.loads(line)
        if not in_split(inv["file"], split):
            continue
        data = (base / inv["file"]).read_bytes()[: 4 << 20]  # the engine scans at most 1 Mi characters
        if sg.is_dicom(data, inv):
            doc = sg.dicom_doc(inv["file"], data)
            if doc is not None:
                yield doc


def _fng_chunks(root: Path) -> Iterator[tuple[str, list[str], list[list[str]]]]:
    header, rows = sg.fng_rows(str(root / "presidio-research/presidio_evaluator/data_generator/raw_data"
                                   / "FakeNameGenerator.com_3000.csv"))
    for i in range(0, len(rows), CSV_CHUNK):
        yield f"fng:{i}", header, rows[i : i + CSV_CHUNK]


def csv_docs(root: Path, split: str) -> Iterator[sg.Doc]:
    for name, header, rows in _fng_chunks(root):
        if in_split(name, split):
            yield sg.csv_doc(f"{name}.csv", header, rows)


def json_api_docs(root: Path, split: str) -> Iterator[sg.Doc]:
    for name, header, rows in _fng_chunks(root):
        if in_split(name, split):
            yield sg.json_api_doc(f"{name}.json", header, rows)
    conv = root / "fhir-converter-samples/data/SampleData"
    for f in (conv / "FHIR/ExamplePatient.json", conv / "Json/ExamplePatient.json"):
        if in_split(f"{f.parent.name}/{f.name}", split):
            yield sg.json_keys_doc(f"{f.parent.name}/{f.name}", f.read_bytes(), sg.API_KEYS)


LOADERS: dict[str, Loader] = {
    "hl7v2": hl7_docs,
    "fhir": fhir_docs,
    "fhir-xml": fhir_xml_docs,
    "cda": cda_docs,
    "dicom": dicom_docs,
    "csv": csv_docs,
    "json-api": json_api_docs,
}


def run(engine: Engine, root: Path, fmt: str, split: str, show: int) -> Score:
    sc = Score()
    for doc in LOADERS[fmt](root, split):
        score(sc, doc, engine.scan(event(doc.data)).findings, show)
    return sc


def report(scores: dict[str, Score], split: str) -> None:
    print(f"split: {split}\n{'format':<9} {'field':<34} {'tp':>5} {'fn':>5} {'recall':>7}")
    for fmt, sc in scores.items():
        for label in sorted(set(sc.tp) | set(sc.fn)):
            tp, fn = sc.tp[label], sc.fn[label]
            print(f"{fmt:<9} {label:<34} {tp:>5} {fn:>5} {tp / (tp + fn):>7.3f}")
    cols = f"{'format':<9} {'docs':>5} {'tp':>5} {'fp':>5} {'fn':>5} {'P':>6} {'R':>6} {'F1':>6}"
    print(f"\n{cols}  R if excluded counted")
    for fmt, sc in scores.items():
        tp, fp, fn = sc.totals()
        p, r, f1 = prf(tp, fp, fn)
        ex = sum(sc.excluded.values())
        print(f"{fmt:<9} {sc.docs:>5} {tp:>5} {fp:>5} {fn:>5} {p:>6.3f} {r:>6.3f} {f1:>6.3f}  "
              f"{prf(tp, fp, fn + ex)[1]:.3f} ({ex} excluded)")
    for fmt, sc in scores.items():
        print(f"\n== {fmt}")
        if sc.fp:
            print("false positives:", ", ".join(f"{k}×{v}" for k, v in sc.fp.most_common(15)))
        if sc.neutral:
            print("neutral (not scored):", ", ".join(f"{k}×{v}" for k, v in sc.neutral.most_common(12)))
        if sc.outside:
            print("outside the scored regions (not scored):",
                  ", ".join(f"{k}×{v}" for k, v in sc.outside.most_common(25)))
        if sc.excluded:
            print("excluded from gold:", ", ".join(f"{k}×{v}" for k, v in sc.excluded.most_common(12)))
        for x in sc.examples:
            print("  ", x)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", default="/work/shared/corpora")
    ap.add_argument("--split", choices=("all", "tune", "holdout"), default="all")
    ap.add_argument("--show", type=int, default=0, help="print up to N FP/FN examples per format")
    ap.add_argument("--formats", default=",".join(LOADERS))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    root = Path(a.corpora)
    engine = build_engine(DetectorsConfig(), b"eval-structured-key")
    scores = {fmt: run(engine, root, fmt, a.split, a.show) for fmt in a.formats.split(",")}
    if a.json:
        out = {}
        for fmt, sc in scores.items():
            tp, fp, fn = sc.totals()
            p, r, f1 = prf(tp, fp, fn)
            out[fmt] = {"docs": sc.docs, "tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1,
                        "excluded": sum(sc.excluded.values()), "neutral": sum(sc.neutral.values()),
                        "outside": sum(sc.outside.values())}
        print(json.dumps({"split": a.split, "formats": out}, indent=1))
        return 0
    report(scores, a.split)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
