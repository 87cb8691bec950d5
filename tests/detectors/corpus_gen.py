"""Seeded generator of the labelled evaluation corpus (zh + en), with hard negatives.

    .venv/bin/python -m tests.detectors.corpus_gen OUT.jsonl [--records 3000] [--seed 20231125]
    healthdlp eval OUT.jsonl

Every record is built piece by piece, so gold offsets are exact. Values are synthetic and made
valid (or deliberately invalid) with check-digit code written here, independently of
detectors/validators.py, so a validator bug cannot label its own test data. About a third of the
records are pure hard negatives: order numbers, trace ids, millisecond timestamps, version strings,
ID-shaped numbers with wrong check digits, Luhn-failing card numbers, dates that are not birth
dates, out-of-range IPs, words that contain disease acronyms.

Gold conventions (what a span covers): the value only, never its label (身份证号：|DOB:); a lab
result spans test name to unit; an address spans the first division name to the last house-number
part; a name is the name without title or role.
"""

from __future__ import annotations

import argparse
import json
import random
import string
from collections.abc import Callable
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parents[2] / "detectors" / "catalogue" / "dictionaries"

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢钟姜"
    "崔谭陆范汪廖石金贾夏韦付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严欧莫孔向常汤康易乔赖文"
)
COMPOUND = ["欧阳", "司马", "诸葛", "上官", "东方"]
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲"
    "芬燕彬鑫斌宇浩凯健俊帆帅旭宁龙林欣佳颖慧晨雪琳晶瑶婷雯倩璐"
)
EN_FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Steven",
    "Ashley",
    "Paul",
    "Kimberly",
    "Andrew",
    "Emily",
    "Joshua",
    "Donna",
    "Kevin",
    "Michelle",
    "Brian",
    "Carol",
]
EN_LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
]
EN_TITLE_LAST = ["Okafor", "Nakamura", "Alvarez", "Kowalski", "Haddad", "Lindqvist", "Oyelaran", "Petrov"]
REGIONS = ["110105", "310115", "440304", "320582", "510107", "330106", "420106", "370202", "210202", "500103"]
ROADS = ["建国路", "中山路", "人民路", "解放大道", "文三路", "科技园路", "长安街", "南京东路", "天府大道", "和平里大街"]
ADMIN3 = [
    ("北京市", "朝阳区"),
    ("上海市", "浦东新区"),
    ("广东省深圳市", "南山区"),
    ("浙江省杭州市", "西湖区"),
    ("四川省成都市", "武侯区"),
    ("湖北省武汉市", "洪山区"),
    ("江苏省南京市", "鼓楼区"),
    ("山东省青岛市", "市南区"),
]
EN_STREETS = [
    "Oak Street",
    "Maple Avenue",
    "Cedar Lane",
    "Park Road",
    "Washington Blvd",
    "Lake View Drive",
    "Hillcrest Court",
    "Sunset Boulevard",
]
EN_CITIES = [("Springfield", "IL"), ("Portland", "OR"), ("Austin", "TX"), ("Madison", "WI"), ("Denver", "CO")]
DIAG_ZH = [
    "原发性高血压",
    "2型糖尿病",
    "社区获得性肺炎",
    "冠心病",
    "慢性阻塞性肺疾病",
    "急性支气管炎",
    "胃溃疡",
    "偏头痛",
    "骨质疏松症",
    "类风湿关节炎",
    "慢性肾炎",
    "反流性食管炎",
    "心房颤动",
    "支气管哮喘",
]
DIAG_EN = ["hypertension", "type 2 diabetes", "pneumonia", "asthma", "heart failure", "migraine", "osteoporosis"]
SPECIAL_ZH = [
    "艾滋病",
    "乙型肝炎",
    "肺结核",
    "抑郁症",
    "肺癌",
    "血友病",
    "混合痔",
    "渐冻症",
    "精神分裂症",
    "梅毒",
    "宫颈癌",
    "帕金森病",
]
SPECIAL_EN = ["HIV infection", "schizophrenia", "breast cancer", "hepatitis B", "tuberculosis", "syphilis"]
DRUG_ZH = [
    "阿司匹林",
    "二甲双胍",
    "阿托伐他汀",
    "氨氯地平",
    "头孢克肟",
    "奥美拉唑",
    "布洛芬",
    "氯吡格雷",
    "胰岛素",
    "左氧氟沙星",
    "奥氮平",
    "硝苯地平",
]
DRUG_EN = [
    "metformin",
    "atorvastatin",
    "amlodipine",
    "lisinopril",
    "omeprazole",
    "ibuprofen",
    "warfarin",
    "levothyroxine",
    "sertraline",
]
ICD = ["I10", "E11.9", "J18.9", "I25.1", "J44.9", "K25.9", "M81.0", "G43.9", "J45.9"]
LABS = [
    ("血红蛋白", "{v} g/L", (90, 170)),
    ("空腹血糖", "{v} mmol/L", (4, 15)),
    ("谷丙转氨酶", "{v} U/L", (10, 200)),
    ("肌酐", "{v} μmol/L", (40, 300)),
    ("HbA1c", "{v}%", (5, 12)),
    ("WBC", "{v} x10^9/L", (3, 20)),
    ("ALT", "{v} U/L", (10, 200)),
    ("TSH", "{v} mIU/L", (1, 9)),
]
GENES = ["EGFR c.2573T>G", "BRCA1 c.68_69delAG", "KRAS p.Gly12Asp", "TP53 c.215C>G", "NM_000546.5:c.215C>G"]


