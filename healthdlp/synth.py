"""Synthetic patients for the demo, the tests and the benchmarks: realistic shapes, no real people.

Identifiers are generated with their real check algorithms (GB 11643 MOD 11-2 for citizen IDs,
Luhn for bank cards) so detectors are exercised the way real traffic would exercise them. The
generator is seeded, so every fixture built from it is reproducible.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅文斌宇浩然欣怡子涵梓萱一诺"
#: Real GB/T 2260 county-level prefixes (Beijing Chaoyang, Shanghai Xuhui, Guangzhou Yuexiu, Chengdu Jinniu ...).
ADDRESS_CODES = ("110105", "110108", "310104", "310115", "440104", "440305", "510106", "330106", "420106")
CITIES = {
    "110105": "北京市朝阳区", "110108": "北京市海淀区", "310104": "上海市徐汇区", "310115": "上海市浦东新区",
    "440104": "广州市越秀区", "440305": "深圳市南山区", "510106": "成都市金牛区", "330106": "杭州市西湖区",
    "420106": "武汉市武昌区",
}
MOBILE_PREFIXES = ("138", "139", "135", "136", "150", "151", "186", "187", "177", "199", "133", "189")
DIAGNOSES = (("I10", "高血压"), ("E11.9", "2型糖尿病"), ("J18.9", "肺炎"), ("K29.7", "胃炎"), ("M54.5", "腰痛"))
SPECIAL = (("B24", "艾滋病"), ("A53.9", "梅毒"), ("B18.1", "慢性乙型肝炎"), ("F20.9", "精神分裂症"), ("C34.9", "肺癌"))

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def citizen_id_check(first17: str) -> str:
    """GB 11643-1999 ISO 7064 MOD 11-2 check character."""
    s = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return "10X98765432"[s % 11]


def citizen_id_complete(first17: str) -> str:
    """``first17`` with its GB 11643 check character appended: a valid resident ID."""
    return first17 + citizen_id_check(first17)


def luhn_complete(prefix: str) -> str:
    """Append the Luhn check digit to ``prefix``."""
    total = 0
    for i, ch in enumerate(reversed(prefix)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return prefix + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class Patient:
    name: str
    citizen_id: str
    sex: str
    birth_date: str
    mobile: str
    email: str
    bank_card: str
    mrn: str
    address: str
    diagnosis_code: str
    diagnosis: str
    special: bool

    def record(self) -> dict[str, object]:
        return asdict(self)


class Synth:
    """A seeded source of synthetic patients."""

    def __init__(self, seed: int = 39725) -> None:
        self.rng = random.Random(seed)
        self._n = 0

    def citizen_id(self) -> tuple[str, str, str]:
        r = self.rng
        area = r.choice(ADDRESS_CODES)
        y, m, d = r.randint(1940, 2015), r.randint(1, 12), r.randint(1, 28)
        seq = r.randint(0, 999)
        first17 = f"{area}{y:04d}{m:02d}{d:02d}{seq:03d}"
        return first17 + citizen_id_check(first17), f"{y:04d}-{m:02d}-{d:02d}", "男" if seq % 2 else "女"

    def mobile(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + "".join(self.rng.choice("0123456789") for _ in range(8))

    def bank_card(self) -> str:
        body = "622202" + "".join(self.rng.choice("0123456789") for _ in range(12))
        return luhn_complete(body)

    def patient(self, special: bool | None = None) -> Patient:
        r = self.rng
        self._n += 1
        cid, dob, sex = self.citizen_id()
        is_special = r.random() < 0.2 if special is None else special
        code, dx = r.choice(SPECIAL if is_special else DIAGNOSES)
        name = r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2))))
        return Patient(
            name=name,
            citizen_id=cid,
            sex=sex,
            birth_date=dob,
            mobile=self.mobile(),
            email=f"p{self._n:05d}.{r.randint(100, 999)}@example.cn",
            bank_card=self.bank_card(),
            mrn=f"MR{r.randint(10_000_000, 99_999_999)}",
            address=CITIES[cid[:6]] + f"{r.choice('长安人民建设中山解放和平')}路{r.randint(1, 399)}号",
            diagnosis_code=code,
            diagnosis=dx,
            special=is_special,
        )

    def patients(self, n: int, special: bool | None = None) -> list[Patient]:
        return [self.patient(special) for _ in range(n)]


def patient_json(p: Patient) -> bytes:
    """A JSON body as an EMR API would send it."""
    body = {
        "patient": {"name": p.name, "idCard": p.citizen_id, "gender": p.sex, "birthDate": p.birth_date,
                    "phone": p.mobile, "address": p.address, "mrn": p.mrn},
        "diagnosis": {"icd10": p.diagnosis_code, "name": p.diagnosis},
    }
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def hl7_adt(p: Patient, control_id: str, ts: str = "20261125083000") -> bytes:
    """An HL7 v2.5 ADT^A01 with PID and DG1, segments separated by CR as on the wire."""
    y, m, d = p.birth_date.split("-")
    family, given = p.name[0], p.name[1:]
    segs = [
        f"MSH|^~\\&|HIS|HOSP|LIS|HOSP|{ts}||ADT^A01|{control_id}|P|2.5",
        f"EVN|A01|{ts}",
        f"PID|1||{p.mrn}^^^HOSP^MR~{p.citizen_id}^^^CHN^NNCHN||{family}^{given}||{y}{m}{d}|"
        f"{'M' if p.sex == '男' else 'F'}|||{p.address}||{p.mobile}",
        "PV1|1|I|W3^301^1",
        f"DG1|1||{p.diagnosis_code}^{p.diagnosis}^I10||{ts}|A",
    ]
    return ("\r".join(segs) + "\r").encode("utf-8")


def csv_export(patients: list[Patient]) -> str:
    rows = ["姓名,身份证号,性别,出生日期,手机号,诊断"]
    rows += [f"{p.name},{p.citizen_id},{p.sex},{p.birth_date},{p.mobile},{p.diagnosis}" for p in patients]
    return "\n".join(rows) + "\n"
