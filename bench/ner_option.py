"""The ``--ner-backend`` option shared by the detector benchmarks: which model the Chinese name
tagger (``person_name_zh_ner``, detectors/ner.py) runs on, or none.

The default engine runs it on LAC; ``jieba`` and ``off`` write a site tuning file, as a
deployment would, so the figures are those of a real configuration."""

from __future__ import annotations

import argparse
from pathlib import Path

CHOICES = ("lac", "jieba", "off")


def add_option(ap: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup) -> None:
    ap.add_argument(
        "--ner-backend",
        choices=CHOICES,
        help="Chinese name tagger: lac (the default engine), jieba, or off (rules only)",
    )


def tuning_file(backend: str | None, tmp: Path) -> str:
    """A tuning file for ``backend`` in ``tmp``; "" (the default engine) for None."""
    if backend is None:
        return ""
    body = "{enabled: false}" if backend == "off" else f"{{enabled: true, backend: {backend}}}"
    out = tmp / f"tuning-ner-{backend}.yaml"
    out.write_text(f"version: 1\ndetectors:\n  person_name_zh_ner: {body}\n", encoding="utf-8")
    return str(out)
