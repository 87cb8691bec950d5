"""Generic ``match`` / ``unless`` conditions on event fields, so that tuning is data, not code.

Each YAML key maps to one small condition class (an explicit registry, :data:`CONDITIONS`) whose
``matches(event, flow)`` is a plain predicate; ``flow`` is the event resolved against the context
(:class:`stream.policy.context.Flow`: scenario, roles, zones, opening form), or None.
All keys of a block must hold (AND); a list value means
"any of" (OR). ``unless`` uses the same keys and vetoes the rule when it matches — that is where
allow-lists go (a segregated PACS VLAN, a sanctioned export workstation).
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from model.events import Endpoint, Event
from model.taxonomy import CHANNELS, SourceKind
from model.yamlsrc import ConfigIssue, unknown_key_message, where

if TYPE_CHECKING:
    from stream.policy.context import Flow

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Scalar = str | int | float | bool


class Condition(Protocol):
    def matches(self, event: Event, flow: Flow | None) -> bool: ...


@dataclass(frozen=True)
class FieldIn:
    """A string field of the event (channel, source_kind, sensor_id, actor, device) is one of ``values``."""

    field: str
    values: frozenset[str]

    def matches(self, event: Event, flow: Flow | None = None) -> bool:
        return str(getattr(event, self.field)) in self.values


@dataclass(frozen=True)
class EncryptedIs:
    value: bool

    def matches(self, event: Event, flow: Flow | None = None) -> bool:
        return (event.encrypted or event.tls is not None) is self.value


@dataclass(frozen=True)
class HostIn:
    """The src or dst endpoint's host or name equals one of ``names`` or lies in one of ``networks``."""

    side: str
    names: frozenset[str]
    networks: tuple[Network, ...]

    def matches(self, event: Event, flow: Flow | None = None) -> bool:
        ep: Endpoint | None = getattr(event, self.side)
        if ep is None:
            return False
        if ep.host in self.names or (ep.name and ep.name in self.names):
            return True
        if not self.networks:
            return False
        addr = _ip(ep.host)
        return addr is not None and any(addr in net for net in self.networks)


@functools.lru_cache(maxsize=8192)
def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parsed once per distinct host: the same few addresses recur in every batch."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class PortIn:
    side: str
    ports: frozenset[int]

    def matches(self, event: Event, flow: Flow | None = None) -> bool:
        ep: Endpoint | None = getattr(event, self.side)
        return ep is not None and ep.port in self.ports


def _norm(v: Any) -> tuple[str, str]:
    """Compare attribute values loosely by text (200 == "200") but keep booleans apart from 1/0."""
    return ("b", str(v)) if isinstance(v, bool) else ("s", str(v))


@dataclass(frozen=True)
class AttributesMatch:
    """Every named attribute is present and equals one of its listed values (list attribute: any element)."""

    expected: tuple[tuple[str, frozenset[tuple[str, str]]], ...]

    def matches(self, event: Event, flow: Flow | None = None) -> bool:
        for name, allowed in self.expected:
            if name not in event.attributes:
                return False
            got = event.attributes[name]
            values = got if isinstance(got, list | tuple) else [got]
            if not any(_norm(v) in allowed for v in values):
                return False
        return True


@dataclass(frozen=True)
class Match:
    """All conditions hold; the empty match holds for every event."""

    conditions: tuple[Condition, ...] = ()

    def matches(self, event: Event, flow: Flow | None = None) -> bool:
        return all(c.matches(event, flow) for c in self.conditions)


@dataclass(frozen=True)
class FlowIn:
    """A fact of the resolved flow is one of ``values``: ``scenario`` (any of the flow's scenarios),
    ``src.role``, ``dst.zone``, ``dst.opening_form``, ``dst.sharing``, ``src.asset`` ..."""

    path: str
    values: frozenset[str]

    def matches(self, event: Event, flow: Flow | None = None) -> bool:
        if flow is None:
            return False
        if self.path == "scenario":
            return any(s in self.values for s in flow.scenarios)
        if self.path == "crossing":
            return flow.crossing in self.values
        side, attr = self.path.split(".", 1)
        return str(getattr(getattr(flow, side), attr)) in self.values


@dataclass(frozen=True)
class CrossesZone:
    value: bool

    def matches(self, event: Event, flow: Flow | None = None) -> bool:
        return flow is not None and flow.crosses_zone is self.value


# --- parsers: raw YAML value -> condition; ValueError carries the message -----------------------


def _strings(v: Any, what: str) -> list[str]:
    items = [v] if isinstance(v, str | int) and not isinstance(v, bool) else v
    if not isinstance(items, list) or not items or not all(isinstance(i, str | int) for i in items):
        raise ValueError(f"{what} must be a string or a non-empty list of strings")
    return [str(i) for i in items]


def _choice(field: str, known: frozenset[str]) -> Callable[[Any], Condition]:
    def parse(v: Any) -> Condition:
        items = _strings(v, field)
        bad = [i for i in items if i not in known]
        if bad:
            close = difflib.get_close_matches(bad[0], sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(sorted(known))}"
            raise ValueError(f"unknown {field} {bad[0]!r}{hint}")
        return FieldIn(field, frozenset(items))

    return parse


