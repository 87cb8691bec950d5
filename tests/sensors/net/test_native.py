"""The compiled build (setup.py, mypyc) really is what runs when scripts/test.sh tests it.

scripts/test.sh runs the network-sensor tests a second time with ``PYTHONPATH=build/native`` and
``HEALTHDLP_EXPECT_NATIVE=1``; without this check a broken build path would silently test the
pure-Python modules twice.
"""

from __future__ import annotations

import importlib
import os

import pytest

import sensors.net
from sensors.net import build_kind

HOT = ("capture", "decode", "reassembly", "session", "sensor", "protocols.http", "protocols.hl7",
       "protocols.postgres", "protocols.mysql", "protocols.dicom", "protocols.smtp", "protocols.mime")


def test_build_kind_matches_the_loaded_session_module() -> None:
    session = importlib.import_module("sensors.net.session")
    compiled = session.__file__.endswith(".so")
    assert build_kind() == ("compiled" if compiled else "python")
    assert build_kind() in ("compiled", "python")


@pytest.mark.skipif(os.environ.get("HEALTHDLP_EXPECT_NATIVE") != "1",
                    reason="only when scripts/test.sh tests the compiled build")
def test_every_hot_module_is_compiled() -> None:
    assert build_kind() == "compiled"
    for name in HOT:
        mod = importlib.import_module(f"sensors.net.{name}")
        assert mod.__file__ is not None and mod.__file__.endswith(".so"), f"{name} is not compiled: {mod.__file__}"
    assert "build/native" in (sensors.net.__file__ or "")
