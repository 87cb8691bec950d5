"""The engine's fast paths must give exactly what the plain code they replaced gave.

Each speed-up (one-pass window merging, batched byte→char offsets, the CSV sniffer's cell count,
table Luhn, the single context haystack, the regex clause bounds) is checked against a straightforward reference written
here, on generated inputs; then both prefilter backends must agree finding for finding on mixed
generated traffic (non-ASCII offsets, dense candidates, HL7, JSON and CSV payloads).
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import build_engine
from detectors.hit import context_words
from detectors.pattern import _CLAUSE_ENDS, _same_clause
from detectors.prefilter import _GAP, _merge_ends, char_offsets, encode
from detectors.structured.tabular import DELIMS, _cell_count, split_row
from detectors.validators import luhn_ok
from model.config import DetectorsConfig
from tests.detectors.conftest import KEY, gb11643_complete, luhn_complete


def _merge_reference(ends: list[int], before: int, after: int, n: int) -> list[tuple[int, int]]:
    spans = sorted((max(0, e - before), min(n, e + after)) for e in ends)
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and s <= out[-1][1] + _GAP:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 2000), max_size=40),
    st.integers(0, 300),
    st.integers(0, 300),
    st.integers(1, 2000),
)
def test_window_merge_matches_the_reference(ends: list[int], before: int, after: int, n: int) -> None:
    ends = [min(e, n) for e in ends]
    assert _merge_ends(list(ends), before, after, n) == _merge_reference(ends, before, after, n)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab 1中文𝔘é\u2028"), max_size=60), st.data())
def test_byte_offsets_map_to_character_offsets(text: str, data: st.DataObject) -> None:
    raw = encode(text)
    boundaries = [len(encode(text[:i])) for i in range(len(text) + 1)]
    picks = data.draw(st.lists(st.sampled_from(boundaries), max_size=20))
    got = char_offsets(raw, picks)
    assert got == {b: boundaries.index(b) for b in picks}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(' ,;|\t"ab中\r\x0b'), min_size=1, max_size=30))
def test_csv_cell_count_matches_split_row(line: str) -> None:
    for d in DELIMS:
        assert _cell_count(line, 0, len(line), d) == len(split_row(line, 0, len(line), d))


def _luhn_reference(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789", max_size=20))
def test_luhn_table_matches_the_reference(digits: str) -> None:
    assert luhn_ok(digits) is _luhn_reference(digits)
    if digits:
        assert luhn_ok(luhn_complete(digits)) is True


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("abcAB卡号 ΣσςİI"), max_size=40),
    st.integers(0, 40),
    st.integers(0, 40),
    st.lists(st.sampled_from(["ab", "卡号", "card", "bc", "ς", "σ", "i̇", "b c"]), max_size=5),
    st.tuples(st.integers(0, 12), st.integers(0, 12)),
)
def test_context_words_match_the_two_haystack_reference(
    text: str, s: int, length: int, words: list[str], window: tuple[int, int]
) -> None:
    s = min(s, len(text))
    e = min(len(text), s + length)
    before = text[max(0, s - window[0]) : s].lower()
    after = text[e : e + window[1]].lower()
    expected = tuple(w for w in words if w in before or w in after)
    assert context_words(text, s, e, tuple(words), window) == expected


def _traffic(rng: random.Random) -> list[str]:
    """Mixed events: free text with identifiers, HL7, JSON records, a CSV export, benign logs."""
    events = []
    for i in range(40):
        rid = gb11643_complete(f"1101051980{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}")
        card = luhn_complete("6222" + "".join(str(rng.randint(0, 9)) for _ in range(14)))
        phone = f"13{rng.randint(0, 9)}{rng.randint(0, 99999999):08d}"
        events += [
            f"患者：王{'伟芳'[i % 2]}，身份证号：{rid}，联系电话：{phone}，诊断：高血压。既往艾滋病病史，"
            f"银行卡号 {card}。订单号 {rng.randint(10**17, 10**18)} trace={rng.getrandbits(64):016x}\n"
            f"Patient admitted with pneumonia; contact dr.{i}@hospital.example.cn 北京市朝阳区建国路88号\n",
            f"MSH|^~\\&|HIS|H1|LIS|H1|20231125083000||ADT^A01|M{i}|P|2.5\rPID|1||ZY{rng.randint(10**6, 10**7)}^^^H1^MR"
            f"~{rid}^^^CHN^NI||张三^||19800101|M|||北京市朝阳区^^北京^^100020||{phone}\rDG1|1||B20^艾滋病^I10\r",
            f'{{"patientName":"李娜","idCard":"{rid}","phone":"{phone}","icd10":"E11.9",'
            f'"orderId":"{rng.randint(10**18, 10**19)}","ts":{rng.randint(10**12, 10**13)}}}\n',
            f"姓名,身份证号,手机\n赵敏,{rid},{phone}\n孙强,{rid},{phone}\n",
            f"2023-11-25 08:30:{rng.randint(10, 59)}.123 INFO [pool-1] tick id={rng.randint(10**10, 10**11)} "
            f"queue=B{rng.randint(10, 99)} GET /api/v1/orders/{rng.randint(10**17, 10**18)}\n",
        ]
    return events


def test_backends_agree_on_generated_mixed_traffic() -> None:
    """The Python fallback has no byte offsets and no Hyperscan windows: it is an independent
    route to the same candidates, so any drift in the fast paths shows up as a difference here."""
    hs = build_engine(DetectorsConfig(), KEY, prefilter="hyperscan")
    py = build_engine(DetectorsConfig(), KEY, prefilter="python")
    total = 0
    for text in _traffic(random.Random(7)):
        a = hs.scan_text(text)
        assert a == py.scan_text(text), text[:80]
        total += len(a)
    assert total > 400  # the traffic really exercises the detectors
    assert hs.stats["structured_csv"] >= 40 and hs.stats["structured_hl7v2"] >= 40


def _clause_reference(text: str, s: int, e: int, before: int, after: int) -> tuple[int, int]:
    """The nearest clause end on each side, found one end character at a time."""
    lo = max(0, s - before)
    cut = max(text.rfind(c, lo, s) for c in _CLAUSE_ENDS)
    if cut >= 0:
        before = s - cut - 1
    hi = min(len(text), e + after)
    ends = [i for i in (text.find(c, e, hi) for c in _CLAUSE_ENDS) if i >= 0]
    if ends:
        after = min(ends) - e
    return before, after


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="ab 12订" + _CLAUSE_ENDS, max_size=60),
    st.integers(0, 60),
    st.integers(0, 60),
    st.integers(0, 50),
    st.integers(0, 15),
)
def test_same_clause_equals_reference(text: str, a: int, b: int, before: int, after: int) -> None:
    s, e = sorted((min(a, len(text)), min(b, len(text))))
    assert _same_clause(text, s, e, before, after) == _clause_reference(text, s, e, before, after)
