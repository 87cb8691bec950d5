"""Special diseases (eight §11.1 classes), common diagnoses and drugs: must-flag / must-not-flag."""

from __future__ import annotations

import pytest

from detectors import Engine
from tests.detectors.conftest import entities


@pytest.mark.parametrize(
    "text, cls",
    [
        ("患者梅毒螺旋体抗体阳性", "sexual_reproductive"),
        ("history of syphilis", "sexual_reproductive"),
        ("STD clinic patient", "sexual_reproductive"),
        ("患者确诊艾滋病", "infectious"),
        ("HIV antibody: positive", "infectious"),
        ("AIDS-related illness", "infectious"),
        ("乙肝表面抗原阳性", "infectious"),
        ("chronic hepatitis B", "infectious"),
        ("肺结核治疗中", "infectious"),
        ("patient with TB", "infectious"),
        ("处方：替诺福韦", "infectious"),
        ("抑郁症复诊", "mental_illness"),
        ("diagnosed with schizophrenia in 2019", "mental_illness"),
        ("major depression, recurrent", "mental_illness"),
        ("右肺癌术后", "malignant_tumour"),
        ("adenocarcinoma of the colon", "malignant_tumour"),
        ("急性白血病", "malignant_tumour"),
        ("血友病A", "hereditary"),
        ("beta thalassemia trait", "hereditary"),
        ("混合痔、肛瘘", "anal"),
        ("bleeding hemorrhoids", "anal"),
        ("渐冻症患者", "rare"),
        ("diagnosis: ALS", "rare"),
        ("amyotrophic lateral sclerosis", "rare"),
        ("阿尔茨海默病", "other_incurable"),
        ("end-stage renal disease on dialysis", "other_incurable"),
    ],
)
def test_special_disease_must_flag_with_class(engine: Engine, text: str, cls: str) -> None:
    found = [f for f in engine.scan_text(text) if f.entity_type == "SPECIAL_DISEASE"]
    assert found, text
    assert found[0].explanation.note == f"class:{cls}"
    assert found[0].level == 5
    assert found[0].masked == f"[special disease: {cls}]"


@pytest.mark.parametrize(
    "text",
    [
        "archive the file",  # 'hiv' inside a word
        "ARCHIVE",
        "hearing aids for sale",  # 'AIDS' is case-exact
        "also FALSE",  # 'ALS' inside a word
        "ALS",  # acronym without context
        "transfer 2 TB of data",  # 'TB' without context
        "世界艾滋病日宣传活动",  # awareness day
        "ST depression on ECG",  # cardiology
        "the Great Depression",
        "北京市精神病医院地址",  # a hospital's name
        "乙肝疫苗接种",  # vaccination, not disease
        "cancerous",  # 'cancer' inside a longer word
        "MS Word document",
    ],
)
def test_special_disease_must_not_flag(engine: Engine, text: str) -> None:
    assert "SPECIAL_DISEASE" not in entities(engine, text)


@pytest.mark.parametrize(
    "text",
    [
        "既往高血压病史10年",
        "diagnosis: type 2 diabetes",
        "patient had a stroke",
        "社区获得性肺炎",
        "Hypertension, stage 2",
        "COPD exacerbation",
    ],
)
def test_diagnosis_must_flag(engine: Engine, text: str) -> None:
    assert "DIAGNOSIS" in entities(engine, text)


@pytest.mark.parametrize(
    "text",
    ["hypertensive", "keystroke logger", "a stroke of luck", "中风险地区", "goutte", "copd", "asthmatic"],
)
def test_diagnosis_must_not_flag(engine: Engine, text: str) -> None:
    assert "DIAGNOSIS" not in entities(engine, text)


def test_a_special_disease_is_never_labelled_diagnosis(engine: Engine) -> None:
    assert entities(engine, "诊断：艾滋病") == ["SPECIAL_DISEASE"]
    assert entities(engine, "diagnosis: schizophrenia") == ["SPECIAL_DISEASE"]


def test_longest_term_wins(engine: Engine) -> None:
    [f] = engine.scan_text("type 2 diabetes")
    assert (f.start, f.end) == (0, 15)


