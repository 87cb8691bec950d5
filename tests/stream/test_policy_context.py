"""The context model: validation with file:line, and the one lookup path from event to flow."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.events import Endpoint, TlsInfo
from model.yamlsrc import ConfigError
from stream.policy.context import UNKNOWN, empty_context, load_context, load_context_text
from tests.stream.test_policy_support import event, line_of

SITE = """\
timezone: Asia/Shanghai
defaults:
  private: {zone: intranet, role: controller}
  public: {zone: internet, role: unknown}
  max_level: 4
assets:
  - {id: lan, role: controller, zone: intranet, scenarios: [doctor-access], cidrs: [10.0.0.0/8], owner: ""}
  - {id: ward-3, role: controller, zone: intranet, cidrs: [10.3.0.0/16], max_level: 5}
  - {id: pacs, role: controller, zone: intranet, ae_titles: [PACS01], hosts: [10.3.0.9], ports: [104],
     scenarios: [medical-devices]}
  - {id: portal, role: subject-facing, zone: dmz, opening_form: online-query, query: anonymous,
     hosts: [portal.example], scenarios: [patient-query]}
  - {id: insurer, role: user, zone: partner, opening_form: api-access, api_clients: [ins-1],
     cidrs: [198.51.100.0/24], scenarios: [commercial-insurance]}
  - {id: dr-li, role: controller, zone: intranet, accounts: [dr.li], scenarios: [doctor-access]}
  - {id: ws-li, role: controller, zone: intranet, hosts: [10.3.7.7], owner: dr.li}
  - {id: enc-usb, role: controller, zone: intranet, devices: [SN-ENC-1], max_level: 5, owner: nurse.wang}
  - {id: vendor, role: processor, zone: cross-border, hosts: [vendor.example]}
"""


@pytest.fixture(scope="module")
def ctx():  # type: ignore[no-untyped-def]
    return load_context_text(SITE, "site.yaml")


@pytest.mark.parametrize(("ep", "sni", "asset", "how"), [
    (Endpoint("10.9.9.9", 80), "", "lan", "cidr"),
    (Endpoint("10.3.1.1", 80), "", "ward-3", "cidr"),  # the longest prefix wins
    (Endpoint("10.3.0.9", 104), "", "pacs", "host"),
    (Endpoint("10.3.0.9", 443), "", "ward-3", "cidr"),  # pacs is only port 104
    (Endpoint("10.3.5.5", 11112, "PACS01"), "", "", ""),  # AE title on the wrong port: falls through
    (Endpoint("10.3.5.5", 104, "pacs01"), "", "pacs", "ae_title"),  # AE titles case-insensitive
    (Endpoint("93.184.216.34", 443), "portal.example", "portal", "sni"),
    (Endpoint("93.184.216.34", 443), "", "", "default"),
    (Endpoint("198.51.100.7", 443), "", "insurer", "cidr"),
])
def test_endpoint_lookup(ctx, ep, sni, asset, how) -> None:  # type: ignore[no-untyped-def]
    side = ctx.endpoint(ep, sni)
    if asset == "" and how == "":
        assert side.asset == "ward-3"  # 10.3.5.5 is in ward-3's CIDR
        return
    assert (side.asset, side.matched_by) == (asset, how)


def test_defaults_by_address_class(ctx) -> None:  # type: ignore[no-untyped-def]
    pub = ctx.endpoint(Endpoint("93.184.216.34", 443))
    assert (pub.zone, pub.role, pub.max_level) == ("internet", UNKNOWN, 4)
    priv = load_context_text("assets: []\n").endpoint(Endpoint("192.168.1.1"))
    assert (priv.zone, priv.role) == ("intranet", "controller")
    name = ctx.endpoint(Endpoint("some-host-name"))
    assert (name.zone, name.role) == (UNKNOWN, UNKNOWN)


def test_resolve_flow_scenario_roles_form_and_crossing(ctx) -> None:  # type: ignore[no-untyped-def]
    # a portal response (s2c): the server is src; SNI/Host name the server side
    ev = event("e1", src=Endpoint("93.184.216.34", 443), dst=Endpoint("100.64.1.1", 5000),
               tls=TlsInfo(sni="portal.example"), attributes={"direction": "s2c"})
    flow = ctx.resolve(ev)
    assert (flow.src.asset, flow.src.role, flow.dst.zone) == ("portal", "subject-facing", "internet")
    assert flow.scenario == "patient-query" and flow.crossing == "dmz->internet" and flow.crosses_zone
    # the API client names the client side when its address said nothing
    ev = event("e2", channel="api-log", src=Endpoint("100.64.2.2"), dst=Endpoint("10.3.0.9", 8443),
               attributes={"api_client": "ins-1"})
    flow = ctx.resolve(ev)
    assert (flow.src.asset, flow.src.matched_by) == ("insurer", "api_client")
    assert flow.dst.asset == "ward-3" and flow.scenarios == ("commercial-insurance",)
    # an explicit scenario attribute wins
    assert ctx.resolve(event("e3", attributes={"scenario": "secondary-use"})).scenarios == ("secondary-use",)


def test_media_destination_and_owner_join_channels(ctx) -> None:  # type: ignore[no-untyped-def]
    usb = ctx.resolve(event("u1", channel="usb", device="SN-ENC-1", src=Endpoint("10.3.7.8")))
    assert (usb.dst.asset, usb.dst.max_level) == ("enc-usb", 5)
    assert usb.principal(event("u1", channel="usb", device="SN-ENC-1")) == "actor:nurse.wang"
    unknown = ctx.resolve(event("u2", channel="usb", device="KINGSTON"))
    assert (unknown.dst.zone, unknown.dst.matched_by) == (UNKNOWN, "device-unlisted")
    # dr.li's workstation without an actor is still dr.li
    ws = event("n1", src=Endpoint("10.3.7.7", 5000))
    assert ctx.resolve(ws).principal(ws) == "actor:dr.li"
    assert ctx.resolve(event("n2", actor="bob")).principal(event("n2", actor="bob")) == "actor:bob"


def test_empty_context_resolves_by_address_class_only() -> None:
    flow = empty_context().resolve(event("e", dst=Endpoint("8.8.8.8", 53)))
    assert (flow.src.zone, flow.dst.zone, flow.scenarios) == ("intranet", "internet", ())


BAD = """\
timezone: Mars/Olympus
colour: red
defaults:
  private: {zone: intranett}
  max_level: 7