def _free(field: str) -> Callable[[Any], Condition]:
    return lambda v: FieldIn(field, frozenset(_strings(v, field)))


def _encrypted(v: Any) -> Condition:
    if not isinstance(v, bool):
        raise ValueError("'encrypted' must be true or false")
    return EncryptedIs(v)


def _host(side: str) -> Callable[[Any], Condition]:
    def parse(v: Any) -> Condition:
        names: set[str] = set()
        nets: list[Network] = []
        for item in _strings(v, f"{side}_host"):
            if "/" in item:
                try:
                    nets.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    raise ValueError(f"{item!r} is not a network in CIDR notation") from None
            else:
                names.add(item)
        return HostIn(side, frozenset(names), tuple(nets))

    return parse


def _port(side: str) -> Callable[[Any], Condition]:
    def parse(v: Any) -> Condition:
        items = [v] if not isinstance(v, list) else v
        ok = all(isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in items)
        if not items or not ok:
            raise ValueError(f"'{side}_port' must be a port (1-65535) or a list of ports")
        return PortIn(side, frozenset(items))

    return parse


def _attributes(v: Any) -> Condition:
    if not isinstance(v, dict) or not v:
        raise ValueError("'attributes' must map attribute names to a value or a list of values")
    expected = []
    for name, want in v.items():
        items = want if isinstance(want, list) else [want]
        if not items or not all(isinstance(i, Scalar) for i in items):
            raise ValueError(f"attribute {name!r} must be a scalar or a list of scalars")
        expected.append((str(name), frozenset(_norm(i) for i in items)))
    return AttributesMatch(tuple(expected))


def _flow_choice(path: str, known: Callable[[], tuple[str, ...]]) -> Callable[[Any], Condition]:
    def parse(v: Any) -> Condition:
        items = _strings(v, path)
        allowed = known()
        bad = [i for i in items if allowed and i not in allowed]
        if bad:
            close = difflib.get_close_matches(bad[0], allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(allowed)}"
            raise ValueError(f"unknown value {bad[0]!r}{hint}")
        return FlowIn(path, frozenset(items))

    return parse


def _vocab(name: str) -> Callable[[], tuple[str, ...]]:
    """Lazily read a context vocabulary (context imports conditions' siblings; avoid a cycle)."""

    def get() -> tuple[str, ...]:
        from stream.policy import context

        if name == "crossing":
            zones = (*context.ZONES, context.UNKNOWN)
            return tuple(f"{a}->{b}" for a in zones for b in zones)
        if name == "forms":
            return tuple(context.OPENING_FORMS)
        return tuple(getattr(context, name)) + ((context.UNKNOWN,) if name in ("ROLES", "ZONES") else ())

    return get


def _crosses(v: Any) -> Condition:
    if not isinstance(v, bool):
        raise ValueError("'crosses_zone' must be true or false")
    return CrossesZone(v)


#: YAML key -> parser. One line registers a new condition.
CONDITIONS: dict[str, Callable[[Any], Condition]] = {
    "channel": _choice("channel", CHANNELS),
    "source_kind": _choice("source_kind", frozenset(k.value for k in SourceKind)),
    "encrypted": _encrypted,
    "sensor_id": _free("sensor_id"),
    "actor": _free("actor"),
    "device": _free("device"),
    "src_host": _host("src"),
    "dst_host": _host("dst"),
    "src_port": _port("src"),
    "dst_port": _port("dst"),
    "attributes": _attributes,
    # facts of the flow resolved against the context (stream/policy/context.py)
    "scenario": _flow_choice("scenario", _vocab("SCENARIOS")),
    "src_role": _flow_choice("src.role", _vocab("ROLES")),
    "dst_role": _flow_choice("dst.role", _vocab("ROLES")),
    "src_zone": _flow_choice("src.zone", _vocab("ZONES")),
    "dst_zone": _flow_choice("dst.zone", _vocab("ZONES")),
    "src_asset": _flow_choice("src.asset", lambda: ()),
    "dst_asset": _flow_choice("dst.asset", lambda: ()),
    "opening_form": _flow_choice("dst.opening_form", _vocab("forms")),
    "sharing": _flow_choice("dst.sharing", _vocab("SHARING")),
    "crossing": _flow_choice("crossing", _vocab("crossing")),
    "crosses_zone": _crosses,
}


def parse_match(node: Any, loc: str, key: str) -> tuple[Match, list[ConfigIssue]]:
    """Parse a ``match`` or ``unless`` block; every bad key or value is reported with its line."""
    if not isinstance(node, dict):
        msg = f"{key!r} must be a mapping of conditions ({', '.join(CONDITIONS)})"
        return Match(), [ConfigIssue(loc, msg)]
    issues: list[ConfigIssue] = []
    conds: list[Condition] = []
    for name, value in node.items():
        parser = CONDITIONS.get(name)
        if parser is None:
            issues.append(ConfigIssue(where(node, name, loc), unknown_key_message(name, CONDITIONS)))
            continue
        try:
            conds.append(parser(value))
        except ValueError as e:
            issues.append(ConfigIssue(where(node, name, loc), f"{key}.{name}: {e}"))
    return Match(tuple(conds)), issues
