"""Generic match/unless conditions: tuning a rule with data."""

from __future__ import annotations

import pytest

from model.events import Endpoint
from stream.policy import MemoryWindowStore, load_policy_text
from tests.stream.test_policy_support import event, scan

BASE = """\
id: tuned
version: 1
title: t
description: d
clauses: ["§8.2 Table 4"]
kind: cleartext-transfer
severity: {by_level: {3: medium}}
playbook: {check: [c], dispose: [d]}
"""


def _fires(extra: str, ev) -> bool:  # type: ignore[no-untyped-def]
    policy = load_policy_text(BASE + extra)
    return bool(policy.evaluate(ev, scan(4), MemoryWindowStore()))


CASES = [
    # (yaml, event, fires)
    ("match: {channel: [fhir, hl7-mllp]}", event("e", "fhir"), True),
    ("match: {channel: [fhir, hl7-mllp]}", event("e", "http"), False),
    ("match: {source_kind: net}", event("e", "http"), True),
    ("match: {source_kind: log}", event("e", "http"), False),
    ("match: {attributes: {method: [POST, PUT]}}", event("e", attributes={"method": "POST"}), True),
    ("match: {attributes: {method: [POST, PUT]}}", event("e", attributes={"method": "GET"}), False),
    ("match: {attributes: {method: POST}}", event("e"), False),  # absent attribute: no match
    ("match: {attributes: {status: 200}}", event("e", attributes={"status": "200"}), True),  # text compare
    ("match: {attributes: {batch: true}}", event("e", attributes={"batch": 1}), False),  # bool stays bool
    ("match: {attributes: {tags: vip}}", event("e", attributes={"tags": ["x", "vip"]}), True),
    ("match: {dst_host: [10.9.0.0/16]}", event("e"), True),
    ("match: {dst_host: [10.10.0.0/16, his.local]}", event("e"), False),
    ("match: {dst_host: his.local}", event("e", dst=Endpoint("10.0.0.1", 80, name="his.local")), True),
    ("match: {actor: [dr.li]}", event("e", actor="dr.li"), True),
    ("match: {sensor_id: sensor-b}", event("e"), False),
    ("unless: {dst_host: [10.9.8.0/24], dst_port: 80}", event("e"), False),  # allow-listed interface
    ("unless: {dst_host: [10.9.8.0/24], dst_port: 443}", event("e"), True),  # both must hold to veto
    ("unless: {src_host: [10.1.2.3]}", event("e"), False),
    ("match: {encrypted: false}", event("e"), True),
]


@pytest.mark.parametrize(("yaml", "ev", "fires"), CASES, ids=[c[0] for c in CASES])
def test_conditions(yaml: str, ev, fires: bool) -> None:  # type: ignore[no-untyped-def]
    assert _fires(yaml + "\n", ev) is fires


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("match: {dst_host: [10.0.0.0/33]}", "'10.0.0.0/33' is not a network in CIDR notation"),
        ("match: {dst_port: [0]}", "'dst_port' must be a port (1-65535) or a list of ports"),
        ("match: {encrypted: no-thanks}", "'encrypted' must be true or false"),
        ("match: {attributes: {a: {nested: 1}}}", "attribute 'a' must be a scalar or a list of scalars"),
        ("match: {source_kind: [network]}", "unknown source_kind 'network'"),
        ("unless: [channel]", "'unless' must be a mapping of conditions"),
    ],
)
def test_bad_conditions_are_reported_at_their_line(yaml: str, message: str) -> None:
    from model.yamlsrc import ConfigError

    with pytest.raises(ConfigError) as ei:
        load_policy_text(BASE + yaml + "\n", "r.yaml")
    (issue,) = ei.value.issues
    assert issue.where == "r.yaml:9" and message in issue.message
