"""Regenerate three derived disease lists from CMeKG (build time only, after build_lexicons:
``python -m detectors.tools.build_disease_extras``).

``dictionaries/generated/diagnoses_zh_cores.txt``: the core of a CMeKG disease name that starts
with a course, severity, aetiology or population modifier (急性脑疝 → 脑疝, 小儿颅内高压综合征 →
颅内高压综合征, 儿童多器官功能障碍综合征 → 多器官功能障碍综合征). CMeKG often stores only the
modified name; the core is the name clinical text writes, and the span extension
(dictionaries.yaml ``extend``) grows it back over whatever modifier the text has. The modifiers are
the extension's own ``left`` words that end in 性 plus the course/severity/population words below;
never site or pathogen words (膀胱颈挛缩 → 颈挛缩 would be wrong). The core must look like a
disease name (build_lexicons._keep_disease), must not start with a connective (合并, 伴) or a
leftover (性, 型, 人, 期), must not be a generic head noun (疾病, 病变), and must not be a special
disease, a drug or a known term.

``dictionaries/generated/diagnoses_acronyms.yaml``: English disease acronyms that CMeKG gives as
aliases of its disease entities.

Chinese clinical text writes many diagnoses as English acronyms (成人SARS, 并发MODS); CMeKG
(PyPI ``PyCMeKG`` 0.2.5, MIT) lists them under 别称 / 同义词 / 英文名称 / 英文别名 of the disease
(重症急性呼吸综合征 → SARS, 急性呼吸窘迫综合征 → ARDS). Short acronyms collide with IT words
(URI, NET, ISS), so only 4-6 capital letters are kept, and every term is case-exact.
Acronyms of special diseases (the subject is in a §11.1 class) and hand-written terms are skipped.

``dictionaries/generated/disease_extension_zh.txt``: more left words for the span extension of
``diagnosis_common`` (dictionaries.yaml ``extend.left_files``), in three groups. ``site``: the body
sites CMeKG gives for its diseases (常见发病部位, 发病部位: 气道, 冠状动脉, 颅内, 血液), two to four
characters without connectives or hedges (和, 及, 等, 见 ...), so that 气道 + 炎症 and 冠状动脉 + 畸形
grow into one name and a generic head noun (diagnoses.yaml group ``compound``) is qualified.
``modifier``: the two-character ``XY性`` modifiers that start a CMeKG disease name (局灶性,
结节性, 发作性, 血管性), as in 局灶性肺气肿, except a site + one-character modifier (胃急性, 鼻恶性:
恶性肿瘤 would turn into a plain diagnosis). Words already in the inline ``left`` list are skipped.
``grow_char``: the characters CMeKG writes before the chemistry suffixes 血症 (-emia) and 尿症
(-uria) in names of up to eight characters, modifiers stripped (高, 低, 钾, 氨, 酮, 胱, 酸 ...): a 血症
or 尿症 hit grows left over a run of them (dictionaries.yaml ``extend.grow``): 高氨血症, 胱氨酸尿症.
"""

from __future__ import annotations

import pickle
import re
import sys

import yaml

from detectors.tools.build_lexicons import (
    _BRACKETS,
    _DISEASE_KEYS,
    _DRUG_KEYS,
    OUT,
    _hand_terms,
    _icd_class,
    _keep_disease,
    _marker_class,
    _pkg_dir,
    _write,
)

_EXTRA_MODIFIERS = frozenset(
    "重度 中度 轻度 极重度 重症 重型 轻型 危重 无症状 新生儿 婴幼儿 婴儿 小儿 儿童 青少年 成人 老年 妊娠 妊娠期 "
    "产后 围产期".split()
)
_BAD_CORE_START = ("合并", "伴", "性", "型", "人", "期")
#: generic head nouns left over from 遗传性疾病, 器质性病变: a category, not a diagnosis
_GENERIC_CORES = frozenset("疾病 病变 病症 综合征 综合症 症候群".split())


def _terms(fname: str) -> set[str]:
    return {
        ln.split("\t", 1)[1].strip()
        for ln in (OUT / fname).read_text(encoding="utf-8").splitlines()
        if "\t" in ln and not ln.startswith("#")
    }


