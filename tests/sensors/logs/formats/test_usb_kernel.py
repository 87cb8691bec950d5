from __future__ import annotations

import time
from collections import Counter
from datetime import datetime

import pytest

from model.config import LogsConfig
from model.events import Event
from sensors.logs.formats.base import LineContext, ParseError
from sensors.logs.formats.usb_kernel import UsbKernelParser

MTIME = datetime(2024, 11, 25, 12, 0, 0).timestamp()  # local time, like syslog

# A real attach/detach sequence of a SanDisk stick, as the kernel logs it (dmesg).
DMESG = """\
[ 5012.345678] usb 1-1: new high-speed USB device number 5 using xhci_hcd
[ 5012.496789] usb 1-1: New USB device found, idVendor=0781, idProduct=5567, bcdDevice= 1.00
[ 5012.496795] usb 1-1: New USB device strings: Mfr=1, Product=2, SerialNumber=3
[ 5012.496798] usb 1-1: Product: Cruzer Blade
[ 5012.496800] usb 1-1: Manufacturer: SanDisk
[ 5012.496802] usb 1-1: SerialNumber: 4C530001230511115271
[ 5012.497890] usb-storage 1-1:1.0: USB Mass Storage device detected
[ 5012.498012] scsi host6: usb-storage 1-1:1.0
[ 5012.498500] usbcore: registered new interface driver usb-storage
[ 5013.512345] scsi 6:0:0:0: Direct-Access     SanDisk  Cruzer Blade     1.00 PQ: 0 ANSI: 6
[ 5013.512890] sd 6:0:0:0: Attached scsi generic sg1 type 0
[ 5013.513456] sd 6:0:0:0: [sdb] 30031872 512-byte logical blocks: (15.4 GB/14.3 GiB)
[ 5013.513789] sd 6:0:0:0: [sdb] Write Protect is off
[ 5013.520123]  sdb: sdb1
[ 5013.521234] sd 6:0:0:0: [sdb] Attached SCSI removable disk
[ 5020.000001] usb 2-1: new full-speed USB device number 3 using xhci_hcd
[ 5020.100000] usb 2-1: New USB device found, idVendor=046d, idProduct=c52b, bcdDevice=12.11
[ 5020.100002] usb 2-1: Product: USB Receiver
[ 5020.100004] usb 2-1: Manufacturer: Logitech
[ 5100.123456] usb 1-1: USB disconnect, device number 5
[ 5101.000000] usb 2-1: USB disconnect, device number 3
"""


def feed(text: str, parser: UsbKernelParser | None = None, mtime: float = MTIME
         ) -> tuple[list[Event], Counter[str], int]:
    p = parser or UsbKernelParser(LogsConfig())
    counters: Counter[str] = Counter()
    events: list[Event] = []
    ignored = 0
    offset = 0
    for n, line in enumerate(text.splitlines(), 1):
        ctx = LineContext("/var/log/kern.log", n, offset, "head", "s1", mtime, counters)
        got = p.parse(line.encode(), ctx)
        if got is None:
            ignored += 1
        else:
            events.extend(got)
        offset += len(line) + 1
    return events, counters, ignored


def test_dmesg_attach_and_detach_of_mass_storage_only() -> None:
    events, counters, ignored = feed(DMESG)
    assert [e.attributes["action"] for e in events] == ["attach", "detach"]
    attach, detach = events
    assert attach.channel == detach.channel == "usb"
    assert attach.source_kind == "log"
    assert attach.device == "4C530001230511115271"
    a = attach.attributes
    assert (a["vendor"], a["product"], a["serial"], a["block_device"]) == (
        "SanDisk", "Cruzer Blade", "4C530001230511115271", "sdb")
    assert (a["vendor_id"], a["product_id"], a["bus_path"], a["removable"], a["complete"]) == (
        "0781", "5567", "1-1", True, True)
    assert a["kernel_time"] == pytest.approx(5013.521234)
    assert attach.observed_at == MTIME  # monotonic stamps are not wall time: file mtime
    assert counters["ts-fallback"] == 2
    assert detach.attributes["block_device"] == "sdb" and detach.device == attach.device
    assert attach.event_id != detach.event_id
    assert ignored >= 4  # usbcore, scsi 6:0:0:0, sd generic / capacity lines, " sdb: sdb1"


