"""``healthdlp policy check|test`` (healthdlp/cmd_policy.py), driven through a parser built here."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from healthdlp import cmd_policy
from model.yamlsrc import ConfigError


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--config")
    cmd_policy.register(p.add_subparsers(dest="command", required=True))
    return p.parse_args(list(argv))


@pytest.fixture(autouse=True)
def _no_env_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEALTHDLP_CONFIG", raising=False)


def test_check_bundled_and_packs(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("policy", "check", "--packs")
    assert args.func(args) == 0
    out = capsys.readouterr()
    assert "ok  [policy] cleartext-health-data v1" in out.out
    assert "ok  [commercial-insurance] context: 2 assets, 1 approvals" in out.out
    assert "rules valid in 9 rule set(s)" in out.err


def test_check_reports_rule_context_and_test_file_problems_together(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text("id: x1\nversion: 1\ntitle: t\ndescription: d\nclauses: ['§8.3']\nkind: opening-form-egres\n"
                     "severity: {by_level: {1: low}}\nplaybook: {check: [c], dispose: [d]}\n")
    ctx = tmp_path / "ctx.yaml"
    ctx.write_text("assets:\n  - {id: a, role: processer, zone: partner, cidrs: [10.0.0.0/8]}\n")
    (tmp_path / "r.test.yaml").write_text("rules: [missing.yaml]\ncases: []\n")
    args = parse("policy", "check", str(tmp_path), "--context", str(ctx))
    with pytest.raises(ConfigError) as e:
        args.func(args)
    msgs = [str(i) for i in e.value.issues]
    assert f"{rules}:6: unknown kind 'opening-form-egres'; did you mean 'opening-form-egress'?" in msgs
    assert any(m.startswith(f"{ctx}:2: unknown role 'processer'") for m in msgs)
    assert f"{tmp_path / 'r.test.yaml'}:1: rules file 'missing.yaml' does not exist next to the test file" in msgs


def test_test_runs_cases_and_fails_on_a_wrong_expectation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("policy", "test", "--packs", "-q")
    assert args.func(args) == 0
    assert " 0 failed" in capsys.readouterr().err
    bundled = Path(cmd_policy.__file__).resolve().parents[1] / "stream" / "policy" / "rules" / "transmission.yaml"
    f = tmp_path / "bad.test.yaml"
    f.write_text(f"rules: [{bundled}]\ncases:\n  - name: wrong\n    given: {{channel: http, scan: {{level: 4}}}}\n"
                 "    expect: {alerts: []}\n  - name: scanned by the real detectors\n"
                 "    given: {channel: http, content: '患者王五 身份证号 110105194912310021 诊断 高血压'}\n"
                 "    expect: {alerts: [cleartext-health-data]}\n")
    args = parse("policy", "test", str(f))
    assert args.func(args) == 1
    out = capsys.readouterr().out
    assert f"FAIL  {f}:3  wrong" in out and "unexpected alerts from 'cleartext-health-data'" in out
    assert f"ok    {f}:6  scanned by the real detectors" in out
