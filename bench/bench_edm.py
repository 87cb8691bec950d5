"""EDM at hospital scale: build time, peak memory, file size and lookup speed for N synthetic
patients (default 10 million).

    .venv/bin/python bench/bench_edm.py [--n 10000000] [--out /tmp/bench.edm]

Patients are generated on the fly (never held in memory): a CJK name, a GB 11643-valid ID, an MRN
and a birth date each. Reports build wall time, peak RSS of the build (ru_maxrss), index size, and
for the memory-mapped index: lookups per second and the RSS increase caused by 100,000 lookups.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.edm import EdmIndex, PatientRow, build_index, fingerprint

KEY = b"bench-edm-key"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红玉文斌宇浩"
W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def rid(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, W, strict=True)) % 11]


def patients(n: int, seed: int = 1) -> Iterator[PatientRow]:
    rng = random.Random(seed)
    for i in range(n):
        y, m, d = 1930 + i % 90, 1 + i % 12, 1 + i % 28
        dob = f"{y:04d}{m:02d}{d:02d}"
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        yield PatientRow(name, rid(f"110105{dob}{i % 1000:03d}"), f"ZY{i:09d}", dob)


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--out", default="/tmp/bench_edm.edm")
    ap.add_argument("--lookups", type=int, default=100_000)
    a = ap.parse_args()
    out = Path(a.out)
    rss0 = rss_kb()
    t0 = time.perf_counter()
    count = build_index(KEY, patients(a.n), out)
    build_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mb = out.stat().st_size / 1e6

    idx = EdmIndex(out, KEY)
    rss_before = rss_kb()
    sample = list(patients(min(a.n, a.lookups // 2), seed=1))
    probes = [fingerprint(KEY, "id", p.name, p.resident_id) for p in sample]
    probes += [fingerprint(KEY, "mrn", p.name + "x", p.mrn) for p in sample]  # misses
    t1 = time.perf_counter()
    hits = int(idx.contains_many(probes).sum())
    batch_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    single = sum(1 for fp in probes[:20_000] if fp in idx)
    single_s = time.perf_counter() - t2
    rss_after = rss_kb()
    rows = [
        ("patients", f"{a.n:,}"),
        ("fingerprints (name+ID, name+MRN, name+DOB)", f"{count:,}"),
        ("build wall time", f"{build_s:.1f} s ({a.n / build_s:,.0f} patients/s)"),
        ("build peak RSS (process)", f"{peak_mb:,.0f} MB (start {rss0 / 1024:,.0f} MB)"),
        ("index file", f"{size_mb:,.1f} MB ({size_mb * 1e6 / max(count, 1):.1f} B/fingerprint)"),
        (
            "batched lookups",
            f"{len(probes) / batch_s:,.0f} /s ({hits:,} hits of {len(probes):,}; expected {len(sample):,})",
        ),
        ("single lookups", f"{20_000 / single_s:,.0f} /s ({single:,} hits)"),
        ("RSS growth from lookups (mmap pages)", f"{(rss_after - rss_before) / 1024:,.1f} MB"),
    ]
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
