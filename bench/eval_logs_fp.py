"""False positives of the phone and card detectors on machine logs (third-party, never copied).

Logs hold PIDs, ports, byte counts, timestamps and request ids: digit runs that look like phone
numbers and card numbers but are neither. Every PHONE_NUMBER or BANK_CARD finding in them is a
false positive (loghub-2k and elastic's Apache sample hold no contact data). Reads 7 loghub-2k
files (Android, Apache, HealthApp, Linux, Mac, OpenSSH, Proxifier) and the first 2,000 lines of
elastic-examples-weblogs ``apache_logs``, cuts each into chunks of 20 lines (the size of a log
batch event) and counts findings per type, per source and per detector.

    .venv/bin/python bench/eval_logs_fp.py [--corpora DIR] [--show N]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors import build_engine  # noqa: E402
from model.config import DetectorsConfig  # noqa: E402

SOURCES = (
    ("Android", "loghub-2k/Android/Android_2k.log"),
    ("Apache", "loghub-2k/Apache/Apache_2k.log"),
    ("HealthApp", "loghub-2k/HealthApp/HealthApp_2k.log"),
    ("Linux", "loghub-2k/Linux/Linux_2k.log"),
    ("Mac", "loghub-2k/Mac/Mac_2k.log"),
    ("OpenSSH", "loghub-2k/OpenSSH/OpenSSH_2k.log"),
    ("Proxifier", "loghub-2k/Proxifier/Proxifier_2k.log"),
    ("apache_logs", "elastic-examples-weblogs/Common Data Formats/apache_logs/apache_logs"),
)
TYPES = ("PHONE_NUMBER", "BANK_CARD")
LINES, CHUNK = 2000, 20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", default="/work/shared/corpora")
    ap.add_argument("--show", type=int, default=0, help="print up to N false positives (local use only)")
    args = ap.parse_args()
    engine = build_engine(DetectorsConfig(), b"eval-logs-fp")
    by_type: Counter[str] = Counter()
    by_source: Counter[tuple[str, str]] = Counter()
    by_detector: Counter[str] = Counter()
    shown = chunks = 0
    for name, rel in SOURCES:
        path = Path(args.corpora) / rel
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[:LINES]
        for i in range(0, len(lines), CHUNK):
            text = "\n".join(lines[i : i + CHUNK])
            chunks += 1
            for f in engine.scan_text(text):
                if f.entity_type not in TYPES:
                    continue
                by_type[f.entity_type] += 1
                by_source[(name, f.entity_type)] += 1
                by_detector[f.detector_id] += 1
                if shown < args.show:
                    shown += 1
                    line = text[text.rfind("\n", 0, f.start) + 1 : text.find("\n", f.end) % (len(text) + 1)]
                    value = text[f.start : f.end]
                    print(f"  FP {f.entity_type:12} {name:11} {f.detector_id:16} {value!r} in {line[:140]!r}")
    print(f"{len(SOURCES)} files, {chunks} chunks of {CHUNK} lines")
    for t in TYPES:
        print(f"{t:13} false positives: {by_type[t]}")
    for (name, t), n in sorted(by_source.items()):
        print(f"  {name:11} {t:13} {n}")
    for det, n in by_detector.most_common():
        print(f"  detector {det:20} {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
