"""`healthdlp detect --jsonl` and `healthdlp eval` (healthdlp/cmd_detect.py), through a parser
built the way healthdlp/cli.py registers command modules."""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path

import pytest

from healthdlp import cmd_detect


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> int:
    monkeypatch.setenv("HEALTHDLP_HASH_KEY", "test-key")
    monkeypatch.delenv("HEALTHDLP_CONFIG", raising=False)
    p = argparse.ArgumentParser()
    p.add_argument("--config")
    cmd_detect.register(p.add_subparsers())
    args = p.parse_args(argv)
    return int(args.func(args))


def test_detect_prints_one_line_per_input_with_character_offsets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "患者：李四，联系电话：13812345678，诊断：艾滋病"
    gb = "姓名：张三 身份证号：11010519491231002X".encode("gb18030")
    lines = [
        json.dumps({"id": "a", "text": text}, ensure_ascii=False),
        json.dumps({"id": "b", "text": "nothing here"}),
        "{broken",
        json.dumps({"id": "d", "content_b64": base64.b64encode(gb).decode()}),
    ]
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc = _run(["detect", "--jsonl", str(f)], monkeypatch, tmp_path)
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rc == 1  # one bad line, the others still answered
    assert [o["id"] for o in out] == ["a", "b", 3, "d"]
    a = out[0]["findings"]
    assert {"PERSON_NAME", "PHONE_NUMBER", "SPECIAL_DISEASE"} <= {x["type"] for x in a}
    phone = next(x for x in a if x["type"] == "PHONE_NUMBER")
    assert text[phone["start"] : phone["end"]] == "13812345678"
    assert set(phone) == {"start", "end", "type", "score", "category", "level"}
    assert phone["category"] == "personal_attribute" and phone["level"] == 4
    assert out[1]["findings"] == [] and out[2]["error"] == "bad-json"
    assert "CN_RESIDENT_ID" in {x["type"] for x in out[3]["findings"]}  # GB18030 bytes sniffed
    assert "13812345678" not in json.dumps(out)  # findings never echo values


def test_eval_reports_per_type_and_micro_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recs = [
        {"id": 1, "text": "联系电话：13812345678", "spans": [{"start": 5, "end": 16, "type": "PHONE_NUMBER"}]},
        {"id": 2, "text": "订单号 13812345678 已发货", "spans": []},
        {"id": 3, "text": "邮箱 a.b@example.com", "spans": [{"start": 3, "end": 18, "type": "EMAIL_ADDRESS"}]},
    ]
    f = tmp_path / "c.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs), encoding="utf-8")
    assert _run(["eval", str(f), "--json"], monkeypatch, tmp_path) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["records"] == 3
    assert rep["types"]["PHONE_NUMBER"]["tp"] == 1 and rep["types"]["PHONE_NUMBER"]["fp"] == 0
    assert rep["micro"]["precision"] == 1.0 and rep["micro"]["recall"] == 1.0
    assert _run(["eval", str(f), "--progress"], monkeypatch, tmp_path) == 0
    io = capsys.readouterr()
    assert "micro (all types)" in io.out and "F2" in io.out
    assert "3/3 records" in io.err  # the progress bar


def test_eval_rejects_a_bad_corpus_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "c.jsonl"
    f.write_text('{"text": "ok"}\n{"text": "abc", "spans": [{"start": 0, "end": 99, "type": "X"}]}\n')
    assert _run(["eval", str(f)], monkeypatch, tmp_path) == 2
    assert "line 2" in capsys.readouterr().err
