from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from detectors.edm import EdmIndex, fingerprint
from healthdlp import cmd_edm


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="healthdlp")
    cmd_edm.register(p.add_subparsers(dest="command"))
    return p


@pytest.fixture()
def key(monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setenv("HEALTHDLP_HASH_KEY", "cmd-edm-test-key")
    monkeypatch.delenv("HEALTHDLP_CONFIG", raising=False)
    return b"cmd-edm-test-key"


@pytest.mark.parametrize(
    "content, encoding",
    [
        ("姓名,身份证号,病案号,出生日期\n张三,11010519491231002X,ZY001,1949-12-31\n李四,,ZY002,\n", "utf-8-sig"),
        ("name\tid_card\tmrn\tdob\n张三\t11010519491231002X\tZY001\t19491231\n李四\t\tZY002\t\n", "gb18030"),
    ],
)
def test_build_writes_fingerprints_only(
    tmp_path: Path, key: bytes, content: str, encoding: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "mpi.csv"
    src.write_bytes(content.encode(encoding))
    out = tmp_path / "mpi.edm"
    args = _parser().parse_args(["edm", "build", str(src), "-o", str(out)])
    assert args.func(args) == 0
    assert "4 fingerprints" in capsys.readouterr().out
    data = out.read_bytes()
    assert "张三".encode() not in data and b"11010519491231002X" not in data and b"ZY001" not in data
    idx = EdmIndex(out, key)
    assert fingerprint(key, "id", "张三", "11010519491231002X") in idx
    assert fingerprint(key, "mrn", "李四", "ZY002") in idx
    assert fingerprint(key, "dob", "张三", "19491231") in idx


def test_default_output_name(tmp_path: Path, key: bytes) -> None:
    src = tmp_path / "mpi.csv"
    src.write_text("name,mrn\nA B,123\n", encoding="utf-8")
    args = _parser().parse_args(["edm", "build", str(src)])
    assert args.func(args) == 0 and (tmp_path / "mpi.csv.edm").exists()


@pytest.mark.parametrize("content", ["", "foo,bar\n1,2\n", "name\nA\n"])
def test_unusable_index_is_a_clear_error(
    tmp_path: Path, key: bytes, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "mpi.csv"
    src.write_text(content, encoding="utf-8")
    args = _parser().parse_args(["edm", "build", str(src)])
    assert args.func(args) == 2
    assert "healthdlp edm:" in capsys.readouterr().err
