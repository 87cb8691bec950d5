from __future__ import annotations

import pytest

from model.config import LogsConfig
from sensors.logs.formats import FORMATS, UNKNOWN, detect_format, make_parser


@pytest.mark.parametrize(
    "lines, expected",
    [
        ([b'{"ts": 1, "user": "a", "message": "x"}'], "jsonl"),
        ([b"", b'  {"@timestamp": "2024-11-25T00:00:00Z"}'], "jsonl"),
        ([b'{"ts":1,"user":"u","host":"h","path":"a","dest_path":"b","size":1,"device":{"bus":"usb"}}'],
         "file-copy"),
        ([b"[ 5012.345678] usb 1-1: new high-speed USB device number 5 using xhci_hcd"], "usb-kernel"),
        ([b"[Mon Nov 25 09:15:02 2024] usb 1-1: USB disconnect, device number 5"], "usb-kernel"),
        ([b"Nov 25 09:14:58 ws-onc-042 systemd[1]: Started Session 4."], "usb-kernel"),
        ([b"2024-11-25T09:15:02+0800 ws kernel: usb 1-1: Product: X"], "usb-kernel"),
        ([b"KERNEL[5012.498512] add      /devices/pci0000:00/usb1/1-1 (usb)"], "usb-kernel"),
        ([b"usb 1-1: new high-speed USB device number 5 using xhci_hcd"], "usb-kernel"),  # dmesg -t
        ([b"GET /index.html HTTP/1.1 200", b"[INFO] started"], UNKNOWN),
        ([b"", b"   "], UNKNOWN),
        ([b"{not json", b'{"a": 1}'], "jsonl"),
    ],
)
def test_detect_format(lines: list[bytes], expected: str) -> None:
    assert detect_format(lines) == expected


def test_registry_is_explicit_and_complete() -> None:
    assert set(FORMATS) == {"jsonl", "usb-kernel", "file-copy"}
    for name in FORMATS:
        assert make_parser(name, LogsConfig()).name == name
    with pytest.raises(ValueError, match="unknown log format"):
        make_parser("csv", LogsConfig())
