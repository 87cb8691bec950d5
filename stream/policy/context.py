"""The context model: who the endpoints of a flow are in GB/T 39725 terms, from site-written YAML.

Detection says "this is L4 personal health data"; whether *this* flow of it is allowed depends on
things a packet does not say: which role each side plays for the data (§6.3: controller,
processor, user, or a subject-facing system), which network zone it sits in, which usage
scenarios (§6.4, §11) it serves, and which opening form (§6.5) a destination offers. A hospital
writes those facts once, as assets; :meth:`Context.resolve` turns every event into a
:class:`Flow` through ONE lookup path, whatever the sensor:

* endpoints: IP (exact, then longest CIDR prefix), port, endpoint name (DICOM AE title, HL7
  application, host name), TLS SNI / HTTP Host (the server side);
* principals: ``Event.actor`` (user or service account), ``attributes.api_client``;
* media: ``Event.device`` (USB serial) is the destination of a usb/file-copy event.

Approvals (data use agreements, §7 m), Annex D/E) live in the same files; see
:mod:`stream.policy.approvals`. Everything validates with file:line, all problems at once.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.events import Endpoint, Event
from model.taxonomy import MAX_LEVEL, MIN_LEVEL
from model.yamlsrc import (
    ConfigError,
    ConfigIssue,
    LineDict,
    LineList,
    load_yaml_file,
    load_yaml_text,
    unknown_key_message,
    where,
)

if TYPE_CHECKING:
    from model.findings import ScanResult
    from stream.policy.approvals import Approval, ApprovalBook, Verdict
    from stream.policy.facts import EventFacts

#: §6.3 roles an asset can play. "subject-facing" = a system that serves data subjects directly
#: (patient portal, app back end, wearable gateway); "subject" = the data subject's own device.
ROLES = ("controller", "processor", "user", "subject-facing", "subject")
#: Network zones, from most to least trusted.
ZONES = ("intranet", "research-enclave", "dmz", "partner", "internet", "cross-border")
#: What a flow resolves to when nothing in the context matched and no default applies.
UNKNOWN = "unknown"
#: §11 scenarios (plus the §6.4 flow examples a site may want to name).
SCENARIOS = (
    "doctor-access", "patient-query", "clinical-research", "secondary-use", "health-sensing",
    "mobile-apps", "commercial-insurance", "medical-devices",
    "internal-use", "interconnection", "telemedicine", "device-maintenance",
)
#: §6.5 Table 2: opening form -> sharing type it allows (online query depends on ``query``).
OPENING_FORMS: Mapping[str, str] = {
    "website-publication": "public",
    "file-sharing": "controlled",
    "api-access": "controlled",
    "online-query": "controlled",  # "public" when query: anonymous
    "analysis-platform": "enclave",
}
SHARING = ("public", "controlled", "enclave")
#: Channels whose ``Event.device`` names the destination medium.
MEDIA_CHANNELS = frozenset({"usb", "file-copy"})

_SELECTORS = ("cidrs", "hosts", "ae_titles", "accounts", "api_clients", "devices", "ports")
ASSET_KEYS = ("id", "description", "role", "zone", "scenarios", "opening_form", "query", "max_level",
              "owner", *_SELECTORS)
TOP_KEYS = ("timezone", "defaults", "assets", "approvals")
DEFAULT_KEYS = ("private", "public", "max_level")
_SIDE_DEFAULT_KEYS = ("zone", "role")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Asset:
    """One named thing in the hospital's map: its role, zone, scenarios and how it is recognised."""

    id: str
    role: str
    zone: str
    scenarios: tuple[str, ...] = ()
    opening_form: str = ""
    sharing: str = ""
    max_level: int | None = None  # highest level it is authorised to receive (None: context default)
    owner: str = ""  # the account a workstation or device belongs to (joins channels per principal)
    description: str = ""
    cidrs: tuple[Network, ...] = ()
    hosts: tuple[str, ...] = ()
    ae_titles: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    api_clients: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class Side:
    """One end of a flow as the context sees it. ``asset`` is "" when only a default applied."""

    asset: str
    role: str
    zone: str
    scenarios: tuple[str, ...] = ()
    opening_form: str = ""
    sharing: str = ""
    max_level: int = MAX_LEVEL
    owner: str = ""
    matched_by: str = ""  # which selector matched: device, ae_title, host, sni, cidr, port, account, default

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"asset": self.asset, "role": self.role, "zone": self.zone}
        if self.opening_form:
            d["opening_form"] = self.opening_form
            d["sharing"] = self.sharing
        if self.matched_by:
            d["matched_by"] = self.matched_by
        return d