assets:
  - {id: a, role: controler, zone: intranet, cidrs: [10.0.0.0/33]}
  - {id: b, role: user, zone: partner}
  - {id: c, role: user, zone: partner, hosts: [h1], scenarios: [docter-access], opening_form: web}
  - {id: e, role: user, zone: partner, hosts: [h1]}
  - {id: e, role: user, zone: partner, hosts: [h1]}
  - {id: d, role: user, zone: partner, hosts: [h2], query: anonymous, ports: [0], max_level: 9}
approvals:
  - {id: x, purpose: research, max_level: 3, destinations: [nowhere], expires: "2025-13-01", scope: {categories: [dna]}}
  - {id: y, purpose: clinical-research, max_level: 3, destinations: [e], expires: 2025-01-01, valid_from: 2025-02-01}
"""


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "ctx.yaml"
    f.write_text(BAD, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_context([str(f)])
    msgs = [str(i) for i in e.value.issues]
    at = lambda needle, n=1: f"{f}:{line_of(BAD, needle, n)}"  # noqa: E731
    expected = [
        (at("timezone"), "unknown time zone 'Mars/Olympus'"),
        (at("colour"), "unknown key 'colour'"),
        (at("private:"), "unknown zone 'intranett'; did you mean 'intranet'?"),
        (at("max_level: 7"), "'max_level' must be a level 1-5"),
        (at("id: a,"), "unknown role 'controler'; did you mean 'controller'?"),
        (at("id: a,"), "'10.0.0.0/33' is not a network in CIDR notation"),
        (at("id: b,"), "asset has no selector"),
        (at("id: c,"), "unknown scenario 'docter-access'; did you mean 'doctor-access'?"),
        (at("id: c,"), "unknown opening_form 'web'"),
        (at("id: e,", 2), "duplicate asset id 'e'"),
        (at("id: d,"), "'query' applies only to opening_form: online-query"),
        (at("id: d,"), "'ports' must be a port"),
        (at("id: d,"), "'max_level' must be a level 1-5, not 9"),
        (at("id: x,"), "'purpose' must be a scenario"),
        (at("id: x,"), "destination 'nowhere' is neither an asset id nor a zone"),
        (at("id: x,"), "'expires' must be a date YYYY-MM-DD"),
        (at("id: x,"), "unknown category 'dna'"),
        (at("id: y,"), "'valid_from' is after 'expires'"),
    ]
    for loc, needle in expected:
        assert any(m.startswith(loc + ":") and needle in m for m in msgs), (loc, needle, msgs)


def test_policy_loader_reports_rule_and_context_problems_together(tmp_path: Path) -> None:
    from stream.policy import load_policy

    ctx = tmp_path / "ctx.yaml"
    ctx.write_text("assets:\n  - {id: a, role: user, zone: partner}\n")
    rules = tmp_path / "r.yaml"
    rules.write_text("""\
id: r1
version: 1
title: t
description: d
clauses: ["§8.3"]
kind: opening-form-egress
severity: {by_level: {1: low}}
playbook: {check: [c], dispose: [d]}
match: {dst_asset: [ghost], dst_zone: [intranett]}
""")
    with pytest.raises(ConfigError) as e:
        load_policy([str(rules)], [str(ctx)])
    msgs = [str(i) for i in e.value.issues]
    assert any(m.startswith(f"{ctx}:2:") and "asset has no selector" in m for m in msgs)
    assert any(m.startswith(f"{rules}:9:") and "unknown value 'intranett'" in m for m in msgs)
