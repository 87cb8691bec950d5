"""Fixtures for the structured-extractor tests: one engine for the whole session (structured
extraction does not depend on the prefilter backend) and an event builder."""

from __future__ import annotations

import pytest

from detectors import Engine, build_engine
from model.config import DetectorsConfig
from model.events import Event
from model.findings import Finding
from tests.detectors.conftest import KEY


@pytest.fixture(scope="session")
def st_engine() -> Engine:
    return build_engine(DetectorsConfig(), KEY)


def event(content: bytes, content_type: str = "") -> Event:
    return Event("e1", "s1", 0.0, "net", "http", content=content, content_type=content_type, size=len(content))


def structured(findings: list[Finding] | tuple[Finding, ...], detector: str) -> list[Finding]:
    return [f for f in findings if f.detector_id == detector]


def types_by_path(findings: list[Finding]) -> dict[str, str]:
    return {f.field_path: f.entity_type for f in findings}


def assert_no_raw(findings: object, raws: list[str]) -> None:
    text = repr(findings)
    for r in raws:
        assert r not in text, "raw value leaked into findings"
