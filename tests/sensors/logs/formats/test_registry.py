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
        ([b'10.0.0.5 - - [1/Apr/2014:00:00:01 -0500] "POST /wp-admin HTTP/1.1" 200 181 "-" "Mozilla/5.0"'],
         "access-log"),
        ([b'{"remote_addr":"10.0.0.5","request":"GET /fhir/Patient/7 HTTP/1.1","status":200}'], "access-log"),
        ([b'type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=257 success=yes exit=3'], "auditd"),
        ([b'Nov 25 09:00:00 ws audispd: node=ws type=PATH msg=audit(1700000000.1:42): item=0 name="/x"'], "auditd"),
        ([b"2024-11-25 09:00:00.123 CST [77] LOG:  connection received: host=10.0.0.5 port=50000",
          b"2024-11-25 09:00:01.001 CST [77] LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,select 1,<not logged>"],
         "pgaudit"),
        ([b"[", b"  {", b'    "timestamp": "2019-10-03 13:50:01",', b'    "class": "general",'], "mysql-audit"),
        ([b'{"audit_record":{"name":"Query","sqltext":"select 1","timestamp":"2024-11-25T01:00:00Z"}}'],
         "mysql-audit"),
        ([b"time,user,client,database,statement,rows", b"2024-11-25T09:00:00Z,alice,10.0.0.5,his,select 1,1"],
         "sql-audit-csv"),
        ([b"20241125 09:00:00,db1,alice,10.0.0.5,12,34,QUERY,his,'select 1',0"], "sql-audit-csv"),
        (["访问时间,工号,医生姓名,科室,职称,终端IP,患者ID,住院号,患者姓名,操作类型".encode()], "his-audit"),
        ([b'{"account_id":"U1","patient_id":"P1","op":"report.view","time":"2024-11-25T21:14:03+08:00"}'],
         "his-audit"),
        ([b'{"winlog":{"event_id":11,"provider_name":"Microsoft-Windows-Sysmon","event_data":{}}}'],
         "windows-event"),
        ([b"ElfFile\x00\x00\x00binary"], "evtx"),
        ([b"", b"   "], UNKNOWN),
        ([b"{not json", b'{"a": 1}'], "jsonl"),
    ],
)
def test_detect_format(lines: list[bytes], expected: str) -> None:
    assert detect_format(lines) == expected


def test_registry_is_explicit_and_complete() -> None:
    assert set(FORMATS) == {"jsonl", "usb-kernel", "file-copy", "auditd", "windows-event", "evtx", "access-log",
                            "pgaudit", "mysql-audit", "sql-audit-csv", "his-audit"}
    for name in FORMATS:
        assert make_parser(name, LogsConfig()).name == name
    with pytest.raises(ValueError, match="unknown log format"):
        make_parser("csv", LogsConfig())
