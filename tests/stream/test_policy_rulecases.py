"""Every given/expect case next to the bundled rules and in every scenario pack, run as a pytest case.

The cases are the rules' must-alert and must-not-alert tables (valid, expired and out-of-scope
approvals included); this file makes them part of the suite, and checks that the runner itself
fails a wrong expectation, so a green run means something.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from model.yamlsrc import ConfigError
from stream.policy.testcases import CaseResult, find_test_files, run_test_file

POLICY = Path(__file__).resolve().parents[2] / "stream" / "policy"
FILES = find_test_files([str(POLICY / "rules"), str(POLICY / "packs")])


def _results() -> list[CaseResult]:
    return [r for f in FILES for r in run_test_file(f)]


RESULTS = _results()


def test_every_pack_and_the_bundled_rules_have_cases() -> None:
    dirs = {f.parent.name for f in FILES}
    assert dirs == {"rules", "doctor-access", "patient-query", "clinical-research", "secondary-use",
                    "health-sensing", "mobile-apps", "commercial-insurance", "medical-devices"}
    assert len(RESULTS) >= 70


@pytest.mark.parametrize("result", RESULTS, ids=[f"{Path(r.file).parent.name}:{r.name}" for r in RESULTS])
def test_case(result: CaseResult) -> None:
    assert result.ok, "\n".join([result.where, *result.problems])


def test_every_bundled_and_pack_rule_is_exercised_by_an_alerting_case() -> None:
    from stream.policy import load_policy

    rule_ids = {r.id for r in load_policy().rules}
    for pack in (POLICY / "packs").iterdir():
        rule_ids |= {r.id for r in load_policy([str(pack / "rules.yaml")]).rules}
    fired = {a.rule_id for r in RESULTS for a in r.alerts}
    assert rule_ids - fired == set()


def _write(tmp_path: Path, cases: str) -> Path:
    rules = POLICY / "rules" / "transmission.yaml"
    f = tmp_path / "x.test.yaml"
    f.write_text(f"rules: [{rules}]\ncases:\n{cases}", encoding="utf-8")
    return f


def test_a_wrong_expectation_fails_with_its_line(tmp_path: Path) -> None:
    f = _write(tmp_path, """\
  - name: expects nothing but gets a cleartext alert
    given: {channel: http, src: 10.0.0.1:1, dst: 10.0.0.2:80, scan: {level: 4, subjects: 1}}
    expect: {alerts: []}
  - name: expects an alert with the wrong severity
    given: {channel: http, src: 10.0.0.1:1, dst: 10.0.0.2:80, scan: {level: 4, subjects: 1}}
    expect: {alerts: [{rule: cleartext-health-data, severity: low}]}
  - name: expects an alert that does not come
    given: {channel: http, encrypted: true, src: 10.0.0.1:1, dst: 10.0.0.2:80, scan: {level: 4, subjects: 1}}
    expect: {alerts: [cleartext-health-data]}
""")
    a, b, c = run_test_file(f)
    assert not a.ok and "unexpected alerts from 'cleartext-health-data' (high)" in a.problems[0]
    assert a.where == f"{f}:3"
    assert not b.ok and b.problems == [f"{f}:8: cleartext-health-data: expected severity 'low', got 'high'"]
    assert not c.ok and "expected alert from 'cleartext-health-data', got none" in c.problems[0]


def test_bad_case_keys_are_reported_not_run(tmp_path: Path) -> None:
    f = _write(tmp_path, """\
  - name: typo
    given: {chanel: http, scan: {level: 4}}
    expect: {alert: []}
  - name: typo in the scan
    given: {channel: http, scan: {level: 4, subject: 1}}
    expect: {alerts: []}
""")
    r, q = run_test_file(f)
    text = "\n".join(r.problems)
    assert "unknown key 'chanel'; did you mean 'channel'?" in text
    assert "unknown key 'alert'; did you mean 'alerts'?" in text
    assert not q.ok and "unknown key 'subject'; did you mean 'subjects'?" in q.problems[0]


def test_a_test_file_naming_missing_rules_is_a_config_error(tmp_path: Path) -> None:
    f = tmp_path / "y.test.yaml"
    f.write_text("rules: [nope.yaml]\ncases:\n  - {name: x, given: {scan: {level: 1}}, expect: {}}\n")
    with pytest.raises(ConfigError) as e:
        run_test_file(f)
    assert "nope.yaml:0: no such rule file or directory" in str(e.value)
