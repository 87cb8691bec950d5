from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

from sensors.logs.tail import HEAD_BYTES, FileReader, Line, Tailer, expand


def data(batches: list[tuple[FileReader, list[Line]]]) -> list[bytes]:
    return [ln.data for _, lines in batches for ln in lines]


def append(path: Path, text: bytes) -> None:
    with open(path, "ab") as f:
        f.write(text)


def test_partial_line_waits_for_its_newline(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    p.write_bytes(b"one\r\ntw")
    r = FileReader.open(str(p), 1 << 20)
    lines = r.read_lines(1 << 20)
    assert [(ln.data, ln.offset, ln.end, ln.number) for ln in lines] == [(b"one", 0, 5, 1)]
    assert r.offset == 5 and r.read_lines(1 << 20) == []
    append(p, b"o\nthree\n")
    got = [(ln.data, ln.offset, ln.number) for ln in r.read_lines(1 << 20)]
    assert got == [(b"two", 5, 2), (b"three", 9, 3)]
    r.close()


def test_over_long_line_is_cut_and_skipped_across_reads(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    p.write_bytes(b"ok\n" + b"x" * 40)
    r = FileReader.open(str(p), 16)
    lines = r.read_lines(1 << 20)
    assert [(ln.data, ln.too_long) for ln in lines] == [(b"ok", False), (b"x" * 16, True)]
    append(p, b"y" * 30)
    assert r.read_lines(1 << 20) == []  # still inside the long line: discarded
    append(p, b"z\nnext\n" + b"w" * 20 + b"\n")
    lines = r.read_lines(1 << 20)
    assert [(ln.data, ln.too_long, ln.number) for ln in lines] == [(b"next", False, 3), (b"w" * 16, True, 4)]
    assert r.offset == p.stat().st_size and not r.skipping
    r.close()


def test_head_ids_are_stable_as_the_file_grows(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    p.write_bytes(b"first\n")
    r = FileReader.open(str(p), 1 << 20)
    early = r.head_id(6)
    append(p, b"y" * 2000 + b"\n")
    r.read_lines(1 << 20)
    assert r.head_id(6) == early  # the first line keeps its id base
    assert len(r.head) == HEAD_BYTES and r.head_id(2007) == r.fp
    r.close()


def test_rename_rotation_mid_line_finishes_old_file_first(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    p = logs / "app.log"
    w = open(p, "ab", buffering=0)  # the application's descriptor
    w.write(b"l1\nl2\npart")
    counters: Counter[str] = Counter()
    t = Tailer([str(logs / "*.log")], 1 << 20, counters, drain_idle=0.0)
    assert data(t.poll(1 << 20)) == [b"l1", b"l2"]
    os.rename(p, logs / "app.log.1")  # logrotate renames ...
    w.write(b"ial\nl3\n")  # ... the application finishes its line in the old file ...
    w.close()
    p.write_bytes(b"n1\nn2\n")  # ... and reopens (create)
    assert data(t.poll(1 << 20)) == [b"partial", b"l3", b"n1", b"n2"]
    assert counters["files-rotated"] == 1
    append(p, b"n3\n")
    assert data(t.poll(1 << 20)) == [b"n3"]
    assert counters["files-closed"] == 1 and len(t.readers) == 1  # the drained old file is closed
    t.close()


def test_copytruncate_reads_unread_tail_from_the_copy(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    p = logs / "app.log"
    p.write_bytes(b"l1\nl2\n")
    counters: Counter[str] = Counter()
    t = Tailer([str(logs / "*.log")], 1 << 20, counters, drain_idle=0.0)
    assert data(t.poll(1 << 20)) == [b"l1", b"l2"]
    append(p, b"l3\nl4\n")  # written, not yet read when logrotate runs
    shutil.copyfile(p, logs / "app.log.1")
    with open(p, "r+b") as f:
        f.truncate(0)
    append(p, b"n1\n")
    assert data(t.poll(1 << 20)) == [b"l3", b"l4", b"n1"]
    assert counters["files-truncated"] == 1 and counters["copytruncate-recovered"] == 1
    t.close()


def test_truncation_without_copy_restarts_at_zero_and_counts(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(b"l1\nl2\n")
    counters: Counter[str] = Counter()
    t = Tailer([str(p)], 1 << 20, counters)
    assert data(t.poll(1 << 20)) == [b"l1", b"l2"]
    with open(p, "r+b") as f:
        f.truncate(0)
    append(p, b"n1\n")
    assert data(t.poll(1 << 20)) == [b"n1"]
    assert counters["copytruncate-unrecovered"] == 1
    t.close()


def test_truncate_and_regrow_past_offset_is_caught_by_the_fingerprint(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(b"l1\nl2\n")
    t = Tailer([str(p)], 1 << 20, Counter())
    assert data(t.poll(1 << 20)) == [b"l1", b"l2"]
    p.write_bytes(b"other content 1\nother content 2\n")  # truncates (same inode) and grows beyond
    assert data(t.poll(1 << 20)) == [b"other content 1", b"other content 2"]
    t.close()


def test_glob_discovers_new_files(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(b"a1\n")
    (tmp_path / "skip.txt").write_bytes(b"nope\n")
    t = Tailer([str(tmp_path / "*.log")], 1 << 20, Counter())
    assert data(t.poll(1 << 20)) == [b"a1"]
    sub = tmp_path / "b.log"
    sub.write_bytes(b"b1\n")
    assert data(t.poll(1 << 20)) == [b"b1"]
    assert data(t.poll(1 << 20)) == []
    t.close()


def test_expand_recursive_and_missing(tmp_path: Path) -> None:
    (tmp_path / "x" / "y").mkdir(parents=True)
    (tmp_path / "x" / "y" / "deep.log").write_bytes(b"")
    (tmp_path / "top.log").write_bytes(b"")
    found = expand([str(tmp_path / "**" / "*.log"), str(tmp_path / "absent.log"), str(tmp_path)])
    assert found == sorted([str(tmp_path / "top.log"), str(tmp_path / "x" / "y" / "deep.log")])


def test_same_file_matched_twice_is_read_once(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    p.write_bytes(b"a1\n")
    (tmp_path / "link.log").symlink_to(p)
    t = Tailer([str(tmp_path / "*.log")], 1 << 20, Counter())
    assert data(t.poll(1 << 20)) == [b"a1"]
    t.close()