def cores(generated_mods: set[str]) -> set[str]:
    """Core names of modified CMeKG disease names (module docstring); ``generated_mods``: the
    generated XY性 modifiers of the extension (接触性布鲁菌病 → 布鲁菌病)."""
    catalogue = OUT.parent.parent / "dictionaries.yaml"
    spec = next(d for d in yaml.safe_load(catalogue.read_text(encoding="utf-8"))["dictionaries"] if d.get("extend"))
    mods = sorted(
        {w for w in spec["extend"]["left"] if w.endswith("性") or w in _EXTRA_MODIFIERS} | generated_mods,
        key=len,
        reverse=True,
    )
    known = _terms("diagnoses_zh.txt") | _terms("special_diseases_zh.txt")
    drugs = _terms("drugs_zh.txt")
    taken, markers, _ = _hand_terms()
    out: set[str] = set()
    for name in sorted(known):
        for m in mods:
            if name.startswith(m):
                core = name[len(m) :]
                if (
                    _keep_disease(core)
                    and not core.startswith(_BAD_CORE_START)
                    and core not in _GENERIC_CORES
                    and core not in known
                    and core not in drugs
                    and core.lower() not in taken
                    and not _marker_class(core, markers)
                ):
                    out.add(core)
                break
    return out


_ALIAS_KEYS = ("别称", "同义词", "英文名称", "英文别名", "英文名")
_ACRONYM = re.compile(r"[A-Z]{4,6}")  # 3 letters collide with IT words (URI, NET, ISS, EEG)


def acronyms() -> dict[str, str]:
    """acronym -> the CMeKG disease it names (first subject in key order)."""
    with (_pkg_dir("pyCMeKG") / "model" / "cmekg.pkl").open("rb") as f:
        kg = pickle.load(f)  # noqa: S301 - a pinned build-time package, never run-time input
    taken, _, ranges = _hand_terms()
    special = {
        ln.split("\t", 1)[1].strip()
        for ln in (OUT / "special_diseases_zh.txt").read_text(encoding="utf-8").splitlines()
        if "\t" in ln
    }
    out: dict[str, str] = {}
    for k in sorted(kg):
        v = kg[k]
        if not isinstance(v, dict) or any(p in v for p in _DRUG_KEYS) or not any(p in v for p in _DISEASE_KEYS):
            continue
        name = _BRACKETS.sub("", k).strip()
        if name in special or _icd_class(v.get("ICD10", []), ranges):
            continue
        for pred in _ALIAS_KEYS:
            for alias in v.get(pred, []):
                a = alias.strip()
                if _ACRONYM.fullmatch(a) and a.lower() not in taken:
                    out.setdefault(a, name)
    return out


#: characters that mark a CMeKG site value as a phrase, not a site name
#: (躯干和四肢, 颈椎等, 多见于手背处, 如手), or as no site at all (皮肤科, 肾脏损害, 右肩痛, 骨折处)
_SITE_NOISE = set("和及或与等的之在见以其为亦尤多少常主特临位侧如除科损痛折瘘")
#: CMeKG site values that name no body site (组织 + 损伤 would make every 组织损伤 a diagnosis)
_NOT_SITES = frozenset("组织 器官 外伤 孕妇 变色 着色 视觉 伤口".split())
_CJK_WORD = re.compile(r"[\u4e00-\u9fff]+")
_ONE_CHAR_XING = frozenset("急性 慢性 恶性 良性 囊性 假性 炎性 酮性 钙性 女性 男性".split())
_XING = re.compile(r"([\u4e00-\u9fff]{2}性)[\u4e00-\u9fff]{2}")