# --- independent check-digit helpers (not detectors/validators.py) -------------------------------
def gb11643_complete(first17: str) -> str:
    c = (1 - 2 * int(first17, 13)) % 11
    return first17 + ("X" if c == 10 else str(c))


def luhn_digit(prefix: str) -> str:
    digits = [int(c) for c in prefix][::-1]
    total = sum(sum(divmod(d * 2, 10)) if i % 2 == 0 else d for i, d in enumerate(digits))
    return str((10 - total % 10) % 10)


def hk_check(prefix: str, digits: str) -> str:
    vals = ([36] if len(prefix) == 1 else []) + [ord(c) - 55 for c in prefix] + [int(d) for d in digits]
    r = sum(v * w for v, w in zip(vals, range(9, 1, -1), strict=True)) % 11
    return "0" if r == 0 else "A" if r == 1 else str(11 - r)


TW = "ABCDEFGHJKLMNPQRSTUVXYWZIO"


def tw_id(rng: random.Random) -> str:
    letter = rng.choice(TW)
    body = rng.choice("12") + "".join(rng.choice(string.digits) for _ in range(7))
    n = TW.index(letter) + 10
    s = n // 10 + (n % 10) * 9 + sum(int(c) * w for c, w in zip(body, range(8, 0, -1), strict=True))
    return letter + body + str((10 - s % 10) % 10)


# --- value makers ---------------------------------------------------------------------------------
def rid(rng: random.Random, valid: bool = True) -> str:
    first = f"{rng.choice(REGIONS)}{rng.randint(1940, 2015)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first += f"{rng.randint(0, 999):03d}"
    full = gb11643_complete(first)
    if valid:
        return full
    bad = "0123456789X".replace(full[-1], "")
    return first + rng.choice(bad)


def phone(rng: random.Random) -> str:
    seg = rng.choice(["130", "133", "135", "136", "138", "139", "150", "152", "158", "176", "177", "186", "188", "199"])
    num = f"{seg}{rng.randint(10000000, 99999999)}"
    style = rng.random()
    if style < 0.2:
        return f"+86 {num[:3]}-{num[3:7]}-{num[7:]}"
    if style < 0.35:
        return f"{num[:3]} {num[3:7]} {num[7:]}"
    return num


def card(rng: random.Random, valid: bool = True) -> str:
    p = rng.choice(["6222", "6217", "6228", "4367", "5187"]) + "".join(rng.choice(string.digits) for _ in range(14))
    d = luhn_digit(p)
    return p + (d if valid else str((int(d) + rng.randint(1, 9)) % 10))


