"""Every data file the packages read at run time is in the installed package, not only in the checkout.

Editable installs read the checkout, so a data file missing from ``[tool.setuptools.package-data]``
only breaks a real install (``pip install .``, the Docker image, the compiled build): the scan then
fails with "term file ... does not exist". This test compares the globs with the files on disk.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IGNORED_SUFFIXES = {".py", ".pyc", ".so", ".c", ".h"}


def test_package_data_covers_every_data_file() -> None:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    missing = []
    for package in ("model", "sensors", "detectors", "store", "stream", "dashboards", "healthdlp"):
        base = ROOT / package
        covered = {p for pattern in conf.get(package, ()) for p in base.glob(pattern) if p.is_file()}
        for path in base.rglob("*"):
            if (path.is_file() and path.suffix not in IGNORED_SUFFIXES and "__pycache__" not in path.parts
                    and path not in covered):
                missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"data files not in [tool.setuptools.package-data]: {missing}"
