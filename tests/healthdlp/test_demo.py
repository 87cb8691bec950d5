"""`healthdlp demo` as a user runs it: a fresh directory, no servers, alerts stored in chdb."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HEALTHDLP_CONFIG", "HEALTHDLP_HASH_KEY")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "healthdlp", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180, check=False)


def test_demo_runs_stores_and_is_idempotent(tmp_path: Path) -> None:
    first = _run(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "6 alerts" in out and "alerts stored: 6" in out
    assert "bulk-removable-media" in out and "hl7-mllp" in out and "fhir" in out
    assert "json-invalid × 1" in out  # the garbage line in the samples went to the dead-letter file
    assert (tmp_path / "var" / "dead-letters.jsonl").exists()
    assert (tmp_path / "var" / "hash.key").stat().st_mode & 0o777 == 0o600

    again = _run(tmp_path, "demo")  # replay: same ids, ReplacingMergeTree keeps one copy
    assert again.returncode == 0, again.stderr
    assert "alerts stored: 6" in again.stdout

    listed = _run(tmp_path, "alerts", "--format", "jsonl")
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.strip().splitlines()) == 6
    crit = _run(tmp_path, "alerts", "--severity", "critical")
    assert "critical" in crit.stdout and "high " not in crit.stdout
    since = _run(tmp_path, "alerts", "--format", "jsonl", "--since", "2000-01-01T00:00:00Z")
    assert len(since.stdout.strip().splitlines()) == 6, since.stderr  # ISO times, as replay takes them
    bad = _run(tmp_path, "alerts", "--since", "7 days")
    assert bad.returncode == 2 and "neither a duration (7d, 24h, 90m) nor an ISO time" in bad.stderr