def zh_name(rng: random.Random) -> str:
    sur = rng.choice(COMPOUND) if rng.random() < 0.05 else rng.choice(SURNAMES)
    return sur + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def en_name(rng: random.Random) -> str:
    return f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"


def email(rng: random.Random) -> str:
    user = rng.choice(["zhang.wei", "li_na88", "wangfang", "j.smith", "mary.k", "patient2023", "liu.yang"])
    return f"{user}{rng.randint(1, 999)}@{rng.choice(['example.com', 'hospital.example.cn', 'mail.example.org'])}"


def dob_zh(rng: random.Random) -> str:
    y, m, d = rng.randint(1940, 2015), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([f"{y}-{m:02d}-{d:02d}", f"{y}年{m}月{d}日", f"{y}{m:02d}{d:02d}", f"{y}/{m:02d}/{d:02d}"])


def dob_en(rng: random.Random) -> str:
    y, m, d = rng.randint(1940, 2015), rng.randint(1, 12), rng.randint(1, 28)
    months = "January February March April May June July August September October November December".split()
    return rng.choice([f"{m:02d}/{d:02d}/{y}", f"{months[m - 1]} {d}, {y}", f"{y}-{m:02d}-{d:02d}"])


def ssn(rng: random.Random) -> str:
    a = rng.choice([x for x in range(1, 900) if x != 666])
    return f"{a:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def imei(rng: random.Random) -> str:
    p = rng.choice(["35", "49", "86", "01"]) + "".join(rng.choice(string.digits) for _ in range(12))
    return p + luhn_digit(p)


def mac(rng: random.Random) -> str:
    first = rng.randrange(0, 256) & 0xFC
    return ":".join(f"{b:02X}" for b in [first] + [rng.randrange(256) for _ in range(5)])