class Flow:
    """An event resolved against the context: (scenario, roles, opening form, zone crossing).

    Built once per event by :meth:`Context.resolve` and handed to every rule. The approval
    verdict is computed lazily (most events never need it) and cached here.
    """

    __slots__ = ("_verdict", "actor", "context", "dst", "facts", "scenarios", "src")

    def __init__(self, context: Context, src: Side, dst: Side, actor: Side | None, scenarios: tuple[str, ...]) -> None:
        self.context = context
        self.src = src
        self.dst = dst
        self.actor = actor
        self.scenarios = scenarios
        self._verdict: Verdict | None = None
        #: Per-event values shared by every rule's alert (:func:`stream.policy.facts.facts_for`).
        self.facts: EventFacts | None = None

    @property
    def scenario(self) -> str:
        return self.scenarios[0] if self.scenarios else ""

    @property
    def crossing(self) -> str:
        return f"{self.src.zone}->{self.dst.zone}"

    @property
    def crosses_zone(self) -> bool:
        return self.src.zone != self.dst.zone

    def principal(self, event: Event) -> str:
        """One name per person across channels: the actor; else the owner of the source asset
        (a workstation) or of the device (a registered USB key); else ``Event.principal``."""
        if event.actor:
            return f"actor:{event.actor}"
        owner = self.src.owner or (self.dst.owner if event.channel in MEDIA_CHANNELS else "")
        return f"actor:{owner}" if owner else event.principal

    def approvals(self, event: Event, scan: ScanResult) -> Verdict:
        if self._verdict is None:
            self._verdict = self.context.approvals.check(event, self, scan)
        return self._verdict

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"scenario": self.scenario, "scenarios": list(self.scenarios),
                             "src": self.src.to_dict(), "dst": self.dst.to_dict(), "crossing": self.crossing}
        if self.actor is not None:
            d["actor"] = self.actor.to_dict()
        return d


@dataclass(frozen=True)
class SideDefault:
    zone: str
    role: str


@dataclass(frozen=True)
class Defaults:
    """What an endpoint no asset describes resolves to, by address class."""

    private: SideDefault = SideDefault("intranet", "controller")
    public: SideDefault = SideDefault("internet", UNKNOWN)
    max_level: int = 4  # unlisted endpoints are not authorised for L5 (special disease)


_CACHE_MAX = 65_536


