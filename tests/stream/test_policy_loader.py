"""Rule loading: the bundled rules are valid, and every kind of mistake is reported at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.taxonomy import CHANNELS, CLEARTEXT_CAPABLE, Severity
from model.yamlsrc import ConfigError
from stream.policy import BUNDLED_RULES, KINDS, load_policy, load_policy_text
from tests.stream.test_policy_support import event, line_of, scan

GOOD = """\
id: test-cleartext
version: 2
title: Cleartext test rule
description: A rule used by the tests.
clauses:
  - "§8.2 Table 4 (transmission: encryption)"
  - "GB/T 35273-2020 §6.3"
kind: cleartext-transfer
parameters:
  min_level: 4
severity:
  by_level: {3: low, 4: high}
playbook:
  check: [look]
  dispose: [act]
"""


def _messages(err: ConfigError) -> list[str]:
    return [str(i) for i in err.issues]


def test_bundled_rules_load_and_cover_every_kind() -> None:
    policy = load_policy()
    assert {r.id for r in policy.rules} == {
        "cleartext-health-data", "bulk-removable-media-export", "special-disease-unauthorized-endpoint",
        "opening-form-egress", "approval-out-of-scope", "cross-border-records-limit",
        "subject-fanout-cross-channel", "deidentified-flow-reidentifiable",
    }
    # the two scenario-specific kinds are used by the scenario packs (stream/policy/packs/)
    assert {r.kind for r in policy.rules} == set(KINDS) - {"scenario-mismatch", "doctor-access"}
    for r in policy.rules:
        assert r.enabled and r.version >= 1 and r.description and r.playbook.check and r.playbook.dispose
        assert all(c.startswith("GB/T 39725-2020 §") for c in r.clauses), r.clauses
        assert r.source.startswith(str(BUNDLED_RULES))
    bulk = policy.rule("bulk-removable-media-export")
    assert bulk.parameters["min_subjects"] == 20 and bulk.parameters["window"] == 3600.0
    clear = policy.rule("cleartext-health-data")
    assert clear.parameters["min_level"] == 3
    assert set(clear.parameters["channels"]) == CLEARTEXT_CAPABLE
    assert clear.severity.base(3) is Severity.MEDIUM and clear.severity.base(5) is Severity.CRITICAL


def test_bundled_rules_via_explicit_directory_equal_default() -> None:
    assert [r.id for r in load_policy([str(BUNDLED_RULES)]).rules] == [r.id for r in load_policy().rules]


def test_good_rule_parses_typed_with_defaults_and_clause_prefix() -> None:
    rule = load_policy_text(GOOD, "good.yaml").rule("test-cleartext")
    assert rule.version == 2 and rule.kind == "cleartext-transfer"
    assert rule.clauses == ("GB/T 39725-2020 §8.2 Table 4 (transmission: encryption)", "GB/T 35273-2020 §6.3")
    assert rule.parameters["min_level"] == 4
    assert rule.parameters["channels"] == tuple(sorted(CLEARTEXT_CAPABLE))  # default filled in
    assert rule.playbook.id == "test-cleartext"  # defaults to the rule id
    assert rule.source == "good.yaml:1"


def test_every_problem_in_a_file_is_reported_with_its_line(tmp_path: Path) -> None:
    text = """\
id: Bad Rule
version: one
title: ""
description: d
clauses: ["Table 4 without a section"]
kind: cleartext-transfr
severty: high
severity:
  by_level: {3: hgih, 9: low}
  raise_at_subjects: 0
parameters: {min_level: 7}
match:
  channel: [htp]
  colour: red
playbook:
  check: []
  dispose: [act]
  owner: soc