@pytest.mark.parametrize("text", ["医嘱：阿司匹林 100mg qd", "prescribed metformin 500 mg", "Insulin glargine"])
def test_drug_must_flag(engine: Engine, text: str) -> None:
    assert "DRUG" in entities(engine, text)


@pytest.mark.parametrize("text", ["insulinoma", "aspirinated", "metformins"])
def test_drug_must_not_flag(engine: Engine, text: str) -> None:
    assert "DRUG" not in entities(engine, text)


# -- span extension of Chinese disease names (dictionaries.yaml diagnosis_common.extend) ---------
@pytest.mark.parametrize(
    "text, name",
    [
        ("诊断：病毒性肺炎", "病毒性肺炎"),  # aetiology modifier
        ("患儿为新生儿肺炎，已住院", "新生儿肺炎"),  # population
        ("复查提示左侧脑水肿", "左侧脑水肿"),  # side + organ, applied repeatedly
        ("行头颈部肿瘤切除术", "头颈部肿瘤"),  # region
        ("遗留肺炎后遗症", "肺炎后遗症"),  # head noun on the right
        ("患者衣原体肺炎痊愈", "衣原体肺炎"),  # pathogen
    ],
)
def test_diagnosis_span_grows_over_disease_modifiers(engine: Engine, text: str, name: str) -> None:
    found = [text[f.start : f.end] for f in engine.scan_text(text) if f.entity_type == "DIAGNOSIS"]
    assert found == [name]


@pytest.mark.parametrize(
    "text",
    [
        "他的肺炎好转",  # 的 is no modifier
        "担心肺炎复发",  # 心 ends 担心 here: single-character organs are not all absorbed
        "患者男性肺炎",  # 男性 is no disease modifier
        "检查发现双肺炎症",  # 双 alone is not a side modifier (双肺 + 炎症)
    ],
)
def test_diagnosis_span_does_not_grow_over_ordinary_words(engine: Engine, text: str) -> None:
    found = [text[f.start : f.end] for f in engine.scan_text(text) if f.entity_type == "DIAGNOSIS"]
    assert found == ["肺炎"]


def test_span_extension_is_bounded(engine: Engine) -> None:
    text = "原发性继发性先天性遗传性肺炎"  # 12 modifier characters, max_left is 6
    [f] = [f for f in engine.scan_text(text) if f.entity_type == "DIAGNOSIS"]
    assert text[f.start : f.end] == "先天性遗传性肺炎"


# -- more extension words from CMeKG (generated/disease_extension_zh.txt) and Latin eponyms ------
@pytest.mark.parametrize(
    "text, name",
    [
        ("CT提示局灶性肺气肿", "局灶性肺气肿"),  # XY性 modifier that starts CMeKG disease names
        ("发作时为阵发性心动过速", "阵发性心动过速"),
        ("既往反复发作性哮喘", "发作性哮喘"),  # one XY性 word is absorbed, 反复 is no modifier
        ("复查见双下肢水肿", "双下肢水肿"),  # a CMeKG body site
        ("染色体检查确诊Turner综合征", "Turner综合征"),  # capitalised Latin name
        ("诊断为Graves病", "Graves病"),
        ("既往Paget's病", "Paget's病"),
        ("牧区患者确诊布鲁菌病", "布鲁菌病"),  # core of CMeKG 接触性布鲁菌病 (generated XY性 modifier)
    ],
)
def test_diagnosis_span_grows_over_generated_modifiers_and_eponyms(engine: Engine, text: str, name: str) -> None:
    found = [text[f.start : f.end] for f in engine.scan_text(text) if f.entity_type == "DIAGNOSIS"]
    assert found == [name]


@pytest.mark.parametrize("text", ["NBA综合征", "iPhone综合征", "ABCD肺炎"])
def test_only_a_capitalised_latin_name_is_an_eponym(engine: Engine, text: str) -> None:
    found = [text[f.start : f.end] for f in engine.scan_text(text) if f.entity_type == "DIAGNOSIS"]
    assert all(not any(c.isascii() and c.isalpha() for c in name) for name in found)


