"""Doctor access (§11.1) from an EMR audit log line to an alert: log sensor → detectors → policy.

The bundled ``emr-doctor-access`` mapping maps 患者科室 / 诊疗组 / 患者标签 to the attributes the
``doctor-access`` kind reads (``patient_department``, ``care_team``, ``patient_labels``). Each
doctor below does one thing in working hours from a ward workstation, so only the department
and sensitive-patient checks can fire; the care team vetoes both.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors import build_engine
from healthdlp.embedded import run_offline
from model.alerts import Alert
from model.config import Config, PolicyConfig
from stream.pipeline import Pipeline
from stream.policy import BUNDLED_RULES, load_policy

PACK = Path(__file__).resolve().parents[2] / "stream" / "policy" / "packs" / "doctor-access"
KEY = b"doctor-his-key"
HEAD = ("访问时间,工号,医生姓名,科室,职称,终端IP,患者ID,住院号,患者姓名,操作类型,病历类型,访问级别,记录数,授权方式,"
        "患者科室,诊疗组,患者标签")
ROWS = {
    # own department, own care team: nothing abnormal
    "D1": "2025-11-24 10:01:00,D1,李明,心内科,主治医师,10.12.3.41,P001,ZY2025000001,王芳,查看,病程记录,摘要级,1,本科室,"
          "心内科,是,",
    # a patient of the oncology ward, not in the care team
    "D2": "2025-11-24 10:02:00,D2,张伟,心内科,主治医师,10.12.3.42,P002,ZY2025000002,赵强,查看,病程记录,摘要级,1,越权,"
          "肿瘤科,否,",
    # own department but a sensitive patient (malignant tumour, VIP) outside the care team
    "D3": "2025-11-24 10:03:00,D3,刘洋,心内科,住院医师,10.12.3.43,P003,ZY2025000003,孙丽,查看,出院小结,详细级,1,本科室,"
          "心内科,否,恶性肿瘤;VIP",
    # another department and a labelled patient, but a consultation: in the care team
    "D4": "2025-11-24 10:04:00,D4,陈静,心内科,主任医师,10.12.3.44,P004,ZY2025000004,周敏,查看,会诊记录,详细级,1,会诊,"
          "肿瘤科,会诊,\"艾滋病,VIP\"",
}


@pytest.fixture(scope="module")
def alerts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Alert]:
    log = tmp_path_factory.mktemp("his") / "emr_audit.csv"
    log.write_text("\n".join([HEAD, *ROWS.values()]) + "\n", encoding="utf-8")
    cfg = Config(policy=PolicyConfig(rules=(str(BUNDLED_RULES), str(PACK / "rules.yaml")),
                                     context=(str(PACK / "context.yaml"),)))
    pipeline = Pipeline(build_engine(cfg.detectors, KEY), load_policy(cfg.policy.rules, cfg.policy.context,
                                                                       hash_key=KEY))
    summary = run_offline(cfg, [str(log)], pipeline)
    assert summary.events == 4 and not summary.dead_letters
    return {a.actor: a for a in summary.alerts.values() if a.rule_id == "doctor-access-anomaly"}


def test_outside_department_fires_for_a_patient_of_another_ward(alerts: dict[str, Alert]) -> None:
    assert alerts["D2"].details["anomalies"] == ["patient of another department, doctor not in the care team"]


def test_sensitive_patient_fires_from_the_translated_labels(alerts: dict[str, Alert]) -> None:
    assert alerts["D3"].details["anomalies"] == ["sensitive patient (special-identity, vip) outside the care team"]


def test_own_patients_and_the_care_team_stay_quiet(alerts: dict[str, Alert]) -> None:
    assert set(alerts) == {"D2", "D3"}