@dataclass
class Context:
    """The loaded context: assets indexed for lookup, approvals, defaults, the site's time zone."""

    assets: tuple[Asset, ...] = ()
    approval_list: tuple[Approval, ...] = ()
    defaults: Defaults = field(default_factory=Defaults)
    timezone: str = "Asia/Shanghai"
    sources: tuple[str, ...] = ()
    #: Key for hashes a kind keeps of quasi-identifier values (set by the loader: the detectors'
    #: HMAC key). Empty: kinds that need one use a random per-process key.
    hash_key: bytes = b""

    def __post_init__(self) -> None:
        from stream.policy.approvals import ApprovalBook

        self.by_id = {a.id: a for a in self.assets}
        self._exact: dict[tuple[str, str], list[Asset]] = {}
        for a in self.assets:
            for kind, values in (("host", a.hosts), ("ae", a.ae_titles), ("account", a.accounts),
                                 ("api", a.api_clients), ("device", a.devices)):
                for v in values:
                    self._exact.setdefault((kind, v.lower()), []).append(a)
        nets = [(n, a) for a in self.assets for n in a.cidrs]
        nets.sort(key=lambda na: -na[0].prefixlen)
        self._nets = nets
        self._port_only = [a for a in self.assets if a.ports and not (a.cidrs or a.hosts or a.ae_titles)]
        self.approvals: ApprovalBook = ApprovalBook(self.approval_list, self.timezone)
        self._cache: dict[tuple[Any, ...], Side] = {}

    # -- lookup ------------------------------------------------------------------------------------
    def _side(self, asset: Asset, how: str) -> Side:
        return Side(asset.id, asset.role, asset.zone, asset.scenarios, asset.opening_form, asset.sharing,
                    asset.max_level if asset.max_level is not None else self.defaults.max_level,
                    asset.owner, how)

    def _port_ok(self, asset: Asset, port: int | None) -> bool:
        return not asset.ports or port in asset.ports

    def endpoint(self, ep: Endpoint | None, server_name: str = "") -> Side:
        """The side an endpoint resolves to (cached: the same few hosts recur in every batch)."""
        if ep is None:
            return Side("", UNKNOWN, UNKNOWN, max_level=self.defaults.max_level, matched_by="")
        key = (ep.host, ep.port, ep.name, server_name)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._resolve_endpoint(ep, server_name)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def _resolve_endpoint(self, ep: Endpoint, server_name: str) -> Side:
        ex = self._exact
        for kind, value, how in (("ae", ep.name, "ae_title"), ("host", ep.name, "host"),
                                 ("host", server_name, "sni"), ("host", ep.host, "host")):
            for a in ex.get((kind, value.lower()), ()) if value else ():
                if self._port_ok(a, ep.port):
                    return self._side(a, how)
        try:
            addr = ipaddress.ip_address(ep.host)
        except ValueError:
            addr = None
        if addr is not None:
            for net, a in self._nets:
                if addr.version == net.version and addr in net and self._port_ok(a, ep.port):
                    return self._side(a, "cidr")
        for a in self._port_only:
            if ep.port in a.ports:
                return self._side(a, "port")
        if addr is None:
            return Side("", UNKNOWN, UNKNOWN, max_level=self.defaults.max_level)
        private = addr.is_private or addr.is_loopback or addr.is_link_local
        d = self.defaults.private if private else self.defaults.public
        return Side("", d.role, d.zone, max_level=self.defaults.max_level, matched_by="default")

    def named(self, kind: str, value: str) -> Side | None:
        """The side of an account (``kind='account'``), API client (``'api'``) or device (``'device'``)."""
        if not value:
            return None
        found = self._exact.get((kind, value.lower()))
        return self._side(found[0], {"api": "api_client"}.get(kind, kind)) if found else None

    def resolve(self, event: Event) -> Flow:
        """(scenario, source role/zone, destination role/zone/opening form, crossing) of one event."""
        attrs = event.attributes
        server_name = event.tls.sni if event.tls is not None and event.tls.sni else str(attrs.get("host", "") or "")
        s2c = attrs.get("direction") == "s2c"
        src = self.endpoint(event.src, server_name if s2c else "")
        dst = self.endpoint(event.dst, "" if s2c else server_name)
        if event.channel in MEDIA_CHANNELS and event.device:
            dev = self.named("device", event.device)
            dst = dev if dev is not None else Side("", UNKNOWN, UNKNOWN, max_level=self.defaults.max_level,
                                                   matched_by="device-unlisted")
        api = attrs.get("api_client")
        actor = self.named("account", event.actor) or (self.named("api", api) if isinstance(api, str) else None)
        if actor is not None:  # the client side is where the actor sits; use it when the address said nothing
            if s2c and not dst.asset:
                dst = actor
            elif not s2c and not src.asset:
                src = actor
        return Flow(self, src, dst, actor, self._scenarios(event, src, dst, actor))

    @staticmethod
    def _scenarios(event: Event, src: Side, dst: Side, actor: Side | None) -> tuple[str, ...]:
        declared = event.attributes.get("scenario")
        if isinstance(declared, str) and declared in SCENARIOS:
            return (declared,)
        a, b = src.scenarios, dst.scenarios
        both = tuple(s for s in a if s in b)
        if both:
            return both
        if actor is not None and actor.scenarios:
            joined = tuple(s for s in actor.scenarios if s in a or s in b)
            if joined:
                return joined
        return tuple(dict.fromkeys(a + b + (actor.scenarios if actor is not None else ())))


