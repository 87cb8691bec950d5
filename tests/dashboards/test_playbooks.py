"""Playbooks: the bundled ones are complete and cover the bundled rules; bad ones fail with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dashboards.playbooks import DEFAULT_ID, PHASES, load_playbooks, render_playbook
from model.alerts import Alert
from model.yamlsrc import ConfigError

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "stream" / "policy" / "rules"


def bundled_rule_ids() -> list[str]:
    ids = []
    for f in sorted(RULES_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text(encoding="utf-8")):
            docs = doc if isinstance(doc, list) else [doc]
            ids += [d["id"] for d in docs if isinstance(d, dict) and "id" in d]
    return ids


def make_alert(**kw) -> Alert:
    base = dict(
        alert_id="a" * 32,
        rule_id="cleartext-health-data",
        rule_version=1,
        title="Personal health data sent over an unencrypted channel",
        severity="high",
        clauses=("§8.2 Table 4 (transmission: encryption)", "§10.1"),
        channel="hl7-mllp",
        src="10.1.2.3:40000",
        dst="203.0.113.9:2575",
        actor="svc-interface",
        encrypted=False,
        entities=("CN_RESIDENT_ID", "DIAGNOSIS"),
        categories=("personal_attribute", "health_status"),
        max_level=4,
        subjects=12,
        evidence=("1101**********1234",),
        subject_hashes=("h1", "h2"),
        event_ids=("e1", "e2"),
        observed_at=1_700_000_000.0,
        last_seen=1_700_000_060.0,
        sensor_id="net-1",
    )
    base.update(kw)
    return Alert(**base)


def test_bundled_playbooks_cover_every_phase_and_cite_clauses() -> None:
    pbs = load_playbooks()
    assert DEFAULT_ID in pbs.by_id
    for pb in pbs.by_id.values():
        assert {s.phase for s in pb.steps} == set(PHASES), pb.playbook_id
        assert all(s.clauses for s in pb.steps), pb.playbook_id
        assert pb.grading[-1].catch_all


def test_every_bundled_rule_has_its_own_playbook() -> None:
    ids = bundled_rule_ids()
    assert ids, "no rule ids found in stream/policy/rules"
    pbs = load_playbooks()
    missing = [i for i in ids if i not in pbs.by_id]
    assert not missing, f"rules without a playbook: {missing}"


def test_unknown_rule_falls_back_to_default() -> None:
    assert load_playbooks().for_rule("no-such-rule").playbook_id == DEFAULT_ID


def test_render_fills_facts_and_grades() -> None:
    pb = load_playbooks().for_rule("cleartext-health-data")
    r = render_playbook(pb, make_alert(), now=1_700_000_100.0)
    assert r.grade.grade == "P2"  # L4, 12 subjects: identifying but below the 50-subject bar
    assert render_playbook(pb, make_alert(max_level=5)).grade.grade == "P1"
    assert render_playbook(pb, make_alert(max_level=3)).grade.grade == "P3"
    text = "\n".join(a for s in r.steps for a in s.actions)
    assert "10.1.2.3:40000" in text and "203.0.113.9:2575" in text and "hl7-mllp" in text
    assert "{" not in text
    assert next(s.phase for s in r.steps) == "contain"


def test_incident_report_has_the_94_sections_and_no_subject_hashes() -> None:
    pb = load_playbooks().for_rule("bulk-removable-media-export")
    alert = make_alert(rule_id="bulk-removable-media-export", channel="usb", subject_hashes=("SECRETHASH",))
    report = render_playbook(pb, alert, now=1_700_000_100.0).report
    for section in ("1. EVENT DESCRIPTION", "2. CAUSE ANALYSIS", "3. IMPACT ANALYSIS", "4. HANDLING"):
        assert section in report
    assert "12 distinct data subjects" in report
    assert "L4 identifying" in report
    assert "SECRETHASH" not in report
    assert "over usb (not reported as encrypted)" in report  # "cleartext" is for network protocols


BAD = """\
playbook: broken
version: 1
title: Broken
summary: "{subjects.__class__}"
colour: red
clauses: ["§9.4", "§99.1"]
grading:
  - grade: P1
    label: Major
    when: {min_level: 5}
steps:
  - phase: contain
    title: Stop {dst}
    clauses: ["§8.2"]
    actions: ["Block {destination}"]
  - phase: review
    title: Review
    clauses: ["§9.4"]
    actions: ["Look back"]
  - phase: assess
    title: Scope
    clauses: ["§6.2"]
    actions: ["Count {subjects}"]
"""


def test_errors_carry_file_and_line_all_at_once(tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text(BAD, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_playbooks([f])
    msgs = [str(i) for i in e.value.issues]
    text = "\n".join(msgs)
    assert f"{f}:4: bad template" in text
    assert f"{f}:5: unknown key 'colour'" in text
    assert f"{f}:6: unknown clause reference '§99.1'" in text
    assert f"{f}:8: the last grade must match every alert" in text
    assert f"{f}:15: unknown fact {{destination}}" in text
    assert f"{f}:20: phase 'assess' comes after 'review'" in text
    assert len(msgs) >= 6


def test_missing_phase_and_yaml_syntax(tmp_path: Path) -> None:
    good = (Path(__file__).resolve().parents[2] / "dashboards/playbooks/default.yaml").read_text(
        encoding="utf-8"
    )
    lines = good.splitlines()
    cut = next(i for i, ln in enumerate(lines) if ln.strip() == "- phase: notify")
    end = next(i for i, ln in enumerate(lines) if ln.strip() == "- phase: review")
    f = tmp_path / "no-notify.yaml"
    f.write_text(
        "\n".join(lines[:cut] + lines[end:]).replace("playbook: default", "playbook: x"), encoding="utf-8"
    )
    g = tmp_path / "syntax.yaml"
    g.write_text("playbook: y\nsteps: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_playbooks([f, g])
    text = str(e.value)
    assert "missing §9.4 phase(s): notify" in text
    assert f"{g}:3: YAML syntax" in text


def test_user_playbook_overrides_bundled(tmp_path: Path) -> None:
    src = (Path(__file__).resolve().parents[2] / "dashboards/playbooks/default.yaml").read_text(
        encoding="utf-8"
    )
    f = tmp_path / "mine.yaml"
    f.write_text(
        src.replace("title: Personal health data outside its authorised scope", "title: Site default"),
        encoding="utf-8",
    )
    assert load_playbooks([tmp_path]).for_rule("anything").title == "Site default"


def test_missing_path_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_playbooks([tmp_path / "nope"])