# -- generic head nouns (diagnoses.yaml group compound): a diagnosis only with a left modifier ------
@pytest.mark.parametrize(
    "text, name",
    [
        ("CT示肺部感染", "肺部感染"),  # body site + head
        ("超声提示冠状动脉畸形", "冠状动脉畸形"),
        ("考虑细菌感染", "细菌感染"),  # pathogen + head
        ("体检发现胆囊结石", "胆囊结石"),
        ("复查示肝脏病变", "肝脏病变"),
        ("既往血液病史", "血液病"),  # 病 + 史 is a disease history
        ("既往慢性病史", "慢性病"),  # course modifier; not the STD 性病
        ("交通事故致头部损伤", "头部损伤"),
        ("头颅CT提示颅内高压", "颅内高压"),
        ("胸部CT示支气管扩张", "支气管扩张"),
        ("新生儿高氨血症", "新生儿高氨血症"),  # -emia grows over the substance name, then modifiers
        ("家族性低磷血症", "家族性低磷血症"),
        ("既往无酮血症", "酮血症"),  # 无 is no substance character
        ("确诊胱氨酸尿症", "胱氨酸尿症"),  # -uria
    ],
)
def test_generic_head_with_a_modifier_is_a_diagnosis(engine: Engine, text: str, name: str) -> None:
    found = [text[f.start : f.end] for f in engine.scan_text(text) if f.entity_type in ("DIAGNOSIS", "SPECIAL_DISEASE")]
    assert found == [name]


@pytest.mark.parametrize(
    "text",
    [
        "感染控制办公室",  # a head alone
        "程序运行出现异常",
        "道路狭窄",
        "重症病人转入监护室",  # 病人: severe patients, not a severe disease
        "单纯性病例78例",  # simple cases; not the STD 性病 either
        "慢性病程",
        "送检肝脏病理",  # pathology
        "肠道病毒检测阴性",  # a virus
        "计算机病毒感染",  # malware
        "骨科病房",
        "电网高压线路检修",
        "公司业务扩张",
        "检查血症",
    ],
)
def test_generic_head_without_a_modifier_is_no_diagnosis(engine: Engine, text: str) -> None:
    found = entities(engine, text)
    assert "DIAGNOSIS" not in found and "SPECIAL_DISEASE" not in found


def test_uria_suffix_not_inside_symptoms(engine: Engine) -> None:
    text = "出现蛋白尿症状"  # 蛋白尿 + 症状: the symptom 蛋白尿, no 蛋白尿症
    assert [text[f.start : f.end] for f in engine.scan_text(text) if f.entity_type == "DIAGNOSIS"] == ["蛋白尿"]


# -- two-character CMeKG diseases with an ICD-10 code outside chapter R (build_lexicons) ----------
@pytest.mark.parametrize("text, name", [("小儿触电后昏迷", "触电"), ("高温作业后中暑", "中暑"), ("溺水致淹溺", "淹溺")])
def test_coded_two_character_diagnosis_must_flag(engine: Engine, text: str, name: str) -> None:
    assert any(name in text[f.start : f.end] for f in engine.scan_text(text) if f.entity_type == "DIAGNOSIS")


@pytest.mark.parametrize("text", ["这场失利成了球队的梦魇", "最近眼袋明显"])  # figurative; no ICD-10 code
def test_uncoded_or_figurative_two_character_words_must_not_flag(engine: Engine, text: str) -> None:
    assert "DIAGNOSIS" not in entities(engine, text)


@pytest.mark.parametrize(
    "text",
    [
        "肺炎支原体抗体检测阳性",  # a pathogen's name
        "痰培养：肺炎链球菌",
        "今日接种肺炎疫苗",  # a vaccine
    ],
)
def test_disease_word_inside_a_pathogen_or_vaccine_name_is_not_a_diagnosis(engine: Engine, text: str) -> None:
    assert "DIAGNOSIS" not in entities(engine, text)