SYSLOG = """\
Nov 25 09:14:58 ws-onc-042 systemd[1]: Started Session 4 of user zhang.wei.
Nov 25 09:15:01 ws-onc-042 kernel: [ 5012.345678] usb 1-1: new high-speed USB device number 5 using xhci_hcd
Nov 25 09:15:01 ws-onc-042 kernel: [ 5012.496789] usb 1-1: New USB device found, idVendor=0781, \
idProduct=5567, bcdDevice= 1.00
Nov 25 09:15:01 ws-onc-042 kernel: [ 5012.496800] usb 1-1: Manufacturer: SanDisk
Nov 25 09:15:01 ws-onc-042 kernel: [ 5012.496802] usb 1-1: SerialNumber: 4C530001230511115271
Nov 25 09:15:01 ws-onc-042 kernel: [ 5012.497890] usb-storage 1-1:1.0: USB Mass Storage device detected
Nov 25 09:15:01 ws-onc-042 kernel: [ 5012.498012] scsi host6: usb-storage 1-1:1.0
Nov 25 09:15:01 ws-onc-042 sudo[4411]: zhang.wei : TTY=pts/0 ; PWD=/home ; USER=root ; COMMAND=/bin/mount
Nov 25 09:15:02 ws-onc-042 kernel: [ 5013.521234] sd 6:0:0:0: [sdb] Attached SCSI removable disk
Nov 25 09:16:40 ws-onc-042 kernel: [ 5100.123456] usb 1-1: USB disconnect, device number 5
"""


def test_syslog_prefix_gives_wall_time_and_host_other_programs_ignored() -> None:
    events, counters, ignored = feed(SYSLOG)
    assert [e.attributes["action"] for e in events] == ["attach", "detach"]
    assert events[0].observed_at == datetime(2024, 11, 25, 9, 15, 2).timestamp()
    assert events[1].observed_at == datetime(2024, 11, 25, 9, 16, 40).timestamp()
    assert events[0].attributes["host"] == "ws-onc-042"
    assert events[0].src is not None and events[0].src.host == "ws-onc-042"
    assert ignored == 2 and counters["ts-fallback"] == 0


def test_december_line_read_in_january_is_last_year() -> None:
    jan = datetime(2025, 1, 2, 8, 0, 0).timestamp()
    text = SYSLOG.replace("Nov 25", "Dec 31")
    events, _, _ = feed(text, mtime=jan)
    assert events[0].observed_at == datetime(2024, 12, 31, 9, 15, 2).timestamp()


@pytest.mark.parametrize(
    "prefix, expected",
    [
        ("[Mon Nov 25 09:15:02 2024] ", datetime(2024, 11, 25, 9, 15, 2).timestamp()),  # dmesg -T
        ("2024-11-25T09:15:02.250000+08:00 ws-onc-042 kernel: ",
         datetime.fromisoformat("2024-11-25T09:15:02.25+08:00").timestamp()),  # rsyslog RFC 3339
        ("2024-11-25T09:15:02+0800 ws-onc-042 kernel: ",
         datetime.fromisoformat("2024-11-25T09:15:02+08:00").timestamp()),  # journalctl -o short-iso
        ("Nov 25 09:15:02.123456 ws-onc-042 kernel: ",
         datetime(2024, 11, 25, 9, 15, 2, 123456).timestamp()),  # journalctl -o short-precise
        ("[ 5013.521234] ws-onc-042 kernel: ", MTIME),  # journalctl -o short-monotonic
        ("<6>[ 5013.521234] ", MTIME),  # dmesg -r
        ("kern  :info  : [ 5013.521234] ", MTIME),  # dmesg -x
    ],
)
def test_timestamp_prefixes(prefix: str, expected: float) -> None:
    text = "\n".join(prefix + ln.split("] ", 1)[1] for ln in DMESG.splitlines())
    events, _, _ = feed(text)
    assert [e.attributes["action"] for e in events] == ["attach", "detach"]
    assert events[0].observed_at == pytest.approx(expected)


