from __future__ import annotations

import pytest

from detectors import Engine
from detectors.hashing import ValueHasher, normalize

H = ValueHasher(b"k1")


@pytest.mark.parametrize(
    "kind, a, b",
    [
        ("resident_id", "11010519491231002X", "11010519491231002x"),
        ("resident_id", "110105 19491231 002X", "11010519491231002X"),
        ("phone", "+86 138-1234-5678", "13812345678"),
        ("phone", "0086 13812345678", "138 1234 5678"),
        ("email", "Zhang.San@Example.COM", "zhang.san@example.com"),
        ("digits", "6222 0212 3456 7890 128", "6222021234567890128"),
        ("name", "张^三", "张三"),
        ("date", "1985-11-20", "19851120"),
    ],
)
def test_same_value_in_different_formats_hashes_the_same(kind: str, a: str, b: str) -> None:
    assert H.hash(kind, a) == H.hash(kind, b)


def test_hash_is_keyed_truncated_and_namespaced() -> None:
    h = H.hash("phone", "13812345678")
    assert len(h) == 32 and int(h, 16) >= 0
    assert ValueHasher(b"k2").hash("phone", "13812345678") != h
    assert H.hash("digits", "13812345678") != h  # same digits, different kind of value
    assert H.hash("phone", "13812345679") != h
    assert "k1" not in repr(H)


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError):
        ValueHasher(b"")


def test_normalizers() -> None:
    assert normalize("phone", "+86 138-1234-5678") == "13812345678"
    assert normalize("resident_id", "11010519491231002x") == "11010519491231002X"
    assert normalize("email", " A@B.CN ") == "a@b.cn"


def test_engine_findings_for_the_same_subject_share_a_hash(engine: Engine) -> None:
    a = engine.scan_text("电话 +86 138-1234-5678")
    b = engine.scan_text("tel 13812345678")
    assert a[0].value_hash == b[0].value_hash