@pytest.mark.parametrize(
    "text", ["转入心脏病房", "心脏病区护士站", "心脏病床位紧张", "转入精神病房", "精神病院", "传染病房"]
)
def test_a_ward_word_across_the_hit_end_is_no_diagnosis(engine: Engine, text: str) -> None:
    # 心脏病房 is 心脏 + 病房 (a cardiac ward): the disease word 心脏病 is not written there
    found = entities(engine, text)
    assert "DIAGNOSIS" not in found and "SPECIAL_DISEASE" not in found


@pytest.mark.parametrize(
    "text, entity", [("心脏病", "DIAGNOSIS"), ("糖尿病人", "DIAGNOSIS"), ("既往精神病史", "SPECIAL_DISEASE")]
)
def test_the_same_words_without_a_ward_are_still_flagged(engine: Engine, text: str, entity: str) -> None:
    assert entity in entities(engine, text)


@pytest.mark.parametrize(
    "text", ["耐青霉素葡萄球菌", "耐万古霉素肠球菌", "耐甲氧西林金黄色葡萄球菌", "予耐甲氧西林", "用于耐链霉素结核病"]
)
def test_a_drug_name_after_nai_is_a_resistance_not_a_medication(engine: Engine, text: str) -> None:
    assert _drugs(engine, text) == []


@pytest.mark.parametrize(
    "text, name", [("对青霉素耐药", "青霉素"), ("予链霉素治疗", "链霉素"), ("耐药后改用利奈唑胺", "利奈唑胺")]
)
def test_a_drug_name_near_resistance_words_is_still_a_medication(engine: Engine, text: str, name: str) -> None:
    assert _drugs(engine, text) == [name]


@pytest.mark.parametrize(
    "text", ["颅内占位性病变待排", "考虑器质性病变", "退行性病理改变", "单纯性病例10例", "慢性病程", "急性病情加重"]
)
def test_xing_bingbian_is_not_an_std(engine: Engine, text: str) -> None:
    assert "SPECIAL_DISEASE" not in entities(engine, text)


def test_std_still_flagged_next_to_the_exclusion(engine: Engine) -> None:
    assert "SPECIAL_DISEASE" in entities(engine, "既往性病史")


# -- drug names by INN stem (patterns.yaml drug_inn_stem_zh) and dosage forms (drug_common.extend) --
def _drugs(engine: Engine, text: str) -> list[str]:
    return [text[f.start : f.end] for f in engine.scan_text(text) if f.entity_type == "DRUG"]


@pytest.mark.parametrize(
    "text, name",
    [
        ("予伏立康唑抗真菌", "伏立康唑"),  # -conazole, left edge after 予
        ("静滴两性霉素B", "两性霉素B"),  # -mycin + Latin suffix letter
        ("口服盐酸莫西沙星片", "盐酸莫西沙星片"),  # salt + -floxacin + tablet
        ("加用瑞舒伐他汀钙片", "瑞舒伐他汀钙片"),  # -vastatin + salt ion + tablet
        ("予哌拉西林他唑巴坦", "哌拉西林他唑巴坦"),  # two stems in one combination name
        ("改用美罗培南", "美罗培南"),  # -penem
        ("贝伐珠单抗联合化疗", "贝伐珠单抗"),  # -mab
        ("外用红霉素软膏", "红霉素软膏"),  # dictionary drug + dosage form
        ("阿莫西林胶囊口服", "阿莫西林胶囊"),
        ("既往对青霉素钠过敏", "青霉素钠"),  # an allergy history still names the medicine
        ("口服双羟萘酸噻嘧啶片", "双羟萘酸噻嘧啶片"),  # pamoate salt + generic stem + tablet
        ("予阿糖腺苷抗病毒", "阿糖腺苷"),  # stem of 单磷酸阿糖腺苷 (monophosphate)
        ("予丙酸氟替卡松治疗", "丙酸氟替卡松"),  # propionate ester
    ],
)
def test_drug_by_inn_stem_must_flag(engine: Engine, text: str, name: str) -> None:
    assert _drugs(engine, text) == [name]