"""
    f = tmp_path / "bad.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        load_policy([str(f)])
    got = _messages(ei.value)
    at = lambda needle: f"{f}:{line_of(text, needle)}"  # noqa: E731
    expected = [
        f"{at('severty')}: unknown key 'severty'; did you mean 'severity'?",
        f"{at('id: Bad')}: 'id' must be 2-64 lowercase letters, digits, '.', '_' or '-', not 'Bad Rule'",
        f"{at('version')}: 'version' must be an integer ≥ 1, not 'one'",
        f"{at('title')}: 'title' must be a non-empty string",
        f"{at('clauses')}: clause 'Table 4 without a section' names no section; "
        "write e.g. '§8.2 Table 4 (transmission)'",
        f"{at('kind:')}: unknown kind 'cleartext-transfr'; did you mean 'cleartext-transfer'?",
        f"{at('by_level')}: unknown severity 'hgih'; did you mean 'high'?",
        f"{at('by_level')}: level '9' must be 1..5",
        f"{at('raise_at')}: 'raise_at_subjects' must be an integer ≥ 1",
        f"{at('check')}: playbook 'check' must be a non-empty list of steps",
        f"{at('owner')}: unknown key 'owner'; known keys: check, dispose, id",
        f"{at('channel:')}: match.channel: unknown channel 'htp' (did you mean 'http'?)",
        f"{at('colour')}: unknown key 'colour'",
    ]
    for e in expected:
        assert any(m.startswith(e) for m in got), f"missing {e!r} in\n" + "\n".join(got)
    assert len(got) == len(expected), "\n".join(got)


def test_parameters_are_validated_against_the_kind(tmp_path: Path) -> None:
    text = GOOD.replace("kind: cleartext-transfer", "kind: bulk-removable-media").replace(
        "parameters:\n  min_level: 4\n",
        "parameters:\n  min_subject: 5\n  window: 1x\n  channels: [usb, flopy]\n"
        "  include_encrypted: yes-please\n  min_level: 0\n",
    )
    f = tmp_path / "params.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        load_policy([str(f)])
    got = _messages(ei.value)
    assert got == [
        f"{f}:{line_of(text, 'min_subject:')}: kind 'bulk-removable-media': unknown key 'min_subject'; "
        "did you mean 'min_subjects'?",
        f"{f}:{line_of(text, 'window')}: parameter 'window' must be a duration such as '15m', '1h' "
        "or '1h30m', not '1x'",
        f"{f}:{line_of(text, 'flopy')}: parameter 'channels' unknown channel: 'flopy' "
        f"(did you mean 'file-copy'?); known: {', '.join(sorted(CHANNELS))}",
        f"{f}:{line_of(text, 'include_encrypted')}: parameter 'include_encrypted' must be true or false, "
        "not 'yes-please'",
        f"{f}:{line_of(text, 'min_level')}: parameter 'min_level' must be a level from 1 to 5, not 0",
    ]


def test_cleartext_channels_must_be_cleartext_capable() -> None:
    text = GOOD.replace("  min_level: 4\n", "  channels: [http, tls]\n")
    msg = r"x.yaml:10: parameter 'channels' unknown cleartext-capable channel: 'tls'"
    with pytest.raises(ConfigError, match=msg):
        load_policy_text(text, "x.yaml")


def test_duplicate_rule_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yml").write_text("# second copy\n" + GOOD, encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        load_policy([str(tmp_path)])
    assert _messages(ei.value) == [
        f"{tmp_path / 'b.yml'}:2: duplicate rule id 'test-cleartext' "
        f"(first defined at {tmp_path / 'a.yaml'}:1)"
    ]


def test_a_list_of_rules_in_one_file_and_missing_keys() -> None:
    text = "- " + GOOD.replace("\n", "\n  ").rstrip() + "\n- id: half\n  version: 1\n- just a string\n"
    with pytest.raises(ConfigError) as ei:
        load_policy_text(text, "list.yaml")
    assert _messages(ei.value) == [
        f"list.yaml:{line_of(text, 'id: half')}: rule is missing required key(s): title, description, "
        "clauses, kind, severity, playbook",
        f"list.yaml:{line_of(text, 'just a string')}: a rule must be a mapping "
        "(id, version, title, kind, ...)",
    ]


def test_severity_must_not_decrease_with_level() -> None:
    text = GOOD.replace("{3: low, 4: high}", "{3: high, 5: low}")
    with pytest.raises(ConfigError, match=r"x.yaml:12: L5 \(low\) must not be graded below L3 \(high\)"):
        load_policy_text(text, "x.yaml")


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text("id: x\nclauses: [unclosed\nkind: y\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{f}:\d+: YAML syntax"):
        load_policy([str(f)])


def test_missing_path_empty_dir_and_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "blank.yaml").write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        load_policy([str(tmp_path / "nope.yaml"), str(tmp_path / "empty"), str(tmp_path / "blank.yaml")])
    assert _messages(ei.value) == [
        f"{tmp_path / 'nope.yaml'}:0: no such rule file or directory",
        f"{tmp_path / 'empty'}:0: directory holds no rule files (*.yaml, *.yml)",
        f"{tmp_path / 'blank.yaml'}:1: the rule file is empty",
    ]


def test_cross_parameter_problem_is_reported_at_the_rule() -> None:
    text = GOOD.replace("kind: cleartext-transfer", "kind: bulk-removable-media").replace(
        "  min_level: 4\n", "  channels: [usb, file-copy]\n"
    )
    msg = r"^x.yaml:1: rule 'test-cleartext': channels and device_channels overlap"
    with pytest.raises(ConfigError, match=msg):
        load_policy_text(text, "x.yaml")


def test_disabled_rule_is_loaded_but_not_evaluated() -> None:
    from stream.policy import MemoryWindowStore

    enabled = load_policy_text(GOOD)
    disabled = load_policy_text(GOOD + "enabled: false\n")
    ev, sc = event(), scan(4)
    assert len(enabled.evaluate(ev, sc, MemoryWindowStore())) == 1
    assert [r.id for r in disabled.rules] == ["test-cleartext"] and disabled.active == ()
    assert disabled.evaluate(ev, sc, MemoryWindowStore()) == []