USB = "/devices/pci0000:00/0000:00:14.0/usb1/1-1"
SCSI = USB + "/1-1:1.0/host6/target6:0:0/6:0:0:0"
UDEV = f"""\
monitor will print the received events for:
KERNEL - the kernel uevent

KERNEL[5012.498512] add      {USB} (usb)
KERNEL[5012.499012] add      {USB}/1-1:1.0 (usb)
KERNEL[5012.499312] add      {USB}/1-1:1.0/host6 (scsi)
KERNEL[5013.512001] add      {SCSI} (scsi)
KERNEL[5013.520500] add      {SCSI}/block/sdb (block)
KERNEL[5013.520700] add      {SCSI}/block/sdb/sdb1 (block)
KERNEL[5100.123000] remove   {SCSI}/block/sdb/sdb1 (block)
KERNEL[5100.123456] remove   {USB} (usb)
"""


def test_udevadm_monitor_headers() -> None:
    events, _, _ = feed(UDEV)
    assert [(e.attributes["action"], e.attributes["block_device"]) for e in events] == [
        ("attach", "sdb"), ("detach", "sdb")]
    assert events[0].attributes["bus_path"] == "1-1"


UDEV_PROPS = f"""\
UDEV  [5012.601000] add      {USB} (usb)
ACTION=add
DEVPATH={USB}
SUBSYSTEM=usb
DEVTYPE=usb_device
PRODUCT=781/5567/100
ID_VENDOR=SanDisk
ID_MODEL=Cruzer_Blade
ID_SERIAL_SHORT=4C530001230511115271

UDEV  [5013.601000] add      {SCSI}/block/sdb (block)
ACTION=add
SUBSYSTEM=block
DEVNAME=/dev/sdb
DEVTYPE=disk
ID_BUS=usb
ID_DRIVE_REMOVABLE=1

UDEV  [5100.200000] remove   {USB} (usb)
ACTION=remove

"""


def test_udevadm_monitor_property_blocks() -> None:
    events, _, _ = feed(UDEV_PROPS)
    assert [e.attributes["action"] for e in events] == ["attach", "detach"]
    a = events[0].attributes
    assert (a["vendor_id"], a["product_id"], a["vendor"], a["product"], a["serial"], a["removable"]) == (
        "0781", "5567", "SanDisk", "Cruzer Blade", "4C530001230511115271", True)
    assert events[0].device == "4C530001230511115271"
    # the attach is built from the header line, whatever line completed the property block
    assert events[0].attributes["log_line"] == 11


def test_uas_disk_and_non_removable_usb_disk() -> None:
    text = """\
[  100.1] usb 2-1: new SuperSpeed Gen 1 USB device number 2 using xhci_hcd
[  100.2] usb 2-1: New USB device found, idVendor=152d, idProduct=0578, bcdDevice= 2.04
[  100.3] usb 2-1: SerialNumber: 0000000000001C
[  100.4] scsi host7: uas
[  101.0] sd 7:0:0:0: [sdc] Attached SCSI disk
[  101.5] sd 0:0:0:0: [sda] Attached SCSI disk
[  200.0] usb 2-1: USB disconnect, device number 2
"""
    events, _, _ = feed(text)
    assert [(e.attributes["action"], e.attributes["block_device"]) for e in events] == [
        ("attach", "sdc"), ("detach", "sdc")]
    assert events[0].attributes["removable"] is False and events[0].device == "0000000000001C"


def test_device_without_serial_is_named_by_ids() -> None:
    text = "\n".join(ln for ln in DMESG.splitlines() if "SerialNumber" not in ln)
    events, _, _ = feed(text)
    assert events[0].device == "0781:5567"