EMPTY_CONTEXT_SOURCE = "<no context>"


def empty_context() -> Context:
    return Context(sources=(EMPTY_CONTEXT_SOURCE,))


# -- loading ---------------------------------------------------------------------------------------


def load_context(paths: Sequence[str] = ()) -> Context:
    """Context from files and directories (``*.yaml``/``*.yml``); ``()`` gives the empty context."""
    issues: list[ConfigIssue] = []
    docs: list[Any] = []
    for f in context_files(paths, issues):
        try:
            docs.append(load_yaml_file(f))
        except ConfigError as e:
            issues.extend(e.issues)
    return _build(docs, [str(p) for p in paths], issues)


def load_context_text(text: str, source: str = "<string>") -> Context:
    return _build([load_yaml_text(text, source)], [source], [])


def build_context(docs: Sequence[Any], sources: Sequence[str]) -> Context:
    """A context from already-parsed YAML documents (an inline context in a test file)."""
    return _build(docs, list(sources), [])


def context_files(paths: Sequence[str], issues: list[ConfigIssue]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(c for c in p.iterdir() if c.suffix in (".yaml", ".yml") and c.is_file())
            if not found:
                issues.append(ConfigIssue(f"{p}:0", "directory holds no context files (*.yaml, *.yml)"))
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            issues.append(ConfigIssue(f"{p}:0", "no such context file or directory"))
    return files


def _build(docs: Iterable[Any], sources: list[str], issues: list[ConfigIssue]) -> Context:
    from stream.policy.approvals import parse_approvals

    assets: list[Asset] = []
    approval_nodes: list[tuple[Any, str]] = []
    tz: tuple[str, str] | None = None
    defaults: tuple[Defaults, str] | None = None
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, LineDict):
            issues.append(ConfigIssue(where(doc, default="<context>:1"), "a context file must be a mapping "
                                      f"({', '.join(TOP_KEYS)})"))
            continue
        for k in doc:
            if k not in TOP_KEYS:
                issues.append(ConfigIssue(doc.where(k), unknown_key_message(k, TOP_KEYS)))
        if "timezone" in doc:
            tz = _once(tz, _timezone(doc, issues), doc.where("timezone"), "timezone", issues)
        if "defaults" in doc:
            d = _defaults(doc["defaults"], doc.where("defaults"), issues)
            if d is not None:
                defaults = _once(defaults, d, doc.where("defaults"), "defaults", issues)
        items = doc.get("assets", [])
        if items is None:
            items = []
        if not isinstance(items, list):
            issues.append(ConfigIssue(doc.where("assets"), "'assets' must be a list of assets"))
        else:
            for i, node in enumerate(items):
                a = parse_asset(node, items.where(i) if isinstance(items, LineList) else doc.where("assets"), issues)
                if a is not None:
                    assets.append(a)
        if "approvals" in doc:
            approval_nodes.append((doc["approvals"], doc.where("approvals")))
    seen: dict[str, Asset] = {}
    for a in assets:
        if a.id in seen:
            issues.append(ConfigIssue(a.source, f"duplicate asset id {a.id!r} (first defined at {seen[a.id].source})"))
        seen.setdefault(a.id, a)
    _check_selector_clashes(assets, issues)
    approvals = parse_approvals(approval_nodes, seen, issues)
    if issues:
        raise ConfigError(issues)
    return Context(
        assets=tuple(assets), approval_list=tuple(approvals),
        defaults=defaults[0] if defaults else Defaults(), timezone=tz[0] if tz else "Asia/Shanghai",
        sources=tuple(sources),
    )


def _once(prev: tuple[Any, str] | None, value: Any, loc: str, key: str,
          issues: list[ConfigIssue]) -> tuple[Any, str] | None:
    if value is None:
        return prev
    if prev is not None and prev[0] != value:
        issues.append(ConfigIssue(loc, f"{key!r} is already set differently at {prev[1]}; the files must agree"))
        return prev
    if prev is not None:
        return prev
    return (value, loc)


