"""Field-level recall of the structured extractors on third-party samples (never copied here).

    .venv/bin/python bench/eval_structured.py [--corpora /work/shared/corpora]

* DICOM (dicom-files/INVENTORY_phi_tags.jsonl): for every PHI tag the inventory lists for a
  file, is there a finding with field path ``dicom::<Tag>``? Tags with no entity type in the v1
  vocabulary (InstitutionName, StationName, PatientSex/Age, StudyDate) are listed as unmapped.
* FHIR (synthea-bulk-fhir ndjson, fhir-converter-samples FHIR/Json/Stu3): gold fields are read with
  the standard ``json`` module (independently of the extractor): Patient identifier/name/telecom/
  address/birthDate, Condition.code, Observation value[x], MedicationRequest medication.
* CDA (fhir-converter-samples Ccda, C-CDA): gold from ``xml.etree``: recordTarget patient name,
  birthTime, ids with an extension, telecoms with a value.
Values whose check fails (e.g. birth date 11111111) are reported as "rejected by validation".
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors import Engine, build_engine
from model.config import DetectorsConfig
from model.events import Event

UNMAPPED = {"InstitutionName", "StationName", "PatientSex", "PatientAge", "StudyDate", "SOPClass"}
NOT_TAGS = {"file", "size"}


def _event(data: bytes) -> Event:
    return Event("e", "bench", 0.0, "file", "file", content=data, size=len(data))


class Tally:
    def __init__(self) -> None:
        self.gold: Counter[str] = Counter()
        self.found: Counter[str] = Counter()

    def add(self, field: str, ok: bool) -> None:
        self.gold[field] += 1
        self.found[field] += ok

    def rows(self, fmt: str) -> list[tuple[str, str, int, int, float]]:
        return [(fmt, f, self.found[f], n, self.found[f] / n) for f, n in sorted(self.gold.items())]

    def total(self) -> tuple[int, int]:
        return sum(self.found.values()), sum(self.gold.values())


def eval_dicom(engine: Engine, root: Path) -> tuple[Tally, Counter[str]]:
    t, unmapped = Tally(), Counter()
    inv = root / "dicom-files" / "INVENTORY_phi_tags.jsonl"
    for line in inv.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        tags = {k: v for k, v in rec.items() if k not in NOT_TAGS and str(v).strip()}
        if not tags:
            continue
        path = root / "dicom-files" / rec["file"]
        r = engine.scan(_event(path.read_bytes()[: 4 << 20]))
        paths = {
            f.field_path.partition("::")[2].split("[")[0] for f in r.findings if f.field_path.startswith("dicom::")
        }
        for tag in tags:
            if tag in UNMAPPED:
                unmapped[tag] += 1
            else:
                t.add(tag, tag in paths)
    return t, unmapped


def _gold_fhir(res: dict) -> list[str]:
    kind, out = res.get("resourceType"), []
    if kind == "Patient":
        out += [f"identifier[{i}].value" for i, x in enumerate(res.get("identifier", [])) if x.get("value")]
        out += [f"name[{i}]" for i in range(len(res.get("name", [])))]
        out += [f"telecom[{i}]" for i, x in enumerate(res.get("telecom", [])) if x.get("value")]
        out += [f"address[{i}]" for i in range(len(res.get("address", [])))]
        out += ["birthDate[0]"] if res.get("birthDate") else []
    elif kind == "Condition" and res.get("code"):
        out.append("code[0]")
    elif kind == "Observation" and any(k.startswith("value") for k in res):
        out.append("value")
    elif kind == "MedicationRequest" and (
        "medicationCodeableConcept" in res or res.get("medicationReference", {}).get("display")
    ):
        out.append("medication")
    return out


def _found_key(path: str) -> str:
    rec, _, field = path.partition("::")
    kind = rec.rpartition(".")[2]
    if kind == "Condition":
        return "code[0]"
    if kind == "Observation":
        return "value"
    if kind == "MedicationRequest":
        return "medication"
    return field


def eval_fhir_ndjson(engine: Engine, files: list[Path], t: Tally, max_lines: int = 400) -> None:
    for f in files:
        lines = [ln for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()][:max_lines]
        for ln in lines:  # one resource per event, as a bulk-export sensor would see each record
            res = json.loads(ln)
            gold = _gold_fhir(res)
            if not gold:
                continue
            found = {
                _found_key(x.field_path) for x in engine.scan(_event(ln.encode())).findings if "::" in x.field_path
            }
            for g in gold:
                t.add(f"{res['resourceType']}.{g.split('[')[0].removesuffix('.value') if '[' in g else g}", g in found)


def eval_fhir_files(engine: Engine, files: list[Path], t: Tally) -> None:
    for f in files:
        data = f.read_bytes()
        try:
            doc = json.loads(data)
        except ValueError:  # not UTF-8 JSON (one Stu3 sample is Latin-1): skipped, counted
            print(f"skipped (not UTF-8 JSON): {f.name}", file=sys.stderr)
            continue
        if not isinstance(doc, dict):
            continue
        resources = (
            [e.get("resource", {}) for e in doc.get("entry", [])] if doc.get("resourceType") == "Bundle" else [doc]
        )
        found = Counter(
            (x.field_path.partition("::")[0], _found_key(x.field_path))
            for x in engine.scan(_event(data)).findings
            if "::" in x.field_path
        )
        for i, res in enumerate(resources):
            rec = (f"entry[{i}]." if doc.get("resourceType") == "Bundle" else "") + str(res.get("resourceType"))
            for g in _gold_fhir(res):
                t.add(f"{res['resourceType']}.{g.split('[')[0]}", (rec, g) in found)


V3 = "{urn:hl7-org:v3}"


def eval_cda(engine: Engine, files: list[Path], t: Tally) -> None:
    for f in files:
        data = f.read_bytes()
        try:
            root = ET.fromstring(data)
        except ET.ParseError:
            continue
        role = root.find(f"{V3}recordTarget/{V3}patientRole")
        if role is None:
            continue
        found = [x for x in engine.scan(_event(data)).findings if x.field_path.startswith("ClinicalDocument::")]
        paths = {x.field_path.partition("::")[2] for x in found}
        ids = [e for e in role.findall(f"{V3}id") if e.get("extension")]
        n_ids = sum(1 for p in paths if p.startswith("id[") or p.startswith("recordTarget/patientRole/id["))
        for i in range(len(ids)):
            t.add("patientRole/id", i < n_ids)
        tels = [e for e in role.findall(f"{V3}telecom") if e.get("value")]
        for i in range(len(tels)):
            t.add("patientRole/telecom", f"recordTarget/patientRole/telecom[{i}]" in paths)
        pat = role.find(f"{V3}patient")
        if pat is not None:
            for i in range(len(pat.findall(f"{V3}name"))):
                t.add("patient/name", f"recordTarget/patientRole/patient/name[{i}]" in paths)
            bt = pat.find(f"{V3}birthTime")
            if bt is not None and bt.get("value"):
                t.add("patient/birthTime", "recordTarget/patientRole/patient/birthTime" in paths)
        for i in range(len(role.findall(f"{V3}addr"))):
            t.add("patientRole/addr", f"recordTarget/patientRole/addr[{i}]" in paths)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", default="/work/shared/corpora")
    a = ap.parse_args()
    root = Path(a.corpora)
    engine = build_engine(DetectorsConfig(), b"eval-structured-key")
    rows: list[tuple[str, str, int, int, float]] = []
    totals: dict[str, tuple[int, int]] = {}

    dicom, unmapped = eval_dicom(engine, root)
    rows += dicom.rows("dicom")
    totals["dicom"] = dicom.total()

    fhir = Tally()
    synthea = sorted((root / "synthea-bulk-fhir").glob("*-patients/*.ndjson"))
    eval_fhir_ndjson(
        engine,
        [f for f in synthea if f.name.split(".")[0] in {"Patient", "Condition", "MedicationRequest", "Observation"}],
        fhir,
    )
    conv = root / "fhir-converter-samples" / "data" / "SampleData"
    eval_fhir_files(
        engine,
        sorted((conv / "FHIR").glob("*.json"))
        + sorted((conv / "Json").glob("*.json"))
        + sorted((conv / "Stu3").glob("*.json")),
        fhir,
    )
    rows += fhir.rows("fhir")
    totals["fhir"] = fhir.total()

    cda = Tally()
    eval_cda(engine, sorted((conv / "Ccda").glob("*")), cda)
    rows += cda.rows("cda")
    totals["cda"] = cda.total()

    print(f"{'format':<7} {'field':<28} {'found':>6} {'gold':>6} {'recall':>7}")
    for fmt, field, found, gold, rec in rows:
        print(f"{fmt:<7} {field:<28} {found:>6} {gold:>6} {rec:>7.3f}")
    print()
    for fmt, (found, gold) in totals.items():
        print(f"{fmt:<7} {'ALL (micro)':<28} {found:>6} {gold:>6} {found / max(gold, 1):>7.3f}")
    if unmapped:
        print(
            "\nDICOM tags with no v1 entity type (not counted):",
            ", ".join(f"{k}×{v}" for k, v in sorted(unmapped.items())),
        )
    errs = {
        k: v
        for k, v in engine.stats.items()
        if k.startswith("structured_") and ("broken" in k or "error" in k or "bad" in k)
    }
    print("extractor counters:", dict(sorted(errs.items())) or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
