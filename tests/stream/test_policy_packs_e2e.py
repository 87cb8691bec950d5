"""Each scenario pack end to end in embedded mode: generated captures and logs → sensors → detectors → policy.

Traffic is built with sensors/net/craft.py (scapy writes real pcaps) and patients with
healthdlp/synth.py; HIS audit logs are CSV in the bundled EMR mapping's format. Each pack runs
together with the bundled rules and its own context template, as a hospital would deploy it,
through ``healthdlp.embedded.run_offline`` — the code behind ``healthdlp scan``. Each test also
sends benign traffic of the same scenario and checks that the pack stays quiet about it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detectors import build_engine
from healthdlp.embedded import RunSummary, run_offline
from healthdlp.synth import Patient, Synth, csv_export, patient_json
from model.config import Config, PolicyConfig
from sensors.net import craft
from stream.pipeline import Pipeline
from stream.policy import BUNDLED_RULES, load_policy

PACKS = Path(__file__).resolve().parents[2] / "stream" / "policy" / "packs"
KEY = b"pack-e2e-key"
T = 1_764_000_000.0  # 2025-11-25 00:00 +08:00; daytime flows below add 10 h


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    return build_engine(Config().detectors, KEY)


def run(engine, pack: str, paths: list[Path]) -> RunSummary:  # type: ignore[no-untyped-def]
    cfg = Config(policy=PolicyConfig(rules=(str(BUNDLED_RULES), str(PACKS / pack / "rules.yaml")),
                                     context=(str(PACKS / pack / "context.yaml"),)))
    policy = load_policy(cfg.policy.rules, cfg.policy.context, hash_key=KEY)
    return run_offline(cfg, [str(p) for p in paths], Pipeline(engine, policy))


def fired(summary: RunSummary, decision: str = "") -> dict[str, int]:
    out: dict[str, int] = {}
    for a in summary.alerts.values():
        if a.details.get("decision", "") == decision:
            out[a.rule_id] = max(out.get(a.rule_id, 0), a.subjects)
    return out


def _req(method: str, path: str, body: bytes = b"", user: str = "", ctype: str = "application/json") -> bytes:
    return craft.http_request(method, path, host="h.example", body=body, content_type=ctype if body else "",
                              user=user)


def pcap(tmp: Path, name: str, flows: list[tuple[str, str, int, bytes, bytes]], start: float = T + 10 * 3600) -> Path:
    """(client, server, port, request, response) conversations, one second apart."""
    convs = []
    for i, (client, server, port, req, resp) in enumerate(flows):
        conv = craft.Conversation(client=client, server=server, sport=40000 + i, dport=port, start_ts=start + i)
        convs.append(craft.conversation([("c", req), ("s", resp)], conv))
    return craft.write_conversations(tmp / name, convs)


def ok() -> bytes:
    return craft.http_response(b'{"ok":true}')


def result_json(p: Patient, test: str, value: str) -> bytes:
    return json.dumps({"patient": {"name": p.name, "idCard": p.citizen_id, "phone": p.mobile},
                       "report": {"test": test, "result": value}}, ensure_ascii=False).encode()


# -- the eight packs ------------------------------------------------------------------------------


def test_doctor_access(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    head = "访问时间,工号,医生姓名,科室,职称,终端IP,患者ID,住院号,患者姓名,操作类型,病历类型,访问级别,记录数,授权方式"
    s = Synth(101)
    rows = [head]
    for i, p in enumerate(s.patients(3)):  # day shift from the ward: normal
        rows.append(f"2025-11-24 09:1{i}:00,D10023,李明,心内科,主治医师,10.12.3.41,P00{i},ZY2024{i:06d},{p.name},"
                    "查看,病程记录,摘要级,1,本科室")
    night = rows[:]
    for i, p in enumerate(s.patients(5)):  # 23:4x from the VPN pool: off hours and off site
        night.append(f"2025-11-24 23:4{i}:00,D20077,王强,骨科,住院医师,172.16.9.8,P10{i},ZY2025{i:06d},{p.name},"
                     "导出,出院小结,详细级,1,越权")
    (tmp_path / "day.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "night.csv").write_text("\n".join(night) + "\n", encoding="utf-8")
    day = run(engine, "doctor-access", [tmp_path / "day.csv"])
    assert not {"doctor-access-anomaly", "doctor-access-permission-lock"} & fired(day).keys(), fired(day)
    got = fired(run(engine, "doctor-access", [tmp_path / "night.csv"]))
    assert got.get("doctor-access-anomaly") == 5 and got.get("doctor-access-permission-lock") == 5, got


def test_patient_query(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = Synth(102)
    me = s.patient(special=False)
    benign = [("203.0.113.50", "192.0.2.5", 80, _req("GET", "/api/reports/1", user="p13800001111"),
               craft.http_response(result_json(me, "血常规", "正常")))]
    others = s.patients(4, special=False)
    leaky = [("203.0.113.50", "192.0.2.5", 80, _req("GET", f"/api/reports/{i}", user="p13800001111"),
              craft.http_response(result_json(p, "HIV抗体", "阳性 确诊艾滋病")))
             for i, p in enumerate(others)]
    quiet = fired(run(engine, "patient-query", [pcap(tmp_path, "ok.pcap", benign)]))
    assert "patient-query-sensitive-results" not in quiet and "patient-query-other-patients" not in quiet
    assert quiet.get("patient-query-unencrypted") == 1  # the portal answers over plain HTTP
    got = fired(run(engine, "patient-query", [pcap(tmp_path, "idor.pcap", leaky)]))
    assert "patient-query-sensitive-results" in got and got.get("patient-query-other-patients", 0) >= 4, got


def test_clinical_research(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = Synth(103)
    identified = csv_export(s.patients(30, special=False)).encode()
    deid = ("birthDate,gender,postalCode,diagnosis\n" + "1960,男,310***,2型糖尿病\n" * 30).encode()
    up = "/upload/cr-2025-014.csv"
    flows = [("10.50.3.3", "198.51.100.33", 80, _req("POST", up, identified, ctype="text/csv"), ok())]
    fine = [("10.50.3.3", "198.51.100.33", 80, _req("POST", up, deid, ctype="text/csv"), ok())]
    got = fired(run(engine, "clinical-research", [pcap(tmp_path, "bad.pcap", flows)]))
    assert {"research-identifiable-to-sponsor", "research-deid-check", "cleartext-health-data"} <= got.keys(), got
    quiet = fired(run(engine, "clinical-research", [pcap(tmp_path, "ok.pcap", fine)]))
    assert not {"research-identifiable-to-sponsor", "research-deid-check"} & quiet.keys(), quiet


def test_secondary_use(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = "".join(f"19{50 + i},女,1000{i % 10},宫颈癌\n" if i < 3 else "1980,女,100***,高血压\n" for i in range(40))
    body = ("birthYear,gender,postalCode,diagnosis\n" + rows).encode()
    flows = [("10.60.1.1", "198.51.100.161", 80, _req("POST", "/drop/su-2025-003.csv", body, ctype="text/csv"), ok())]
    got = fired(run(engine, "secondary-use", [pcap(tmp_path, "su.pcap", flows)]))
    assert "secondary-use-deid-check" in got, got
    generalised = ("birthYear,gender,postalCode,diagnosis\n" + "1980,女,100***,高血压\n" * 40).encode()
    fine = [("10.60.1.1", "198.51.100.161", 80, _req("POST", "/drop/su.csv", generalised, ctype="text/csv"), ok())]
    assert "secondary-use-deid-check" not in fired(run(engine, "secondary-use", [pcap(tmp_path, "ok.pcap", fine)]))


def _reading(p: Patient, hr: int) -> bytes:
    return json.dumps({"device": "WB-100", "user": p.mobile, "name": p.name, "heart_rate": hr, "spo2": 97,
                       "血压": "135/88 mmHg", "血糖": "7.8 mmol/L"}, ensure_ascii=False).encode()


def test_health_sensing(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = Synth(104).patient(special=False)
    clear = [("100.70.1.9", "192.0.2.70", 80, _req("POST", "/ingest", _reading(p, 88)), ok())]
    got = fired(run(engine, "health-sensing", [pcap(tmp_path, "up.pcap", clear)]))
    assert "sensing-upload-unencrypted" in got, got
    hello = craft.tls_client_hello("ingest.health.example")
    tls = [("100.70.1.9", "192.0.2.70", 443, hello, craft.tls_server_hello())]
    assert "sensing-upload-unencrypted" not in fired(run(engine, "health-sensing", [pcap(tmp_path, "tls.pcap", tls)]))


def test_mobile_apps(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = Synth(105)
    flows = [("100.80.3.3", "192.0.2.97", 80, _req("GET", f"/v1/records/{i}", user="u5501"),
              craft.http_response(patient_json(p)))
             for i, p in enumerate(s.patients(5, special=False))]
    got = fired(run(engine, "mobile-apps", [pcap(tmp_path, "app.pcap", flows)]))
    assert "mobile-app-unencrypted" in got and got.get("mobile-app-account-fanout", 0) >= 5, got
    quiet = fired(run(engine, "mobile-apps", [pcap(tmp_path, "one.pcap", flows[:1])]))
    assert "mobile-app-account-fanout" not in quiet


def test_commercial_insurance(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = Synth(106).patient(special=False)
    claim = {"claimant": {"name": p.name, "idCard": p.citizen_id}, "invoice": "FP2025000123", "amount": 1520.5,
             "insurance_type": "商业医疗险"}
    with_dx = dict(claim, diagnosis={"icd10": "I10", "name": "高血压", "history": "既往高血压病史10年"})
    flows = [("10.10.8.5", "198.51.100.70", 80,
              _req("POST", "/claims", json.dumps(with_dx, ensure_ascii=False).encode()), ok())]
    got = fired(run(engine, "commercial-insurance", [pcap(tmp_path, "claim.pcap", flows)]))
    assert {"insurance-health-status-beyond-scope", "insurance-docking-unencrypted"} <= got.keys(), got
    hello = craft.tls_client_hello("claims.insurer.example")
    tls = [("10.10.8.5", "198.51.100.70", 443, hello, craft.tls_server_hello())]
    quiet = fired(run(engine, "commercial-insurance", [pcap(tmp_path, "tls.pcap", tls)]))
    assert not {"insurance-health-status-beyond-scope", "insurance-docking-unencrypted"} & quiet.keys()


def test_medical_devices(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = Synth(107).patient(special=False)
    study = json.dumps({"modality": "CT", "PatientName": p.name, "PatientID": p.mrn, "idCard": p.citizen_id,
                        "StudyDescription": "胸部CT 诊断:肺炎"}, ensure_ascii=False).encode()
    telemetry = b'{"device":"CT01","tube_temp":41.2,"uptime":86400}'
    flows = [("10.30.4.4", "203.0.113.130", 80, _req("POST", "/upload/study", study), ok())]
    got = fired(run(engine, "medical-devices", [pcap(tmp_path, "study.pcap", flows)]))
    assert {"device-cloud-cleartext", "device-identifiable-to-manufacturer"} <= got.keys(), got
    internal = [("10.30.4.4", "10.30.9.9", 80, _req("POST", "/upload/study", study), ok())]
    assert not {"device-cloud-cleartext", "device-identifiable-to-manufacturer"} & fired(
        run(engine, "medical-devices", [pcap(tmp_path, "pacs.pcap", internal)])).keys()
    tele = [("10.30.4.4", "203.0.113.130", 80, _req("POST", "/telemetry", telemetry), ok())]
    assert "device-identifiable-to-manufacturer" not in fired(run(engine, "medical-devices",
                                                                  [pcap(tmp_path, "tele.pcap", tele)]))


def test_every_pack_has_an_end_to_end_test() -> None:
    names = {p.name.replace("-", "_") for p in PACKS.iterdir() if p.is_dir()}
    tests = {n[5:] for n, f in globals().items() if n.startswith("test_") and callable(f)}
    assert names <= tests, names - tests