def ipv4(rng: random.Random) -> str:
    return (
        f"{rng.choice([10, 172, 192, 203, 58, 114])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    )


def dna(rng: random.Random) -> str:
    return "".join(rng.choice("ACGT") for _ in range(rng.randint(24, 60)))


def uscc(rng: random.Random) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = rng.choice("159") + rng.choice("123") + rng.choice(REGIONS) + "".join(rng.choice(alphabet) for _ in range(9))
    s = sum(alphabet.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return body + alphabet[(31 - s % 31) % 31]


# --- record builder -----------------------------------------------------------------------------
class Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[dict[str, object]] = []
        self.n = 0

    def text(self, s: str) -> Builder:
        self.parts.append(s)
        self.n += len(s)
        return self

    def ent(self, typ: str, s: str) -> Builder:
        self.spans.append({"start": self.n, "end": self.n + len(s), "type": typ})
        return self.text(s)

    def record(self, rid_: str) -> dict[str, object]:
        return {"id": rid_, "text": "".join(self.parts), "spans": self.spans}


def _zh_address(rng: random.Random) -> str:
    a, b = rng.choice(ADMIN3)
    return f"{a}{b}{rng.choice(ROADS)}{rng.randint(1, 300)}号" + rng.choice(
        ["", f"{rng.randint(1, 30)}栋{rng.randint(101, 2505)}室"]
    )


def zh_clinical(rng: random.Random) -> Builder:
    b = Builder()
    b.text(rng.choice(["患者", "病人", "姓名："])).ent("PERSON_NAME", zh_name(rng))
    b.text(rng.choice(["，男，", "，女，"])).text(f"{rng.randint(18, 90)}岁，身份证号：").ent(
        "CN_RESIDENT_ID", rid(rng)
    )
    b.text("，联系电话：").ent("PHONE_NUMBER", phone(rng))
    if rng.random() < 0.5:
        b.text("，出生日期：").ent("DATE_OF_BIRTH", dob_zh(rng))
    if rng.random() < 0.5:
        b.text("，住院号：").ent("MEDICAL_RECORD_NUMBER", f"ZY{rng.randint(10**7, 10**9)}")
    if rng.random() < 0.4:
        b.text("，家庭住址：").ent("ADDRESS", _zh_address(rng))
    b.text("。诊断：").ent("DIAGNOSIS", rng.choice(DIAG_ZH))
    if rng.random() < 0.5:
        b.text("（ICD-10：").ent("ICD10_CODE", rng.choice(ICD)).text("）")
    if rng.random() < 0.4:
        b.text("，既往").ent("SPECIAL_DISEASE", rng.choice(SPECIAL_ZH)).text("病史")
    b.text("。医嘱：").ent("DRUG", rng.choice(DRUG_ZH)).text(f" {rng.choice([5, 10, 20, 100, 500])}mg 口服")
    if rng.random() < 0.5:
        name, fmt, (lo, hi) = rng.choice(LABS)
        b.text("。检验：").ent("LAB_RESULT", f"{name} {fmt.format(v=round(rng.uniform(lo, hi), 1))}")
    return b.text("。")


def en_clinical(rng: random.Random) -> Builder:
    b = Builder()
    b.text(rng.choice(["Patient ", "Patient name: ", "Seen today: "])).ent("PERSON_NAME", en_name(rng))
    b.text(", DOB: ").ent("DATE_OF_BIRTH", dob_en(rng))
    if rng.random() < 0.5:
        b.text(", SSN ").ent("US_SSN", ssn(rng))
    b.text(", MRN: ").ent("MEDICAL_RECORD_NUMBER", f"{rng.randint(10**6, 10**8)}")
    if rng.random() < 0.5:
        city, st = rng.choice(EN_CITIES)
        b.text(", lives at ").ent(
            "ADDRESS", f"{rng.randint(10, 9999)} {rng.choice(EN_STREETS)}, {city}, {st} {rng.randint(10000, 99999)}"
        )
    b.text(". Phone ").ent("PHONE_NUMBER", phone(rng)).text(", e-mail ").ent("EMAIL_ADDRESS", email(rng))
    b.text(". Diagnosis: ").ent("DIAGNOSIS", rng.choice(DIAG_EN))
    if rng.random() < 0.4:
        b.text("; history of ").ent("SPECIAL_DISEASE", rng.choice(SPECIAL_EN))
    b.text(". Prescribed ").ent("DRUG", rng.choice(DRUG_EN)).text(f" {rng.choice([5, 10, 20, 500])} mg daily.")
    if rng.random() < 0.3:
        b.text(" Seen by Dr. ").ent("PERSON_NAME", rng.choice(EN_TITLE_LAST)).text(".")
    return b


def identity_docs(rng: random.Random) -> Builder:
    b = Builder()
    choice = rng.randrange(6)
    if choice == 0:
        p, d = rng.choice(["A", "C", "K", "Z", "CA"]), "".join(rng.choice(string.digits) for _ in range(6))
        b.text("香港身份证 ").ent("HK_MACAU_TW_ID", f"{p}{d}({hk_check(p, d)})")
    elif choice == 1:
        b.text("台湾居民身分證字號 ").ent("HK_MACAU_TW_ID", tw_id(rng))
    elif choice == 2:
        b.text(rng.choice(["护照号码：", "Passport No. "])).ent("PASSPORT", f"E{rng.randint(10**7, 10**8 - 1)}")
    elif choice == 3:
        b.text(rng.choice(["医保卡号：", "Member ID: "])).ent(
            "MEDICAL_INSURANCE_NUMBER", f"YB{rng.randint(10**9, 10**10)}"
        )
    elif choice == 4:
        b.text("统一社会信用代码：").ent("ORG_CREDIT_CODE", uscc(rng)).text("（医疗机构）")
    else:
        b.text("银行卡号 ").ent("BANK_CARD", card(rng))
    b.text(rng.choice(["，已核验。", " verified.", "；办理住院手续。"]))
    return b


def device_and_net(rng: random.Random) -> Builder:
    b = Builder()
    c = rng.randrange(4)
    if c == 0:
        b.text("血糖仪 IMEI: ").ent("DEVICE_ID", imei(rng)).text(" 已绑定")
    elif c == 1:
        b.text("手环蓝牙 MAC ").ent("DEVICE_ID", mac(rng)).text(" 上传心率数据")
    elif c == 2:
        b.text("login from ").ent("IP_ADDRESS", ipv4(rng)).text(f" user=dr{rng.randint(1, 99)}")
    else:
        b.text("客户端IP：").ent("IP_ADDRESS", ipv4(rng)).text("，访问病历系统")
    return b


def genetic(rng: random.Random) -> Builder:
    b = Builder()
    c = rng.randrange(3)
    if c == 0:
        g = rng.choice(GENES)
        gene, _, var = g.partition(" ")
        if var:
            b.text(f"基因检测：{gene} ").ent("GENETIC_DATA", var).text(" 阳性突变")
        else:
            b.text("variant ").ent("GENETIC_DATA", g).text(" detected")
    elif c == 1:
        b.text("MTHFR 基因 ").ent("GENETIC_DATA", f"rs{rng.randint(10**5, 10**9)}").text(" TT 型")
    else:
        b.text("引物序列 ").ent("GENETIC_DATA", dna(rng)).text(" 扩增")
    return b


def hard_negative(rng: random.Random) -> Builder:
    """No personal data at all, but full of look-alikes."""
    b = Builder()
    makers: list[Callable[[], str]] = [
        lambda: f"订单号 {rng.randint(10**17, 10**18)} 已发货，物流单号 {rng.randint(10**15, 10**16)}",
        lambda: f"traceId={rng.getrandbits(128):032x} spanId={rng.getrandbits(64):016x}",
        lambda: f"ts={rng.randint(1600000000000, 1700000000000)} latency_ms={rng.randint(1, 999)}",
        lambda: f"身份证号校验失败：{rid(rng, valid=False)}",
        lambda: f"卡号 {card(rng, valid=False)} 无效",
        lambda: f"version {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 99)} released",
        lambda: f"visit 2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} room B{rng.randint(10, 99)} floor 3",
        lambda: f"编号 12{rng.randint(100000000, 999999999)} 处理中",
        lambda: "hearing aids for sale, archive the file, also FALSE, 世界艾滋病日宣传活动",
        lambda: f"GET /api/v1/items/{rng.randint(10**17, 10**18)}?t={rng.randint(10**12, 10**13)} HTTP/1.1",
        lambda: "医院今日门诊量平稳，挂号系统运行正常，请患者提前预约，按时就诊。",
        lambda: f"INFO worker-{rng.randint(1, 9)} processed batch size=500 id={rng.randint(10**10, 10**11)}",
        lambda: f"SKU A{rng.randint(10**8, 10**9 - 1)} qty {rng.randint(1, 9)}",
        lambda: f"MAC 地址格式示例 00:00:00:00:00:00，时间 12:{rng.randint(10, 59)}:{rng.randint(10, 59)}",
        lambda: f"npm install pkg@{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} icon@2x.png",
        lambda: "中风险地区人员请主动报备，主任医师表示同意。",
    ]
    for f in rng.sample(makers, k=rng.randint(1, 3)):
        b.text(f()).text(" ")
    return b


MIX: list[tuple[Callable[[random.Random], Builder], int]] = [
    (zh_clinical, 30),
    (en_clinical, 20),
    (identity_docs, 12),
    (device_and_net, 8),
    (genetic, 6),
    (hard_negative, 30),
]


def generate(records: int = 3000, seed: int = 20231125) -> list[dict[str, object]]:
    rng = random.Random(seed)
    makers = [m for m, w in MIX for _ in range(w)]
    out = []
    for i in range(records):
        b = rng.choice(makers)(rng)
        if rng.random() < 0.3:  # embed a look-alike next to real data
            neg = hard_negative(rng)
            b.text(" ").text("".join(neg.parts))
        out.append(b.record(f"gen-{i:05d}"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--records", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=20231125)
    args = ap.parse_args()
    with args.out.open("w", encoding="utf-8") as f:
        for rec in generate(args.records, args.seed):
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