def test_storage_without_block_device_still_reported_at_detach() -> None:
    text = "\n".join(ln for ln in DMESG.splitlines() if "Attached SCSI" not in ln)
    events, counters, _ = feed(text)
    assert [e.attributes["action"] for e in events] == ["attach", "detach"]
    assert events[0].attributes["complete"] is False and counters["usb-attach-incomplete"] == 1


def test_state_survives_a_checkpoint_mid_sequence() -> None:
    lines = DMESG.splitlines()
    first = UsbKernelParser(LogsConfig())
    feed("\n".join(lines[:9]), first)
    second = UsbKernelParser(LogsConfig())
    second.set_state(first.get_state())
    events, _, _ = feed("\n".join(lines[9:]), second)
    assert [e.attributes["action"] for e in events] == ["attach", "detach"]
    assert events[0].attributes["serial"] == "4C530001230511115271"


@pytest.mark.parametrize(
    "line, reason",
    [
        ("[ 1.0] usb 1-1: New USB device found, idVendor=zz81, idProduct=5567", "usb-parse"),
        ("[ 1.0] usb 1-1: New USB device found, idProduct=5567", "usb-parse"),
        ("[ 1.0] usb 1-1: USB disconnect, device number five", "usb-parse"),
        ("[ 1.0] usb 1-1: new high-speed USB device number using xhci_hcd", "usb-parse"),
        ("[ 1.0] usb-storage 1-1: USB Mass Storage device detected", "usb-parse"),
        ("[ 1.0] usb x-y: Product: Cruzer", "usb-parse"),
        ("[ 1.0] sd 6:0:0:0: Attached SCSI removable disk", "usb-parse"),
        ("KERNEL[5012.4] add (usb)", "udev-parse"),
        ("UDEV [abc] add /devices/x (usb)", "udev-parse"),
    ],
)
def test_must_dead_letter(line: str, reason: str) -> None:
    ctx = LineContext("/var/log/kern.log", 3, 0, "h", "s1", MTIME, Counter())
    with pytest.raises(ParseError) as e:
        UsbKernelParser(LogsConfig()).parse(line.encode(), ctx)
    assert e.value.reason == reason and "/var/log/kern.log:3" in e.value.detail


def test_undecodable_usb_line_is_encoding_dead_letter_other_binary_ignored() -> None:
    ctx = LineContext("/k.log", 1, 0, "h", "s1", MTIME, Counter())
    p = UsbKernelParser(LogsConfig())
    with pytest.raises(ParseError) as e:
        p.parse(b"[ 1.0] usb 1-1: Product: Cru\xffzer", ctx)
    assert e.value.reason == "encoding"
    assert p.parse(b"[ 1.0] ata1: \xff\xfe garbage", ctx) is None


@pytest.mark.parametrize(
    "line",
    [
        "Nov 25 09:14:58 ws-onc-042 systemd[1]: usb 1-1: New USB device found, idVendor=zz",  # not the kernel
        "[ 1.0] usb usb1: New USB device found, idVendor=1d6b, idProduct=0002, bcdDevice= 6.01",  # root hub
        "[ 1.0] usb 1-1: reset high-speed USB device number 5 using xhci_hcd",
        "[ 1.0] usb 1-1: USB disconnect, device number 9",  # unknown device
        "[ 1.0] EXT4-fs (sdb1): mounted filesystem with ordered data mode",
        "KERNEL - the kernel uevent",
    ],
)
def test_must_not_emit_nor_dead_letter(line: str) -> None:
    events, _, _ = feed(line)
    assert events == []


def test_parsing_speed_sanity() -> None:
    # not a benchmark: guards against a pathological regex (whole syslog files go through this)
    text = SYSLOG * 200
    t0 = time.perf_counter()
    events, _, _ = feed(text)
    assert len(events) == 400
    assert time.perf_counter() - t0 < 5
