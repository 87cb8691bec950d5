"""NER detector kind: a statistical Chinese name tagger run on candidate windows only.

The rule detectors find a Chinese name next to a label, a role or a speech verb; a bare mention
("温格和范佩西都在场", "金庸的小说") has no such anchor, and only a model of the language can
tell a name from an ordinary word that happens to start with a surname character. We use jieba's
HMM part-of-speech tagger (``jieba.posseg``, tag ``nr`` = person name): pure Python, ships its
dictionary, no network at run time.

Cost is bounded: the tagger sees only runs of Han characters that contain a common surname
(``dictionaries/cn_surnames_common.txt``), at most ``max_chars`` characters per text. A tagged
word is kept only when it looks like a Chinese personal name (common surname + 1-2 characters, or
a compound surname + 1-2), is not a frequent dictionary word (``高峰``, ``金石``), is not a
place or organisation by its last character or the character after it (``李家沟``, ``王府``,
``石景山区``), and is not a documentation placeholder (张三, 李四). Scores start below the
label-anchored detectors (0.5 vs 0.6-0.9) and context words move them, as for patterns.

The registry is :data:`NER_DETECTORS` (one entry). The tagger is opt-in: switch it on in the site
tuning file (``detectors: {person_name_zh_ner: {enabled: true}}``); ``detectors.disabled`` and
``enabled: false`` switch it off again.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from detectors.hit import Hit, clamp, context_words

_DICT_DIR = Path(__file__).resolve().parent / "catalogue" / "dictionaries"
_HAN_RUN = regex.compile(r"\p{Han}{2,}")


@dataclass(frozen=True)
class NerSpec:
    id: str
    version: int
    entity: str
    score: float
    surnames_file: str
    context: tuple[str, ...]
    negative_context: tuple[str, ...]
    context_window: tuple[int, int] = (12, 8)
    context_boost: float = 0.2
    negative_boost: float = 0.4
    #: a tagged word more frequent than this in jieba's dictionary is an ordinary word
    max_word_freq: int = 100
    max_chars: int = 20_000  # per text: bounded cost on huge Chinese documents
    #: off unless switched on in the tuning file (``person_name_zh_ner: {enabled: true}``): the
    #: tagger costs more than the whole rule engine on Chinese-heavy traffic (docs/evaluation.md)
    default_enabled: bool = False
    examples: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()


#: Last characters (or the character right after) that make a "name" a place, an organisation or
#: a form of address rather than a person: 李家沟, 王府, 张总, 陈某, 石景山区.
_NOT_NAME_LAST = frozenset("总某氏村堡沟区山寨河岛卡宫环军队季府家门庄")
_NOT_NAME_NEXT = frozenset("区村路街市县镇乡省山河湖岛队宫寺堂庄园桥港湾楼府家沟堡寨")
#: Documentation and test placeholders ("John Doe"): reported only with a label (姓名：张三).
#: Surname + title (吴小姐, 王先生): a form of address, not the name (the suffix detector handles
#: the name before a title).
_TITLES = frozenset({"小姐", "先生", "女士", "老师", "医生", "大夫", "阿姨", "师傅"})
#: A given name of one clinical character is a clinical word (左乳, 涂阳, 谷丙转氨酶).
_CLINICAL = frozenset("乳肺肝肾胃肠脑眼耳鼻腿臂足腰颈胸腹膝踝阳阴丙甲乙肌骨")
#: Characters that never continue a name (the rule detectors' exclusion class).
_STOP = frozenset(
    "的了在是和与及于等从向把被对为也都就还又而但或说到将已个这那有没不入出院来去回因由以之其后前中上"
    "下时日月年岁男女性住患病诊治查术经给让请叫跟同称表医师护士院科室部处局委会长员"
)
_PLACEHOLDERS = frozenset({"张三", "李四", "王五", "赵六", "钱七", "孙八", "张三丰"})

NER_DETECTORS: dict[str, NerSpec] = {
    "person_name_zh_ner": NerSpec(
        id="person_name_zh_ner",
        version=1,
        entity="PERSON_NAME",
        score=0.5,
        surnames_file="cn_surnames_common.txt",
        context=(
            "患者", "病人", "家属", "医生", "医师", "大夫", "护士", "教授", "老师", "先生", "女士",
            "小姐", "记者", "表示", "说", "认为", "姓名", "联系人", "电话", "身份证", "出生",
        ),
        negative_context=("公司", "集团", "酒店", "大厦", "广场", "小区", "品牌", "牌", "路", "街"),
        examples=("昨天王建国和刘晓燕一起去了医院", "欧阳明华的检查结果已经出来"),
        counter_examples=("张三来了", "高峰时段请错峰出行", "李家沟村委会"),
    ),
}


def _read_list(name: str) -> frozenset[str]:
    path = _DICT_DIR / name
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))


class NameTagger:
    """One :class:`NerSpec`, ready to run: surname sets and a private jieba tokenizer (its
    dictionary is loaded once, when the engine is built, not on the first scan)."""

    def __init__(self, spec: NerSpec) -> None:
        import jieba  # deferred: loading the dictionary costs ~1 s, paid once per engine
        import jieba.posseg

        jieba.setLogLevel(logging.WARNING)
        self.spec = spec
        names = _read_list(spec.surnames_file)
        self.single = frozenset(n for n in names if len(n) == 1)
        self.compound = frozenset(n for n in names if len(n) == 2)
        self.window_chars = self.single | {n[0] for n in self.compound}  # 诸葛亮: 诸 opens a window
        self._tok: Any = jieba.posseg.POSTokenizer(jieba.Tokenizer())
        self._tok.tokenizer.initialize()
        self._freq: dict[str, int] = self._tok.tokenizer.FREQ

    def _is_name(self, word: str, nxt: str) -> bool:
        n = len(word)
        if not (
            (2 <= n <= 3 and word[0] in self.single)
            or (3 <= n <= 4 and word[:2] in self.compound)
        ):
            return False
        if n == 2 and word[1] in _CLINICAL:
            return False
        if word in _PLACEHOLDERS or word[-1] in _NOT_NAME_LAST or nxt in _NOT_NAME_NEXT or word[1:] in _TITLES:
            return False
        return self._freq.get(word, 0) <= self.spec.max_word_freq

    def run(self, text: str, stats: MutableMapping[str, int]) -> list[Hit]:
        spec = self.spec
        out: list[Hit] = []
        budget = spec.max_chars
        window_chars = self.window_chars
        for m in _HAN_RUN.finditer(text):
            run = m.group()
            if not any(c in window_chars for c in run):
                continue
            if budget <= 0:
                stats["ner_truncated"] = stats.get("ner_truncated", 0) + 1
                break
            budget -= len(run)
            stats["ner_chars"] = stats.get("ner_chars", 0) + len(run)
            pos = m.start()
            tokens = list(self._tok.cut(run))
            for i, (word, flag) in enumerate(tokens):
                s = pos
                pos += len(word)
                if flag != "nr":
                    continue
                nxt = tokens[i + 1].word if i + 1 < len(tokens) else ""
                e = pos
                # 诸葛明轩 is tagged 诸葛/nr + 明轩/nr: the compound surname takes the given name
                if word in self.compound and i + 1 < len(tokens) and tokens[i + 1].flag == "nr" and len(nxt) <= 2:
                    word, e = word + nxt, e + len(nxt)
                    nxt = tokens[i + 2].word if i + 2 < len(tokens) else ""
                # 欧阳明华 is tagged 欧阳明 + 华: a compound surname takes one more given-name
                # character when the tagger left it alone and it is not a function character
                if len(word) == 3 and word[:2] in self.compound and len(nxt) == 1 and nxt not in _STOP:
                    word, e = word + nxt, e + 1
                    nxt = tokens[i + 2].word if i + 2 < len(tokens) else ""
                if self._is_name(word, nxt[:1]):
                    hit = self._score(text, s, e)
                    if hit is not None:
                        out.append(hit)
        return out

    def _score(self, text: str, s: int, e: int) -> Hit | None:
        spec = self.spec
        score = spec.score
        ctx = context_words(text, s, e, spec.context, spec.context_window)
        if ctx:
            score += spec.context_boost
        neg = context_words(text, s, e, spec.negative_context, (0, 4))
        if neg:
            score -= spec.negative_boost
        score = clamp(score)
        if score < spec.score:  # never below the base: a negative word drops the candidate
            return None
        return Hit(
            spec.id, spec.version, spec.entity, s, e, score, text[s:e],
            pattern=spec.id, validator="jieba-posseg", validator_result="valid:nr",
            context_words=ctx,
        )


def build_taggers(
    entities: Collection[str], *, enabled: Collection[str] = (), disabled: Collection[str] = ()
) -> list[NameTagger]:
    """The NER detectors of the registry that are on (``default_enabled`` or listed in ``enabled``,
    and not in ``disabled``) and whose entity the catalogue defines. A missing jieba is a
    packaging error: the import error propagates rather than silently dropping the detector."""
    return [
        NameTagger(spec)
        for key, spec in NER_DETECTORS.items()
        if (spec.default_enabled or key in enabled) and key not in disabled and spec.entity in entities
    ]
