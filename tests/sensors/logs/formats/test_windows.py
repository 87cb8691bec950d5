"""Windows removable-media events as JSON (winlogbeat, NXLog, Wazuh) and EVTX files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.config import LogsConfig
from sensors.logs import scan_log_file
from sensors.logs.formats.base import ParseError
from sensors.logs.formats.evtx_file import EVTX_MAGIC, evtx_available
from sensors.logs.formats.windows import WindowsEventParser, parse_device_id
from tests.sensors.logs.conftest import make_ctx, reasons

CFG = LogsConfig(removable_paths=("E:\\", "/media/"))
TARGET = "E:\\exports\\oncology_q3.csv"


def winlogbeat(eid: int, data: dict[str, object], provider: str = "Microsoft-Windows-Sysmon",
               channel: str = "Microsoft-Windows-Sysmon/Operational") -> dict[str, object]:
    return {"@timestamp": "2024-11-25T01:20:11.250Z", "winlog": {
        "event_id": eid, "provider_name": provider, "channel": channel, "computer_name": "WS-ONC-042",
        "record_id": 18277, "event_data": data}}


def nxlog(eid: int, data: dict[str, object], source: str = "Microsoft-Windows-Sysmon",
          channel: str = "Microsoft-Windows-Sysmon/Operational") -> dict[str, object]:
    return {"EventTime": "2024-11-25 09:20:11", "Hostname": "WS-ONC-042", "EventID": eid, "SourceName": source,
            "Channel": channel, "RecordNumber": 18277, **data}


def wazuh(eid: int, data: dict[str, object]) -> dict[str, object]:
    return {"win": {"system": {"eventID": str(eid), "providerName": "Microsoft-Windows-Sysmon",
                               "channel": "Microsoft-Windows-Sysmon/Operational", "computer": "WS-ONC-042",
                               "systemTime": "2024-11-25T01:20:11.3002205Z", "eventRecordID": "18277"},
                    "eventdata": {k[0].lower() + k[1:]: v for k, v in data.items()}}}


SYSMON11 = {"RuleName": "-", "UtcTime": "2024-11-25 01:20:11.250", "ProcessId": "6988",
            "Image": "C:\\Windows\\explorer.exe", "TargetFilename": TARGET, "User": "CORP\\zhang.wei"}
DEVICE = {"SubjectUserName": "zhang.wei", "SubjectDomainName": "CORP",
          "DeviceId": "USBSTOR\\Disk&Ven_SanDisk&Prod_Cruzer_Blade&Rev_1.00\\4C530001230511115271&0",
          "DeviceDescription": "Disk drive", "ClassName": "DiskDrive"}


def parse(rec: dict[str, object], cfg: LogsConfig = CFG) -> list:  # type: ignore[type-arg]
    return WindowsEventParser(cfg).parse(json.dumps(rec).encode(), make_ctx()) or []


@pytest.mark.parametrize("shape", [winlogbeat, nxlog, wazuh])
def test_sysmon_filecreate_on_a_removable_drive_in_every_shape(shape: object) -> None:
    (ev,) = parse(shape(11, SYSMON11))  # type: ignore[operator]
    assert ev.channel == "usb" and ev.device == "E:\\"
    assert ev.attributes["path"] == TARGET and ev.attributes["device_removable"] is True
    assert ev.attributes["process"] == "C:\\Windows\\explorer.exe"
    assert ev.src is not None and ev.src.host == "WS-ONC-042"
    if shape is not wazuh:
        assert ev.actor == "CORP\\zhang.wei"


def test_filecreate_on_a_fixed_drive_is_file_copy_not_removable() -> None:
    (ev,) = parse(winlogbeat(11, {**SYSMON11, "TargetFilename": "C:\\Users\\z\\a.csv"}))
    assert ev.channel == "file-copy" and ev.attributes["device_removable"] is False
    assert ev.attributes["drive"] == "C:"


def test_6416_new_external_device() -> None:
    (ev,) = parse(winlogbeat(6416, DEVICE, provider="Microsoft-Windows-Security-Auditing", channel="Security"))
    a = ev.attributes
    assert ev.channel == "usb" and ev.device == "4C530001230511115271" and a["action"] == "attach"
    assert (a["vendor"], a["product"], a["mass_storage"]) == ("SanDisk", "Cruzer Blade", True)
    assert a["subject_user"] == "CORP\\zhang.wei"


@pytest.mark.parametrize(
    "device_id, expected",
    [
        ("USB\\VID_0781&PID_5567\\4C530001230511115271", ("0781", "5567", "4C530001230511115271")),
        ("USBSTOR\\Disk&Ven_Kingston&Prod_DT&Rev_1.0\\0019E06B&0", ("", "", "0019E06B")),
        ("SWD\\WPDBUSENUM\\_??_USBSTOR#Disk&Ven_X", ("", "", "")),
    ],
)
def test_device_ids(device_id: str, expected: tuple[str, str, str]) -> None:
    d = parse_device_id(device_id)
    assert (d["vendor_id"], d["product_id"], d["serial"]) == expected


def test_4663_write_to_removable_storage() -> None:
    data = {"SubjectUserName": "li.na", "SubjectDomainName": "CORP", "ObjectType": "File",
            "ObjectName": "E:\\lis\\results.csv", "AccessList": "%%4417", "AccessMask": "0x2",
            "ProcessName": "C:\\Windows\\System32\\robocopy.exe"}
    (ev,) = parse(nxlog(4663, data, source="Microsoft-Windows-Security-Auditing", channel="Security"))
    assert ev.channel == "usb" and ev.actor == "CORP\\li.na" and ev.attributes["action"] == "write"
    read = {**data, "AccessList": "%%4416", "AccessMask": "0x1"}
    assert parse(nxlog(4663, read, source="Microsoft-Windows-Security-Auditing", channel="Security")) == []


def test_other_event_ids_are_not_ours() -> None:
    assert WindowsEventParser(CFG).parse(json.dumps(winlogbeat(1, {"Image": "x"})).encode(), make_ctx()) is None


@pytest.mark.parametrize(
    "line, reason",
    [
        (json.dumps(winlogbeat(11, {"Image": "x"})), "field-missing"),
        (json.dumps(winlogbeat(6416, {"ClassName": "USB"}, provider="", channel="Security")), "field-missing"),
        (json.dumps({"winlog": {"event_id": "eleven", "channel": "x"}}), "field-value"),
        ('{"winlog": ', "json-invalid"),
    ],
)
def test_must_dead_letter(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as e:
        WindowsEventParser(CFG).parse(line.encode(), make_ctx())
    assert e.value.reason == reason


def test_scan_file_detects_and_counts(tmp_path: Path) -> None:
    log = tmp_path / "sysmon.json"
    lines = [winlogbeat(11, SYSMON11), winlogbeat(1, {"Image": "x"}), winlogbeat(11, {"Image": "x"})]
    log.write_text("".join(json.dumps(r) + "\n" for r in lines))
    events, dead, stats = scan_log_file(str(log), CFG, "s1")
    assert stats["format-detected.windows-event"] == 1 and stats["lines-ignored"] == 1
    assert len(events) == 1 and reasons(dead) == ["field-missing"]


def test_evtx_library_is_installed() -> None:
    assert evtx_available()  # pyproject: evtx (Rust bindings); the EVTX path must not silently degrade


def test_a_corrupt_evtx_file_is_dead_lettered_not_fatal(tmp_path: Path) -> None:
    bad = tmp_path / "broken.evtx"
    bad.write_bytes(EVTX_MAGIC + b"\x00" * 4000 + b"\n" + b"garbage")
    events, dead, stats = scan_log_file(str(bad), LogsConfig(), "s1")
    assert events == [] and stats["format-detected.evtx"] == 1
    assert dead and all(d.reason == "evtx-record" for d in dead)


SAMPLES = Path("/work/shared/corpora/evtx-attack-samples-sysmon")


@pytest.mark.skipif(not SAMPLES.exists(), reason="third-party EVTX samples are not on this machine")
def test_real_sysmon_evtx_files_parse() -> None:  # ad-hoc check on the shared corpus; never copied
    files = sorted(SAMPLES.rglob("*.evtx"))[:10]
    total = 0
    for f in files:
        events, dead, stats = scan_log_file(str(f), LogsConfig(), "s1")
        assert not dead, f
        total += stats.get("evtx-records", 0)
        ids = [e.event_id for e in events]
        assert len(ids) == len(set(ids))
    assert total > 100


# -- EVTX from generated files ------------------------------------------------------------------------
def sysmon11(i: int) -> tuple[int, int, dict[str, str]]:
    return (i, 11, {"UtcTime": "2024-11-25 01:20:11.250", "Image": "C:\\Windows\\explorer.exe",
                    "TargetFilename": f"E:\\exports\\f{i}.csv", "User": "CORP\\zhang.wei"})


def test_generated_evtx_is_detected_and_mapped(tmp_path: Path) -> None:
    from tests.sensors.logs.evtx_writer import build_evtx

    f = tmp_path / "Sysmon.evtx"
    f.write_bytes(build_evtx([sysmon11(1), (2, 1, {"Image": "C:\\x.exe"}), sysmon11(3), (4, 11, {"Image": "y"})]))
    events, dead, stats = scan_log_file(str(f), CFG, "s1")
    assert stats["format-detected.evtx"] == 1 and stats["evtx-records"] == 4
    assert [e.attributes["path"] for e in events] == ["E:\\exports\\f1.csv", "E:\\exports\\f3.csv"]
    assert all(e.channel == "usb" and e.actor == "CORP\\zhang.wei" for e in events)
    assert [e.attributes["evtx_record"] for e in events] == [1, 3]
    assert reasons(dead) == ["field-missing"]  # record 4: FileCreate without TargetFilename
    again, _, _ = scan_log_file(str(f), CFG, "s1")
    assert [e.event_id for e in again] == [e.event_id for e in events]  # deterministic ids


def test_followed_evtx_emits_only_new_records_across_rewrites_and_restarts(tmp_path: Path) -> None:
    from sensors.logs import LogSensor
    from sensors.sink import ListSink
    from tests.sensors.logs.evtx_writer import build_evtx

    logs = tmp_path / "logs"
    logs.mkdir()
    f = logs / "Sysmon.evtx"
    f.write_bytes(build_evtx([sysmon11(i) for i in range(1, 4)]))
    cfg = LogsConfig(paths=(str(logs / "*.evtx"),), checkpoint_dir=str(tmp_path / "ckpt"),
                     removable_paths=("E:\\",))
    sink = ListSink()
    s = LogSensor(cfg, "s1", sink)
    s.run_once()
    assert [e.attributes["evtx_record"] for e in sink.events] == [1, 2, 3]
    with f.open("r+b") as fh:  # Windows rewrites the chunk in place as the log grows
        fh.write(build_evtx([sysmon11(i) for i in range(1, 6)]))
    s.run_once()
    assert [e.attributes["evtx_record"] for e in sink.events] == [1, 2, 3, 4, 5]
    s.close()
    sink2 = ListSink()
    s2 = LogSensor(cfg, "s1", sink2)  # restart: the checkpoint's last record id holds
    s2.run_once()
    assert sink2.events == []
    s2.close()
