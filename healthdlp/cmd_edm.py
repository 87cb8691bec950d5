"""`healthdlp edm build PATIENT_INDEX.csv [-o FILE]`: a patient master index → EDM fingerprints.

The CSV needs a name column and at least one of resident ID, record number (MRN) or birth date;
headers are recognised in Chinese and English (姓名/name, 身份证号/id_card, 病案号/住院号/mrn,
出生日期/dob ...). Rows are streamed, never held; the output holds keyed 64-bit fingerprints only
(detectors/edm), under the deployment hash key (model.config.load_hash_key), so the sensor that
loads it can confirm a real patient without ever holding the index.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: normalized header → PatientRow field
HEADERS: dict[str, str] = {
    **dict.fromkeys(("name", "patientname", "fullname", "xm", "姓名", "患者姓名"), "name"),
    **dict.fromkeys(
        ("idcard", "idno", "idnumber", "sfzh", "residentid", "身份证号", "身份证号码", "身份证", "证件号码"),
        "resident_id",
    ),
    **dict.fromkeys(
        ("mrn", "patientid", "medicalrecordno", "inpatientno", "病案号", "住院号", "门诊号", "就诊号", "zyh", "bah"),
        "mrn",
    ),
    **dict.fromkeys(("dob", "birthdate", "birthday", "dateofbirth", "出生日期", "csrq"), "dob"),
}


class EdmInputError(ValueError):
    pass


def _columns(header: list[str]) -> dict[str, int]:
    from detectors.structured.tabular import norm_header

    cols: dict[str, int] = {}
    for i, h in enumerate(header):
        target = HEADERS.get(norm_header(h))
        if target and target not in cols:
            cols[target] = i
    if "name" not in cols or len(cols) < 2:
        found = ", ".join(sorted(cols)) or "none"
        raise EdmInputError(
            "the patient index needs a name column and one of resident ID, MRN or date of birth "
            f"(recognised columns: {found})"
        )
    return cols


def read_patients(path: str | Path) -> Iterator[Any]:
    """Stream PatientRow objects from a CSV/TSV patient index (UTF-8 with or without BOM, or GB18030)."""
    from detectors.edm import PatientRow

    raw = Path(path).open("rb")
    head = raw.read(65536)
    raw.close()
    try:
        head.decode("utf-8")
        encoding = "utf-8-sig"
    except UnicodeDecodeError as e:
        encoding = "utf-8-sig" if e.start > len(head) - 4 else "gb18030"
    with open(path, encoding=encoding, newline="") as f:
        sample = f.read(8192)
        f.seek(0)
        delim = "\t" if sample.count("\t") > sample.count(",") else ","
        reader = csv.reader(f, delimiter=delim)
        header = next(reader, None)
        if header is None:
            raise EdmInputError("the patient index is empty")
        cols = _columns(header)

        def cell(row: list[str], key: str) -> str:
            i = cols.get(key)
            return row[i] if i is not None and i < len(row) else ""

        for row in reader:
            if row and cell(row, "name").strip():
                yield PatientRow(cell(row, "name"), cell(row, "resident_id"), cell(row, "mrn"), cell(row, "dob"))


def cmd_edm_build(args: argparse.Namespace) -> int:
    from detectors.edm import build_index
    from model.config import load_config, load_hash_key
    from model.yamlsrc import ConfigError

    try:
        cfg = load_config(args.config or os.environ.get("HEALTHDLP_CONFIG"))
        key = load_hash_key(cfg)
    except ConfigError as e:
        print(f"healthdlp edm: {e}", file=sys.stderr)
        return 2
    out = Path(args.output or f"{args.index}.edm")
    t0 = time.perf_counter()
    try:
        n = build_index(key, read_patients(args.index), out)
    except (OSError, EdmInputError) as e:
        print(f"healthdlp edm: {args.index}: {e}", file=sys.stderr)
        return 2
    took = time.perf_counter() - t0
    print(f"wrote {out}: {n} fingerprints ({out.stat().st_size} bytes) in {took:.1f}s; no raw values stored")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "edm",
        help="exact data match: fingerprint a patient master index",
        description="Exact data match (EDM): keyed fingerprints of (name, ID / MRN / DOB) pairs.",
    )
    p.add_argument("--config", help="config file (default $HEALTHDLP_CONFIG or the embedded defaults)")
    esub = p.add_subparsers(dest="edm_command", required=True)
    b = esub.add_parser(
        "build",
        help="PATIENT_INDEX.csv → fingerprint file",
        description="Columns (zh/en headers): 姓名/name and any of 身份证号/id_card, 病案号/住院号/mrn, 出生日期/dob.",
    )
    b.add_argument("index", help="patient master index, CSV or TSV with a header row")
    b.add_argument("-o", "--output", help="output file (default: INDEX.edm)")
    b.add_argument("--config", dest="config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    b.set_defaults(func=cmd_edm_build)