# -- drug-class words (drug_class: 国家基本药物目录 categories; drug_common: name + 类) -----------
# Team decision (GB/T 39725 medication information is health data): a class word in a clinical
# sentence is a medication mention and is reported as DRUG, with a lower score than a named drug.
@pytest.mark.parametrize(
    "text, name",
    [
        ("应用抗生素治疗", "抗生素"),
        ("予抗生素治疗3天", "抗生素"),
        ("激素冲击治疗后好转", "激素"),  # bare 激素 with a treatment word nearby
        ("长期服用降压药", "降压药"),
        ("糖皮质激素减量", "糖皮质激素"),
        ("大环内酯类抗生素", "大环内酯类抗生素"),  # category word + right extension
        ("头孢菌素类", "头孢菌素类"),
        ("青霉素类过敏", "青霉素类"),  # named drug + 类 (drug_common extension)
        ("加用免疫抑制剂", "免疫抑制剂"),
        ("静脉注射造影剂", "造影剂"),
    ],
)
def test_drug_class_words_must_flag(engine: Engine, text: str, name: str) -> None:
    assert _drugs(engine, text) == [name]


def test_drug_class_word_scores_below_a_named_drug(engine: Engine) -> None:
    [cls] = [f for f in engine.scan_text("抗生素") if f.entity_type == "DRUG"]
    [named] = [f for f in engine.scan_text("阿莫西林") if f.entity_type == "DRUG"]
    assert cls.score < named.score


@pytest.mark.parametrize(
    "text",
    [
        "单抗",  # a stem alone
        "广西西林县",  # a county
        "看着地平线",  # horizon
        "激素",  # bare 激素 without a treatment word
        "丙酸与戊酸的沸点",  # a salt or ester word alone names no medicine
        "生长激素分泌不足",  # physiological hormones, not medication
        "甲状腺激素水平正常",
        "雄激素增高",
        "促肾上腺皮质激素释放激素",
    ],
)
def test_drug_class_lookalikes_must_not_flag(engine: Engine, text: str) -> None:
    assert _drugs(engine, text) == []


# -- English disease acronyms from CMeKG aliases (generated/diagnoses_acronyms.yaml) --------------
@pytest.mark.parametrize("text", ["成人SARS患者", "并发MODS", "诊断ARDS"])
def test_disease_acronym_must_flag(engine: Engine, text: str) -> None:
    assert "DIAGNOSIS" in entities(engine, text)


@pytest.mark.parametrize("text", ["sars-cov-2 lineage", "game mods folder", "GET /api/URI", "MODSECURITY on"])
def test_disease_acronym_must_not_flag(engine: Engine, text: str) -> None:
    assert "DIAGNOSIS" not in entities(engine, text)


@pytest.mark.parametrize("text", ["电流产生磁场", "气流产生涡旋"])
def test_abortion_term_not_inside_liu_chansheng(engine: Engine, text: str) -> None:
    assert "DIAGNOSIS" not in entities(engine, text)


def test_abortion_still_flagged(engine: Engine) -> None:
    assert "DIAGNOSIS" in entities(engine, "既往自然流产2次，人工流产1次")


# -- cores of modified CMeKG disease names (generated/diagnoses_zh_cores.txt) -------------------
@pytest.mark.parametrize(
    "text, name",
    [
        ("最常见的脑疝有两类", "脑疝"),  # CMeKG has only 急性脑疝
        ("并发多器官功能障碍综合征", "多器官功能障碍综合征"),  # CMeKG: 儿童多器官功能障碍综合征
        ("成人严重急性呼吸综合征", "成人严重急性呼吸综合征"),  # the extension grows the core back
    ],
)
def test_core_of_a_modified_disease_name_must_flag(engine: Engine, text: str, name: str) -> None:
    found = [text[f.start : f.end] for f in engine.scan_text(text) if f.entity_type == "DIAGNOSIS"]
    assert found == [name]


@pytest.mark.parametrize("text", ["遗传性疾病的分类", "心理疾病与社会", "妊娠期间的营养"])
def test_generic_head_nouns_are_no_cores(engine: Engine, text: str) -> None:
    assert "DIAGNOSIS" not in entities(engine, text)
