"""The log formats, by name: an explicit registry (no discovery), plus auto-detection.

Adding a format = one module with a parser class (see base.LineParser) and one line here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from model.config import LogsConfig
from model.events import Event
from sensors.logs.formats.base import LineContext, LineParser, ParseError, StatelessParser
from sensors.logs.formats.file_copy import FileCopyParser
from sensors.logs.formats.jsonl import JsonlParser
from sensors.logs.formats.usb_kernel import UsbKernelParser, split_prefix

FORMATS: dict[str, Callable[[LogsConfig], LineParser]] = {
    "jsonl": JsonlParser,
    "usb-kernel": UsbKernelParser,
    "file-copy": FileCopyParser,
}

#: Lines auto-detection looks at (the first non-empty ones of a file).
DETECT_LINES = 20
UNKNOWN = "unknown"

_FILE_COPY_KEYS = frozenset({"dest_path", "path", "device"})
_KERNELISH = re.compile(
    r"^(?:usb |usb-storage |scsi |sd |xhci_hcd |ehci-pci |KERNEL\s*\[|UDEV\s*\[)"
)


def detect_format(lines: Sequence[bytes]) -> str:
    """The format of a file from its first non-empty lines.

    JSON objects carrying the file-copy keys -> "file-copy"; other JSON objects -> "jsonl";
    syslog/journal/dmesg/udev shaped text -> "usb-kernel"; anything else -> "unknown" (the
    sensor dead-letters such lines with reason "format-unknown" rather than guess).
    """
    votes = {"file-copy": 0, "jsonl": 0, "usb-kernel": 0}
    for raw in [ln for ln in lines if ln.strip()][:DETECT_LINES]:
        text = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
        if text.startswith("{"):
            try:
                rec = json.loads(text)
            except ValueError:
                continue
            if isinstance(rec, dict):
                votes["file-copy" if _FILE_COPY_KEYS <= rec.keys() else "jsonl"] += 1
            continue
        if _is_kernel_log(text):
            votes["usb-kernel"] += 1
    best = max(votes, key=lambda k: votes[k])
    if votes[best] == 0:
        return UNKNOWN
    if best == "jsonl" and votes["file-copy"]:
        return "file-copy" if votes["file-copy"] >= votes["jsonl"] else "jsonl"
    return best


def _is_kernel_log(text: str) -> bool:
    pre = split_prefix(text, 0.0)
    if pre is None:  # a syslog line of another program: still a syslog file
        return True
    return pre.msg != text or bool(_KERNELISH.match(text))


class UnknownFormatParser(StatelessParser):
    """A file whose format could not be detected: every line is kept as a dead letter."""

    name = UNKNOWN

    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        raise ParseError(
            "format-unknown",
            f"{ctx.where}: the file's format was not recognised; set logs.format to one of "
            f"{', '.join(FORMATS)}",
        )


def make_parser(name: str, cfg: LogsConfig) -> LineParser:
    if name == UNKNOWN:
        return UnknownFormatParser(cfg)
    try:
        factory = FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown log format {name!r}; known: {', '.join(FORMATS)}") from None
    return factory(cfg)


__all__ = ["FORMATS", "UNKNOWN", "LineContext", "LineParser", "ParseError", "detect_format", "make_parser"]