def _timezone(doc: LineDict, issues: list[ConfigIssue]) -> str | None:
    import zoneinfo

    tz = doc.get("timezone")
    try:
        zoneinfo.ZoneInfo(str(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        issues.append(ConfigIssue(doc.where("timezone"), f"unknown time zone {tz!r}, e.g. 'Asia/Shanghai'"))
        return None
    return str(tz)


def _defaults(node: Any, loc: str, issues: list[ConfigIssue]) -> Defaults | None:
    if not isinstance(node, dict):
        issues.append(ConfigIssue(loc, "'defaults' must be a mapping (private, public, max_level)"))
        return None
    before = len(issues)
    issues.extend(ConfigIssue(where(node, k, loc), unknown_key_message(k, DEFAULT_KEYS)) for k in node
                  if k not in DEFAULT_KEYS)
    base = Defaults()
    sides: dict[str, SideDefault] = {}
    for name in ("private", "public"):
        sub = node.get(name)
        if sub is None:
            sides[name] = getattr(base, name)
            continue
        at = where(node, name, loc)
        if not isinstance(sub, dict):
            issues.append(ConfigIssue(at, f"'defaults.{name}' must be a mapping with zone and role"))
            continue
        issues.extend(ConfigIssue(where(sub, k, at), unknown_key_message(k, _SIDE_DEFAULT_KEYS)) for k in sub
                      if k not in _SIDE_DEFAULT_KEYS)
        zone = _choice(sub, "zone", (*ZONES, UNKNOWN), at, issues, getattr(base, name).zone)
        role = _choice(sub, "role", (*ROLES, UNKNOWN), at, issues, getattr(base, name).role)
        sides[name] = SideDefault(zone, role)
    max_level = node.get("max_level", base.max_level)
    if not _is_level(max_level):
        issues.append(ConfigIssue(where(node, "max_level", loc), f"'max_level' must be a level 1-5, not {max_level!r}"))
    if len(issues) > before:
        return None
    return Defaults(sides["private"], sides["public"], int(max_level))


def _is_level(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and MIN_LEVEL <= v <= MAX_LEVEL


def _choice(node: Any, key: str, known: Sequence[str], loc: str, issues: list[ConfigIssue], default: str = "") -> str:
    import difflib

    v = node.get(key, default)
    if v not in known:
        close = difflib.get_close_matches(str(v), list(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; one of {', '.join(known)}"
        issues.append(ConfigIssue(where(node, key, loc), f"unknown {key} {v!r}{hint}"))
        return default
    return str(v)


def _str_list(node: Any, key: str, loc: str, issues: list[ConfigIssue]) -> tuple[str, ...]:
    v = node.get(key)
    if v is None:
        return ()
    items = [v] if isinstance(v, str | int) and not isinstance(v, bool) else v
    if not isinstance(items, list) or not all(isinstance(i, str | int) and not isinstance(i, bool) and str(i).strip()
                                              for i in items):
        issues.append(ConfigIssue(where(node, key, loc), f"'{key}' must be a string or a list of strings"))
        return ()
    return tuple(str(i).strip() for i in items)


def _scenarios(node: Any, key: str, loc: str, issues: list[ConfigIssue]) -> tuple[str, ...]:
    import difflib

    out = []
    for s in _str_list(node, key, loc, issues):
        if s not in SCENARIOS:
            close = difflib.get_close_matches(s, SCENARIOS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(SCENARIOS)}"
            issues.append(ConfigIssue(where(node, key, loc), f"unknown scenario {s!r}{hint}"))
        else:
            out.append(s)
    return tuple(out)


def parse_asset(node: Any, loc: str, issues: list[ConfigIssue]) -> Asset | None:
    """One asset; every problem appended to ``issues`` with its line."""
    if not isinstance(node, dict):
        issues.append(ConfigIssue(loc, "an asset must be a mapping (id, role, zone, selectors ...)"))
        return None
    loc = where(node, default=loc)
    before = len(issues)
    issues.extend(ConfigIssue(where(node, k, loc), unknown_key_message(k, ASSET_KEYS))
                  for k in node if k not in ASSET_KEYS)
    aid = node.get("id")
    if not isinstance(aid, str) or not aid.strip():
        issues.append(ConfigIssue(where(node, "id", loc), "asset 'id' must be a non-empty string"))
    elif aid.strip() in ZONES:
        issues.append(ConfigIssue(where(node, "id", loc), f"asset id {aid!r} is a zone name; approvals name "
                                                          "destinations by asset id or zone, so pick another id"))
    missing = [k for k in ("role", "zone") if k not in node]
    if missing:
        issues.append(ConfigIssue(loc, f"asset is missing required key(s): {', '.join(missing)}"))
    role = _choice(node, "role", ROLES, loc, issues) if "role" in node else ""
    zone = _choice(node, "zone", ZONES, loc, issues) if "zone" in node else ""
    scenarios = _scenarios(node, "scenarios", loc, issues)
    form = _choice(node, "opening_form", tuple(OPENING_FORMS), loc, issues) if "opening_form" in node else ""
    query = _choice(node, "query", ("anonymous", "user"), loc, issues) if "query" in node else "user"
    if "query" in node and form != "online-query":
        issues.append(ConfigIssue(where(node, "query", loc), "'query' applies only to opening_form: online-query"))
    sharing = ("public" if form == "online-query" and query == "anonymous" else OPENING_FORMS[form]) if form else ""
    max_level = node.get("max_level")
    if max_level is not None and not _is_level(max_level):
        issues.append(ConfigIssue(where(node, "max_level", loc), f"'max_level' must be a level 1-5, not {max_level!r}"))
    owner = node.get("owner", "")
    if not isinstance(owner, str):
        issues.append(ConfigIssue(where(node, "owner", loc), "'owner' must be an account name"))
    cidrs: list[Network] = []
    for c in _str_list(node, "cidrs", loc, issues):
        try:
            cidrs.append(ipaddress.ip_network(c, strict=False))
        except ValueError:
            issues.append(ConfigIssue(where(node, "cidrs", loc), f"{c!r} is not a network in CIDR notation"))
    ports: list[int] = []
    raw_ports = node.get("ports")
    if raw_ports is not None:
        items = raw_ports if isinstance(raw_ports, list) else [raw_ports]
        if not items or not all(isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in items):
            issues.append(ConfigIssue(where(node, "ports", loc), "'ports' must be a port (1-65535) or a list of ports"))
        else:
            ports = list(items)
    sel = {k: _str_list(node, k, loc, issues) for k in ("hosts", "ae_titles", "accounts", "api_clients", "devices")}
    if not (cidrs or ports or any(sel.values())):
        issues.append(ConfigIssue(loc, "asset has no selector: give at least one of " + ", ".join(_SELECTORS)))
    if len(issues) > before:
        return None
    return Asset(
        id=str(aid).strip(), role=role, zone=zone, scenarios=scenarios, opening_form=form, sharing=sharing,
        max_level=max_level, owner=str(owner), description=str(node.get("description", "")), cidrs=tuple(cidrs),
        ports=tuple(ports), source=loc, **sel,
    )


def _check_selector_clashes(assets: Sequence[Asset], issues: list[ConfigIssue]) -> None:
    """The same host, account, AE title or device on two assets makes resolution ambiguous."""
    owner: dict[tuple[str, str, tuple[int, ...]], Asset] = {}
    for a in assets:
        for kind, values in (("host", a.hosts), ("ae_title", a.ae_titles), ("account", a.accounts),
                             ("api_client", a.api_clients), ("device", a.devices),
                             ("cidr", tuple(str(n) for n in a.cidrs))):
            for v in values:
                key = (kind, v.lower(), a.ports)
                first = owner.get(key)
                if first is not None and first.id != a.id:
                    issues.append(ConfigIssue(a.source, f"{kind} {v!r} is already assigned to asset {first.id!r} "
                                                        f"({first.source})"))
                owner.setdefault(key, a)
