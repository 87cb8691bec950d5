"""A small, safe XML reader for FHIR XML and CDA that keeps offsets.

Why not ``xml.etree``: it does not report offsets, and a general XML parser on untrusted traffic
invites entity-expansion attacks. This reader never expands entities (only the five predefined
ones and character references, via ``html.unescape``), skips DOCTYPE, comments and processing
instructions, bounds depth, and tolerates sloppy nesting instead of failing the whole payload.
Namespaces are dropped (local names only): FHIR and CDA payloads use one default namespace.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field

import regex

from detectors.structured.jsonpos import Leaf

_TOKEN = regex.compile(
    r"<!--.*?-->|<!\[CDATA\[(?P<cdata>.*?)\]\]>|<\?.*?\?>|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>"
    r"|</(?P<end>[\w:.-]+)\s*>"
    r"|<(?P<start>[\w:.-]+)(?P<attrs>(?:\s+[\w:.-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*(?P<empty>/?)>",
    regex.S,
)
_ATTR = regex.compile(r"([\w:.-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
MAX_DEPTH = 256


class XmlPosError(ValueError):
    pass


@dataclass(slots=True)
class Elem:
    tag: str  # local name
    start: int
    attrs: dict[str, Leaf] = field(default_factory=dict)
    children: list[Elem] = field(default_factory=list)
    text: Leaf | None = None
    xmlns: str = ""

    def find(self, tag: str) -> Elem | None:
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list[Elem]:
        return [c for c in self.children if c.tag == tag]

    def iter(self) -> Iterator[Elem]:
        stack = [self]
        while stack:
            e = stack.pop()
            yield e
            stack.extend(reversed(e.children))

    def attr(self, name: str) -> str:
        a = self.attrs.get(name)
        return a.value if a else ""


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _text_leaf(text: str, s: int, e: int) -> Leaf | None:
    raw = text[s:e]
    stripped = raw.strip()
    if not stripped:
        return None
    lead = len(raw) - len(raw.lstrip())
    return Leaf(html.unescape(stripped), s + lead, s + lead + len(stripped))


def parse(text: str, pos: int = 0) -> Elem:
    """The root element of the document starting at ``pos``; XmlPosError if there is none."""
    stack: list[Elem] = []
    root: Elem | None = None
    last = pos
    for m in _TOKEN.finditer(text, pos):
        if stack and stack[-1].text is None and m.start() > last:
            stack[-1].text = _text_leaf(text, last, m.start())
        last = m.end()
        if m.group("cdata") is not None:
            if stack and stack[-1].text is None:
                stack[-1].text = Leaf(m.group("cdata").strip(), m.start("cdata"), m.end("cdata"))
            continue
        if m.group("end"):
            name = _local(m.group("end"))
            for i in range(len(stack) - 1, -1, -1):  # tolerate unclosed children
                if stack[i].tag == name:
                    del stack[i:]
                    break
            if not stack and root is not None:
                return root
            continue
        if not m.group("start"):
            continue  # comment, PI, doctype
        el = Elem(_local(m.group("start")), m.start())
        base = m.start("attrs")
        for a in _ATTR.finditer(m.group("attrs")):
            g = 2 if a.group(2) is not None else 3
            name = a.group(1)
            if name == "xmlns":
                el.xmlns = a.group(g)
            el.attrs[_local(name)] = Leaf(html.unescape(a.group(g)), base + a.start(g), base + a.end(g))
        if stack:
            stack[-1].children.append(el)
        elif root is None:
            root = el
        else:
            break
        if not m.group("empty"):
            if len(stack) >= MAX_DEPTH:
                raise XmlPosError("too deep")
            stack.append(el)
        elif not stack:
            return el
    if root is None:
        raise XmlPosError("no root element")
    return root


def root_tag(head: str) -> tuple[str, str]:
    """(local name, default namespace) of the first element in ``head``, without a full parse."""
    for m in _TOKEN.finditer(head):
        if m.group("start"):
            ns = ""
            for a in _ATTR.finditer(m.group("attrs")):
                if a.group(1) == "xmlns":
                    ns = a.group(2) if a.group(2) is not None else a.group(3)
            return _local(m.group("start")), ns
        if m.group("end"):
            break
    return "", ""