def extension_words() -> dict[str, set[str]]:
    """Body sites and XY性 modifiers for the span extension (module docstring)."""
    with (_pkg_dir("pyCMeKG") / "model" / "cmekg.pkl").open("rb") as f:
        kg = pickle.load(f)  # noqa: S301 - a pinned build-time package, never run-time input
    catalogue = OUT.parent.parent / "dictionaries.yaml"
    spec = next(d for d in yaml.safe_load(catalogue.read_text(encoding="utf-8"))["dictionaries"] if d.get("extend"))
    inline = set(spec["extend"]["left"])
    known = _terms("diagnoses_zh.txt") | _terms("special_diseases_zh.txt") | _terms("drugs_zh.txt")
    sites: set[str] = set()
    starts: dict[str, int] = {}
    for k in sorted(kg):
        v = kg[k]
        if not isinstance(v, dict) or any(p in v for p in _DRUG_KEYS) or not any(p in v for p in _DISEASE_KEYS):
            continue
        for pred in ("常见发病部位", "发病部位"):
            for site in v.get(pred, []):
                w = _BRACKETS.sub("", site).strip()
                if _CJK_WORD.fullmatch(w) and 2 <= len(w) <= 4 and not set(w) & _SITE_NOISE and w not in _NOT_SITES:
                    sites.add(w)
        m = _XING.match(_BRACKETS.sub("", k).strip())
        if m:
            starts[m.group(1)] = starts.get(m.group(1), 0) + 1
    # not a site + one-character modifier (胃急性, 鼻恶性, 肺囊性): those would pull a special
    # disease (恶性肿瘤) into a plain DIAGNOSIS span
    mods = {w for w in starts if w[1:] not in _ONE_CHAR_XING and w.count("性") == 1}
    return {
        "site": sites - inline - known - mods,
        "modifier": mods - inline - known,
        "grow_char": _grow_chars(kg, inline | mods),
    }


#: connectives and function words that end a substance name (…的高钙血症, 伴低钾血症)
_GROW_STOP = set("的及于伴非与和或并等为有无在是")


def _grow_chars(kg: dict[str, dict[str, list[str]]], modifiers: set[str]) -> set[str]:
    """Characters that CMeKG writes before the chemistry suffixes 血症 and 尿症 in names of at
    most eight characters (高钾血症, 苯丙酮尿症, 新生儿低钙血症), once the leading modifiers of the
    span extension are stripped (新生儿, 家族性: the extension absorbs those itself), and what
    comes before a 型 (多发型高脂血症 → 高脂); names whose rest still holds a 性 modifier are
    skipped; minus connectives."""
    mods = sorted(modifiers, key=len, reverse=True)
    chars: set[str] = set()
    for k, v in kg.items():
        if not isinstance(v, dict) or any(p in v for p in _DRUG_KEYS) or not any(p in v for p in _DISEASE_KEYS):
            continue
        names = [_BRACKETS.sub("", k).strip()] + [_BRACKETS.sub("", a).strip() for a in v.get("别称", [])]
        for name in names:
            for suffix in ("血症", "尿症"):
                if name.endswith(suffix) and _CJK_WORD.fullmatch(name) and len(suffix) < len(name) <= 8:
                    stem = name[: -len(suffix)]
                    while m := next((m for m in mods if stem.startswith(m) and len(stem) > len(m)), ""):
                        stem = stem[len(m) :]
                    if "性" not in stem:  # 自限性急性出血症: an unknown modifier, no substance
                        chars |= set(stem.rpartition("型")[2])  # 多发型高脂血症, 同型胱氨酸尿症
    return chars - _GROW_STOP


def main() -> None:
    words = extension_words()
    _write(
        "disease_extension_zh.txt",
        "Body sites, XY性 modifiers and -emia/-uria substance characters of CMeKG disease entities, span-extension"
        " words (PyPI PyCMeKG 0.2.5, MIT)",
        words,
    )
    path = OUT / "disease_extension_zh.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("build_lexicons.py", "build_disease_extras.py", 1))
    core = cores(words["modifier"])
    _write(
        "diagnoses_zh_cores.txt",
        "Cores of modified CMeKG disease names (PyPI PyCMeKG 0.2.5, MIT)",
        {"common": core},
    )
    path = OUT / "diagnoses_zh_cores.txt"  # _write names build_lexicons as the generator: name this one
    path.write_text(path.read_text(encoding="utf-8").replace("build_lexicons.py", "build_disease_extras.py", 1))
    found = acronyms()
    lines = [
        "# English disease acronyms given as aliases of CMeKG disease entities (PyPI PyCMeKG 0.2.5, MIT).",
        "# Generated by detectors/tools/build_disease_acronyms.py; do not edit.",
        "groups:",
        "  common:",
        "    label: 常见诊断",
        "    terms:",
    ]
    for a in sorted(found):
        lines.append(f"      - {{term: {a}, case: exact}}  # {found[a]}")
    (OUT / "diagnoses_acronyms.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(
        f"cores={len(core)}, acronyms={len(found)}, sites={len(words['site'])}, modifiers={len(words['modifier'])}"
        f" -> {OUT}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
