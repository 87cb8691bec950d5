"""Hospital-system audit exports through YAML mappings: the two bundled formats and mapping validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.config import LogsConfig
from model.yamlsrc import ConfigError, load_yaml_text
from sensors.logs import scan_log_file
from sensors.logs.formats.his_audit import HisAuditParser, load_mappings, parse_mapping
from tests.sensors.logs.conftest import reasons

EMR_HEADER = "访问时间,工号,医生姓名,科室,职称,终端IP,患者ID,住院号,患者姓名,操作类型,病历类型,访问级别,记录数,授权方式"
EMR_ROWS = [
    "2024-11-25 08:31:02,D10023,李明,心内科,主治医师,10.12.3.41,P000381,ZY2024001234,王芳,查看,病程记录,摘要级,1,本科室",  # noqa: E501
    "2024-11-25 23:47:15,D10023,李明,心内科,主治医师,172.16.9.8,P000912,ZY2024007781,赵强,导出,出院小结,详细级,58,越权",
    "2024-11-25 23:48:00,D10023,李明,心内科,主治医师,172.16.9.8,P000913,ZY2024007782,钱七,打印,检验报告,详细级,,本科室",
]


def scan(tmp_path: Path, name: str, data: bytes, cfg: LogsConfig | None = None) -> tuple[list, list, dict]:  # type: ignore[type-arg]
    p = tmp_path / name
    p.write_bytes(data)
    return scan_log_file(str(p), cfg or LogsConfig(), "s1")


def test_bundled_mappings_load() -> None:
    assert {m.name for m in load_mappings()} == {"emr-doctor-access", "patient-portal-query"}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_emr_doctor_access_csv(tmp_path: Path, encoding: str) -> None:
    data = ("\n".join([EMR_HEADER, *EMR_ROWS]) + "\n").encode(encoding)
    events, dead, stats = scan(tmp_path, "emr_audit.csv", data)
    assert stats["format-detected.his-audit"] == 1 and dead == []
    view, export, printed = events
    assert view.channel == "his-audit" and view.actor == "D10023" and view.src.host == "10.12.3.41"
    a = view.attributes
    assert (a["action"], a["patient_ids"], a["records"], a["records_source"], a["department"], a["level"]) == (
        "view", ["P000381"], 1, "log", "心内科", "摘要级")
    assert a["authorization"] == "本科室" and a["mapping"] == "emr-doctor-access" and a["export"] is False
    assert view.content.decode().splitlines() == ["patient_id=P000381", "患者姓名: 王芳", "住院号: ZY2024001234"]
    assert view.observed_at == pytest.approx(1732494662.0)  # +08:00 from the mapping
    assert (export.attributes["action"], export.attributes["records"], export.attributes["export"]) == (
        "export", 58, True)
    assert printed.attributes["action"] == "print" and printed.attributes["records_source"] == "rows"


def test_patient_portal_json(tmp_path: Path) -> None:
    recs = [
        {"time": "2024-11-25T21:14:03+08:00", "account_id": "U700123", "mobile": "138****5678", "relation": "child",
         "patient_id": "P000381", "op": "report.download", "report_type": "lab", "report_date": "2024-06-01",
         "record_count": 3, "client_ip": "203.0.113.7", "app": "wechat-miniapp", "tls": "TLSv1.3"},
        {"time": "2024-11-25T21:15:00+08:00", "account_id": "U700123", "patient_id": "P000381", "op": "report.view"},
        {"time": "2024-11-25T21:15:00+08:00", "account_id": "U700123", "patient_id": "P1", "op": "weird.op"},
    ]
    events, dead, stats = scan(tmp_path, "portal.jsonl", "".join(json.dumps(r) + "\n" for r in recs).encode())
    assert stats["format-detected.his-audit"] == 1 and dead == []
    dl = events[0]
    a = dl.attributes
    assert (dl.actor, a["action"], a["records"], a["relation"], a["report_date"], a["terminal"]) == (
        "U700123", "download", 3, "child", "2024-06-01", "wechat-miniapp")
    assert a["export"] is True and a["mobile_masked"] == "138****5678"
    assert events[2].attributes["action"] == "view" and stats["his-action-unmapped"] == 1


def test_must_dead_letter(tmp_path: Path) -> None:
    rows = [EMR_HEADER,
            "2024-11-25 08:31:02,D1,a,b,c,10.0.0.1,P1,Z1,n,查看,x,y,1",  # one column short
            "2024-11-25 08:31:02,,a,b,c,10.0.0.1,P1,Z1,n,查看,x,y,1,z",  # no user
            "2024-11-25 08:31:02,D1,a,b,c,10.0.0.1,P1,Z1,n,查看,x,y,many,z",  # bad count
            "yesterday,D1,a,b,c,10.0.0.1,P1,Z1,n,查看,x,y,1,z"]  # bad time
    _, dead, _ = scan(tmp_path, "emr.csv", ("\n".join(rows) + "\n").encode())
    assert reasons(dead) == ["csv-columns", "field-missing", "field-value", "field-value"]


def test_unmatched_header_is_dead_lettered(tmp_path: Path) -> None:
    _, dead, _ = scan(tmp_path, "x.csv", "访问时间,工号,患者ID\n1,2,3\n".encode(), LogsConfig(format="his-audit"))
    assert reasons(dead)[0] == "mapping-unmatched"


def test_site_mapping_from_config(tmp_path: Path) -> None:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "pacs.yaml").write_text(
        "name: pacs-export\ninput: {type: csv}\nmatch: [UserID, PatientID, Action]\n"
        "fields: {user: UserID, patient_id: PatientID, action: Action, records: Images}\n"
        "actions: {EXPORT_DICOM: export, VIEW: view}\n", encoding="utf-8")
    cfg = LogsConfig(his_mappings=(str(tmp_path / "maps"),), format="his-audit")
    events, dead, _ = scan(tmp_path, "pacs.csv", b"UserID,PatientID,Action,Images\nr1,PX9,EXPORT_DICOM,240\n", cfg)
    assert dead == [] and events[0].attributes["action"] == "export" and events[0].attributes["records"] == 240


@pytest.mark.parametrize(
    "yaml_text, line, fragment",
    [
        ("name: x\nmatch: [a]\nfields: {user: a, patient_id: b}\nfoo: 1\n", 4, "unknown key 'foo'"),
        ("name: x\nmatch: [a]\nfields: {user: a}\n", 3, "fields.patient_id is required"),
        ("name: x\nmatch: [a]\nfields: {user: a, patient_id: b}\nactions:\n  查看: look\n", 5, "must be one of"),
        ("name: x\nmatch: [a]\ninput: {type: xml}\nfields: {user: a, patient_id: b}\n", 3, "input.type"),
        ("name: x\nmatch: [a]\nfields: {user: a, patient_id: b, whom: c}\n", 3, "unknown key 'whom'"),
        ("match: [a]\nfields: {user: a, patient_id: b}\n", 1, "'name'"),
        ("name: x\nmatch: [a]\nfields: {user: a, patient_id: b}\ntimezone: CST\n", 4, "timezone"),
    ],
)
def test_mapping_errors_say_file_and_line(yaml_text: str, line: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_mapping(load_yaml_text(yaml_text, "site.yaml"), "site.yaml")
    assert any(i.where == f"site.yaml:{line}" and fragment in i.message for i in e.value.issues), e.value.issues


def test_forced_mapping_must_exist() -> None:
    with pytest.raises(ConfigError, match="no HIS audit mapping named"):
        HisAuditParser(LogsConfig(his_mapping="nope"))


EMR_DOCTOR_HEADER = EMR_HEADER + ",患者科室,诊疗组,患者标签"


def test_emr_doctor_access_maps_the_doctor_access_attributes(tmp_path: Path) -> None:
    """患者科室 / 诊疗组 / 患者标签 become patient_department, care_team (bool) and patient_labels (codes)."""
    rows = [
        "2024-11-25 10:02:00,D2,张伟,心内科,主治医师,10.12.3.42,P002,ZY1,赵强,查看,病程记录,摘要级,1,越权,肿瘤科,否,",
        "2024-11-25 10:03:00,D3,刘洋,心内科,住院医师,10.12.3.43,P003,ZY2,孙丽,查看,出院小结,详细级,1,本科室,心内科,"
        "是,恶性肿瘤;vip、艾滋病|罕见病",
        '2024-11-25 10:04:00,D4,陈静,心内科,主任医师,10.12.3.44,P004,ZY3,周敏,查看,会诊记录,详细级,1,会诊,肿瘤科,'
        'MDT,"特殊身份,职工,院领导"',
        "2024-11-25 10:05:00,D5,王五,心内科,主任医师,10.12.3.45,P005,ZY4,吴昊,查看,会诊记录,详细级,1,会诊,,也许,  ",
    ]
    events, dead, stats = scan(tmp_path, "emr.csv", ("\n".join([EMR_DOCTOR_HEADER, *rows]) + "\n").encode("gb18030"))
    assert dead == [] and len(events) == 4
    a2, a3, a4, a5 = (e.attributes for e in events)
    assert (a2["patient_department"], a2["care_team"], a2["department"]) == ("肿瘤科", False, "心内科")
    assert "patient_labels" not in a2
    assert a3["care_team"] is True and a3["patient_labels"] == ["special-identity", "vip", "special-disease"]
    assert a4["care_team"] is True and a4["patient_labels"] == ["special-identity", "staff", "院领导"]
    assert not {"patient_department", "care_team", "patient_labels"} & a5.keys()  # empty, unknown, blank
    assert stats["his-value-unmapped"] == 2  # 院领导 (kept as written) and 也许 (left out)


def test_old_emr_exports_without_the_new_columns_still_match(tmp_path: Path) -> None:
    events, dead, _ = scan(tmp_path, "emr.csv", ("\n".join([EMR_HEADER, EMR_ROWS[0]]) + "\n").encode())
    assert dead == [] and not {"patient_department", "care_team", "patient_labels"} & events[0].attributes.keys()


def test_typed_attributes_in_json_and_plain_values(tmp_path: Path) -> None:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "his.yaml").write_text(
        "name: his-json\ninput: {type: json}\nmatch: [uid, pid]\nfields: {user: uid, patient_id: pid}\n"
        "attributes:\n  ward: patient_department\n  team: {name: care_team, type: bool}\n"
        "  tags: {name: patient_labels, type: list, values: {hiv: special-disease}}\n  beds: beds\n",
        encoding="utf-8")
    cfg = LogsConfig(his_mappings=(str(tmp_path / "maps"),), format="his-audit")
    line = {"uid": "u1", "pid": "p1", "ward": "ICU", "team": "yes", "tags": ["HIV", "vip"], "beds": 3}
    events, dead, stats = scan(tmp_path, "h.jsonl", (json.dumps(line) + "\n").encode(), cfg)
    a = events[0].attributes
    assert dead == [] and (a["patient_department"], a["care_team"], a["patient_labels"], a["beds"]) == (
        "ICU", True, ["special-disease", "vip"], 3)
    assert stats["his-value-unmapped"] == 1  # vip: not in this mapping's table, kept


@pytest.mark.parametrize(
    "attrs, line, fragment",
    [
        ("  c: {name: care_team, type: boolean}\n", 5, "must be one of str, bool, list"),
        ("  c: {name: care_team, type: bool, values: {是: treating}}\n", 5, "must be true or false"),
        ("  c: {name: care_team, valuez: {}}\n", 5, "unknown key 'valuez'"),
        ("  c: {name: care team}\n", 5, "must be an identifier"),
        ("  c: [a, b]\n", 5, "must be a name or a mapping"),
        ("  c: {name: labels, type: list, values: [a]}\n", 5, "must map log values"),
    ],
)
def test_typed_attribute_errors_say_file_and_line(attrs: str, line: int, fragment: str) -> None:
    text = "name: x\nmatch: [a]\nfields: {user: a, patient_id: b}\nattributes:\n" + attrs
    with pytest.raises(ConfigError) as e:
        parse_mapping(load_yaml_text(text, "site.yaml"), "site.yaml")
    assert any(i.where == f"site.yaml:{line}" and fragment in i.message for i in e.value.issues), e.value.issues
