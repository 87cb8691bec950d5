"""Fixtures for detector tests: engines on both prefilter backends and independent check-digit
implementations (so a bug in detectors/validators.py cannot make its own tests pass)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from detectors import Engine, build_engine, load_catalogue
from detectors.catalogue import Catalogue
from model.config import DetectorsConfig

KEY = b"test-hash-key-not-secret"
NER_ID = "person_name_zh_ner"


def ner_tuning(dir_: Path, body: str) -> str:
    """A tuning file setting the name tagger to ``body`` (a YAML flow mapping); one file per body."""
    path = dir_ / f"tuning-{re.sub(r'[^a-z0-9]+', '-', body.lower()).strip('-')}.yaml"
    path.write_text(f"version: 1\ndetectors:\n  {NER_ID}: {body}\n", encoding="utf-8")
    return str(path)


def ner_names(engine: Engine, text: str) -> list[str]:
    """The texts the name tagger reported in ``text``."""
    return [text[f.start : f.end] for f in engine.scan_text(text) if f.detector_id == NER_ID]


def gb11643_complete(first17: str) -> str:
    """Independent ISO 7064 MOD 11-2 (the compact form quoted in the digest, §13 row 1)."""
    c = (1 - 2 * int(first17, 13)) % 11
    return first17 + ("X" if c == 10 else str(c))


def luhn_complete(prefix: str) -> str:
    """Append the Luhn check digit, computed independently of the validator."""
    digits = [int(c) for c in prefix][::-1]
    total = sum(sum(divmod(d * 2, 10)) if i % 2 == 0 else d for i, d in enumerate(digits))
    return prefix + str((10 - total % 10) % 10)


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session", params=["hyperscan", "python"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The bundled catalogue on each prefilter backend: both must give the same answers."""
    return build_engine(DetectorsConfig(), KEY, prefilter=request.param)


@pytest.fixture(scope="session")
def hs_engine() -> Engine:
    return build_engine(DetectorsConfig(), KEY, prefilter="hyperscan")


def entities(engine: Engine, text: str) -> list[str]:
    return [f.entity_type for f in engine.scan_text(text)]
