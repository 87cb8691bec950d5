"""auditd: record parsing, event correlation by serial, removable-media writes, usbguard devices."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from model.config import LogsConfig
from sensors.logs import scan_log_file
from sensors.logs.formats.auditd import AuditdParser, parse_record
from sensors.logs.formats.base import LineContext, ParseError
from tests.sensors.logs.conftest import make_ctx, reasons


def hexs(s: str) -> str:
    return s.encode().hex().upper()


def write_group(serial: int, name: str, *, cwd: str = "/home/alice", syscall: str = "257", a2: str = "241",
                nametype: str = "CREATE", success: str = "yes", auid: str = "1000", ts: float = 1732497600.5,
                eoe: bool = True, enriched: str = "") -> list[str]:
    stamp = f"audit({ts:.3f}:{serial})"
    out = [
        f'type=SYSCALL msg={stamp}: arch=c000003e syscall={syscall} success={success} exit=3 a0=ffffff9c a1=55d1 '
        f'a2={a2} a3=1b6 items=2 ppid=4242 pid=4243 auid={auid} uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 '
        f'egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="cp" exe="/usr/bin/cp" key="removable"{enriched}',
        f'type=CWD msg={stamp}: cwd="{cwd}"',
        f'type=PATH msg={stamp}: item=0 name="{name.rsplit("/", 1)[0] or "/"}/" inode=2 dev=08:11 mode=040755 '
        'ouid=1000 ogid=1000 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0',
        f"type=PATH msg={stamp}: item=1 name={hexs(name) if ' ' in name else name} inode=12 dev=08:11 "
        f"mode=0100644 ouid=1000 ogid=1000 rdev=00:00 nametype={nametype} cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0",
        f"type=PROCTITLE msg={stamp}: proctitle={hexs('cp patients.csv /media/alice/KINGSTON/')}",
    ]
    if eoe:
        out.append(f"type=EOE msg={stamp}: ")
    return out


# -- must parse --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "line, rtype, serial, check",
    [
        ('type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 success=no exit=-13 comm="cat" '
         'exe="/bin/cat" key="sshd_config"', "SYSCALL", 24287, {"exe": "/bin/cat", "key": "sshd_config"}),
        ("node=ws-042 type=PATH msg=audit(1.0:7): item=0 name=2F6D656469612F612062 nametype=CREATE", "PATH", 7,
         {"name": "/media/a b"}),
        ("type=USER_LOGIN msg=audit(1.5:9): pid=1 uid=0 auid=1000 ses=2 msg='op=login acct=\"alice\" exe=\"/usr/sbin/"
         "sshd\" hostname=h addr=10.0.0.5 terminal=ssh res=success'", "USER_LOGIN", 9,
         {"op": "login", "acct": "alice", "addr": "10.0.0.5"}),
        ("Nov 25 09:00:00 ws audispd: node=ws type=EOE msg=audit(1732497600.500:11): ", "EOE", 11, {}),
        ("[ 12.5] audit: type=1400 audit(1481077308.360:529): apparmor=\"DENIED\" operation=\"open\"", "AVC", 529,
         {"apparmor": "DENIED"}),
        ('type=SYSCALL msg=audit(2.0:3): arch=c000003e syscall=257 success=yes key=(null)\x1dARCH=x86_64 '
         'SYSCALL=openat AUID="alice" UID="alice"', "SYSCALL", 3, {"key": "(null)"}),
    ],
)
def test_must_parse_records(line: str, rtype: str, serial: int, check: dict[str, str]) -> None:
    rec = parse_record(line)
    assert rec is not None and (rec.type, rec.serial) == (rtype, serial)
    for k, v in check.items():
        assert rec.fields[k] == v


def test_enriched_names_are_kept() -> None:
    rec = parse_record('type=SYSCALL msg=audit(2.0:3): syscall=257\x1dSYSCALL=openat AUID="alice"')
    assert rec is not None and rec.enriched == {"SYSCALL": "openat", "AUID": "alice"}


@pytest.mark.parametrize("line", ["type=SYSCALL msg=audit(oops): arch=1", "type=PATH audit(1.0:x): name=a"])
def test_must_dead_letter_audit_shaped_lines(line: str) -> None:
    with pytest.raises(ParseError) as e:
        AuditdParser(LogsConfig()).parse(line.encode(), make_ctx())
    assert e.value.reason == "audit-parse"


def test_non_audit_lines_are_not_ours() -> None:
    assert AuditdParser(LogsConfig()).parse(b"Nov 25 09:00:00 ws sshd[1]: Accepted key", make_ctx()) is None


# -- correlation ---------------------------------------------------------------------------------------
def run(lines: list[str], cfg: LogsConfig | None = None) -> tuple[list, Counter[str]]:
    cfg = cfg or LogsConfig(sample_files=False)
    p = AuditdParser(cfg)
    counters: Counter[str] = Counter()
    out = []
    for i, ln in enumerate(lines):
        ctx = LineContext("/var/log/audit/audit.log", i + 1, i * 100, "h", "s1", 1.0, counters)
        out += p.parse(ln.encode(), ctx) or []
    out += p.finish(LineContext("/var/log/audit/audit.log", 0, 0, "h", "s1", 1.0, counters))
    return out, counters


def test_write_under_a_removable_mount_is_one_usb_event() -> None:
    events, _ = run(write_group(101, "/media/alice/KINGSTON/patients.csv"))
    assert len(events) == 1
    ev = events[0]
    assert ev.channel == "usb" and ev.actor == "1000" and ev.device == "/media/alice/KINGSTON"
    a = ev.attributes
    assert a["path"] == "/media/alice/KINGSTON/patients.csv" and a["syscall"] == "openat"
    assert a["device_removable"] is True and a["exe"] == "/usr/bin/cp" and a["audit_key"] == "removable"
    assert a["proctitle"].startswith("cp patients.csv") and ev.observed_at == pytest.approx(1732497600.5)


def test_relative_name_resolved_with_cwd_and_hex_names_decoded() -> None:
    events, _ = run(write_group(7, "KINGSTON/a b.csv", cwd="/run/media/bob"))
    assert [e.attributes["path"] for e in events] == ["/run/media/bob/KINGSTON/a b.csv"]


def test_enriched_auid_name_is_the_actor() -> None:
    events, _ = run(write_group(8, "/media/u/S/x.csv", enriched='\x1dARCH=x86_64 SYSCALL=openat AUID="alice"'))
    assert events[0].actor == "alice" and events[0].attributes["auid_name"] == "alice"


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({"a2": "0", "nametype": "NORMAL"}, 0),  # openat O_RDONLY: a read, not a write
        ({"success": "no"}, 0),  # failed syscall
        ({"syscall": "82", "nametype": "NORMAL"}, 1),  # rename onto the stick
        ({"syscall": "85", "nametype": "NORMAL"}, 1),  # creat
    ],
)
def test_which_syscalls_count_as_writes(kw: dict[str, str], expected: int) -> None:
    events, _ = run(write_group(9, "/media/a/S/x.csv", **kw))
    assert len(events) == expected


def test_local_write_is_a_file_copy_event_not_removable() -> None:
    events, counters = run(write_group(10, "/home/alice/out.csv"))
    assert [(e.channel, e.attributes["device_removable"]) for e in events] == [("file-copy", False)]
    assert counters["audit-writes-not-removable"] == 1


def test_interleaved_groups_and_missing_eoe() -> None:
    a, b = write_group(201, "/media/a/S/1.csv"), write_group(202, "/media/a/S/2.csv", eoe=False, ts=1732497600.6)
    lines = [a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3], a[4], b[4], a[5]]
    late = write_group(300, "/home/x/y", ts=1732497700.0)  # 100 s later: b is complete without EOE
    events, counters = run(lines + late)
    assert [e.attributes["path"] for e in events][:2] == ["/media/a/S/1.csv", "/media/a/S/2.csv"]
    assert counters["audit-groups-without-eoe"] == 1
    # the event of a group is identified by its first record's line
    assert events[1].attributes["log_line"] == 2


def test_state_survives_a_restart_mid_group() -> None:
    lines = write_group(55, "/media/a/S/p.csv")
    cfg = LogsConfig(sample_files=False)
    p1 = AuditdParser(cfg)
    c: Counter[str] = Counter()
    for i, ln in enumerate(lines[:3]):
        assert p1.parse(ln.encode(), LineContext("f", i + 1, i * 10, "h", "s", 1.0, c)) == []
    state = p1.get_state()
    import json

    p2 = AuditdParser(cfg)
    p2.set_state(json.loads(json.dumps(state)))
    out = []
    for i, ln in enumerate(lines[3:], start=3):
        out += p2.parse(ln.encode(), LineContext("f", i + 1, i * 10, "h", "s", 1.0, c)) or []
    assert len(out) == 1 and out[0].attributes["log_line"] == 1


def test_pending_groups_are_bounded() -> None:
    cfg = LogsConfig(sample_files=False, max_pending_records=5)
    lines = [ln for s in range(20) for ln in write_group(s + 1, f"/media/a/S/{s}.csv", eoe=False)[:1]]
    _, counters = run(lines, cfg)
    assert counters["audit-groups-evicted"] == 15


def test_usbguard_device_insert_and_remove() -> None:
    rule = ('allow id 0781:5567 serial \\"4C530001230511115271\\" name \\"Cruzer Blade\\" hash \\"x\\" '
            'via-port \\"1-2\\" with-interface 08:06:50')
    base = ("type=USER_DEVICE msg=audit(1732497600.1:{n}): pid=1197 uid=0 auid=4294967295 ses=4294967295 "
            "msg='uid=0 pid=1197 op={op} device=/devices/pci0000:00/0000:00:14.0/usb1/1-2 device_rule=\"{rule}\" "
            "target={target} exe=\"/usr/sbin/usbguard-daemon\" hostname=? addr=? terminal=? res=success'")
    lines = [base.format(n=1, op="insert", rule=rule, target="allow"),
             base.format(n=2, op="remove", rule=rule, target="allow")]
    events, _ = run(lines)
    assert [e.attributes["action"] for e in events] == ["attach", "detach"]
    ev = events[0]
    assert ev.channel == "usb" and ev.device == "4C530001230511115271"
    assert (ev.attributes["vendor_id"], ev.attributes["product_id"], ev.attributes["product"]) == (
        "0781", "5567", "Cruzer Blade")
    assert ev.attributes["bus_path"] == "1-2" and ev.attributes["authorized"] is True


# -- sampling the written file -------------------------------------------------------------------------
def test_readable_file_is_sampled_and_its_records_counted(tmp_path: Path) -> None:
    stick = tmp_path / "media" / "alice" / "KINGSTON"
    stick.mkdir(parents=True)
    rows = "".join(f"P{i:04d},张{i},11010119900307{i:04d}\n" for i in range(300))
    (stick / "patients.csv").write_text("patient_id,name,id_card\n" + rows, encoding="utf-8")
    cfg = LogsConfig(removable_paths=(str(tmp_path / "media") + "/",), sample_bytes=1024)
    log = tmp_path / "audit.log"
    log.write_text("\n".join(write_group(5, str(stick / "patients.csv"))) + "\n")
    events, dead, stats = scan_log_file(str(log), cfg, "s1", fmt="auditd")
    assert dead == [] and len(events) == 1
    ev = events[0]
    assert ev.channel == "usb" and len(ev.content) == 1024 and ev.truncated
    assert ev.size == (stick / "patients.csv").stat().st_size
    a = ev.attributes
    assert a["sample_source"] == "file" and a["records_source"] == "sample"
    assert 0 < a["records"] < 300 and 250 <= a["records_estimated"] <= 350
    assert stats["file-sampled"] == 1


def test_fifo_named_in_a_log_is_never_opened(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "media" / "x" / "S" / "pipe.csv"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    cfg = LogsConfig(removable_paths=(str(tmp_path / "media") + "/",))
    events, _ = run(write_group(6, str(fifo)), cfg)
    assert len(events) == 1 and events[0].content == b"" and "sample_source" not in events[0].attributes


def test_scan_dead_letters_are_counted(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(b"type=SYSCALL msg=audit(bad): x=1\n" + "\n".join(write_group(1, "/media/a/S/x")).encode()
                    + b"\n\xff\xfe type=PATH msg=audit(1.0:2): name=a\n")
    events, dead, stats = scan_log_file(str(log), LogsConfig(sample_files=False), "s1")
    assert stats["format-detected.auditd"] == 1
    assert reasons(dead) == ["audit-parse", "encoding"] and len(events) == 1
