"""Parse accuracy of the log sensor's formats on third-party samples (never copied into the repo).

Reads the corpora in ``--corpora`` (default /work/shared/corpora, see its SOURCES.md) and prints,
per source and format, how many labelled records the parser handled as the labels say:

* wazuh-ruleset-tests: lines whose expected decoder is auditd, web-accesslog, kernel (USB), Sysmon
  JSON (``win.system``) must parse (positives); apache/nginx *error-log* lines must NOT become
  access events (negatives);
* go-libaudit-testdata: every raw record against the golden parse (type, sequence, timestamp and
  the fields both sides keep: pid, uid, auid, exe, comm, name, cwd, key, syscall number);
* pgaudit expected output: each ``AUDIT:`` record (multi-line statements included): class and
  command as in the line (an independent regex reads the labels);
* elastic-examples-weblogs: Apache combined lines that must parse (10 000 lines);
* loghub-2k: Linux, OpenSSH, Apache error, HealthApp, Mac, Windows, Android, Proxifier logs as
  negatives: no event and no dead letter may come out of formats they are not;
* evtx-attack-samples-sysmon: every record of every file through ``evtx``; Sysmon event 11
  records must become file events.

    .venv/bin/python bench/eval_logs.py [--corpora DIR]
"""

from __future__ import annotations

import argparse
import configparser
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.config import LogsConfig  # noqa: E402
from sensors.logs import scan_log_file  # noqa: E402
from sensors.logs.formats import make_parser  # noqa: E402
from sensors.logs.formats.auditd import parse_record  # noqa: E402
from sensors.logs.formats.base import LineContext, ParseError  # noqa: E402

ROWS: list[tuple[str, str, int, int, str]] = []  # source, format, ok, total, note


def row(source: str, fmt: str, ok: int, total: int, note: str = "") -> None:
    ROWS.append((source, fmt, ok, total, note))


def ctx(counters: Counter[str] | None = None, n: int = 1) -> LineContext:
    return LineContext("eval", n, n * 100, "h", "eval", time.time(), counters or Counter())


def parse_one(fmt: str, line: str, cfg: LogsConfig) -> tuple[list[Any] | None, str]:
    p = make_parser(fmt, cfg)
    try:
        got = p.parse(line.encode("utf-8"), ctx())
        got = (got or []) + p.finish(ctx())
        return got, ""
    except ParseError as e:
        return None, e.reason


# -- wazuh ------------------------------------------------------------------------------------------------
def wazuh_cases(d: Path) -> list[tuple[str, str, str]]:
    """(file, decoder, line) of every 'pass' case."""
    out = []
    for ini in sorted((d / "ruleset" / "testing" / "tests").glob("*.ini")):
        cp = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            cp.read(ini, encoding="utf-8")
        except configparser.Error:
            continue
        for sec in cp.sections():
            dec = cp[sec].get("decoder", "").strip()
            for k, v in cp[sec].items():
                if k.startswith("log ") and k.endswith("pass"):
                    out.append((ini.stem, dec, v))
    return out


def eval_wazuh(d: Path, cfg: LogsConfig) -> None:
    cases = wazuh_cases(d)
    groups: dict[str, list[str]] = {"auditd": [], "web-accesslog": [], "kernel_usb": [], "sysmon-json": [],
                                    "errorlog": [], "win-security-json": []}
    for stem, dec, line in cases:
        if dec == "auditd":
            groups["auditd"].append(line)
        elif dec == "web-accesslog":
            groups["web-accesslog"].append(line)
        elif stem == "kernel_usb":
            groups["kernel_usb"].append(line)
        elif dec == "json" and stem.startswith("sysmon"):
            groups["sysmon-json"].append(line)
        elif dec == "json" and stem.startswith("win_security"):
            groups["win-security-json"].append(line)
        elif dec in ("apache-errorlog", "nginx-errorlog"):
            groups["errorlog"].append(line)
    ok = sum(1 for ln in groups["auditd"] if _audit_ok(ln))
    row("wazuh auditd.ini", "auditd", ok, len(groups["auditd"]), "record parses (type, serial, fields)")
    ok = sum(1 for ln in groups["web-accesslog"] if (parse_one("access-log", ln, cfg)[0] or []))
    row("wazuh web-accesslog", "access-log", ok, len(groups["web-accesslog"]),
        "common/combined parse (IIS W3C lines are not supported)")
    p = make_parser("usb-kernel", cfg)
    bad = 0
    for i, ln in enumerate(groups["kernel_usb"]):
        try:
            p.parse(ln.encode(), ctx(n=i + 1))
        except ParseError:
            bad += 1
    row("wazuh kernel_usb.ini", "usb-kernel", len(groups["kernel_usb"]) - bad, len(groups["kernel_usb"]),
        "USB lines accepted without dead letter")
    ok = tot11 = 0
    parsed = 0
    from sensors.logs.formats.windows import normalize

    for ln in groups["sysmon-json"]:
        try:
            rec = json.loads(ln)
        except ValueError:
            continue
        ev = normalize(rec)
        if ev is None:
            continue
        parsed += 1
        if ev.event_id == 11:
            tot11 += 1
            got, _ = parse_one("windows-event", ln, cfg)
            ok += bool(got)
    row("wazuh sysmon*.ini", "windows-event", parsed, len(groups["sysmon-json"]), "event id and data normalized")
    row("wazuh sysmon_eid_11", "windows-event", ok, tot11, "FileCreate -> file event")
    fp = sum(1 for ln in groups["errorlog"] if (parse_one("access-log", ln, cfg)[0] or []))
    row("wazuh apache/nginx error logs", "access-log (negatives)", len(groups["errorlog"]) - fp,
        len(groups["errorlog"]), "must NOT be access events")


def _audit_ok(line: str) -> bool:
    try:
        return parse_record(line) is not None
    except ValueError:
        return False


# -- go-libaudit ------------------------------------------------------------------------------------------
_GOLD_FIELDS = ("pid", "uid", "auid", "exe", "comm", "name", "cwd", "key", "ppid", "ses", "tty", "op", "acct")


def eval_libaudit(d: Path) -> None:
    total = ok = fields_total = fields_ok = 0
    for log in sorted((d / "auparse" / "testdata").glob("*.log")):
        gold_path = log.with_suffix(".log.golden")
        if not gold_path.exists():
            continue
        gold = json.loads(gold_path.read_text())
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        for ln, g in zip(lines, gold, strict=False):
            total += 1
            try:
                rec = parse_record(ln)
            except ValueError:
                rec = None
            if g is None:  # the golden parse rejects the record too (e.g. "type=UNKNOWN[1329] msg=?")
                ok += rec is None
                continue
            if rec is None:
                continue
            ts_ok = abs(rec.ts - _iso(g["@timestamp"])) < 0.002
            if rec.type.lower() == g["record_type"].lower() and rec.serial == g["sequence"] and ts_ok:
                ok += 1
            data = g.get("data", {})
            for k in _GOLD_FIELDS:
                gv = data.get(k)
                if gv is None or k not in rec.fields or gv in ("unset",):
                    continue
                fields_total += 1
                fields_ok += str(gv) == rec.fields[k]
    row("go-libaudit auparse golden", "auditd", ok, total, "record type + sequence + timestamp")
    row("go-libaudit auparse golden", "auditd fields", fields_ok, fields_total,
        "pid/uid/auid/exe/comm/name/cwd/key/... values (hex decoded)")


def _iso(s: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


# -- pgaudit ----------------------------------------------------------------------------------------------
_PG_LABEL = re.compile(r"AUDIT: (SESSION|OBJECT),\d+,\d+,([A-Z_]+),([^,]+),")


def eval_pgaudit(d: Path, cfg: LogsConfig, tmp: Path) -> None:
    src = d / "expected" / "pgaudit.out"
    labels = [(m.group(2), m.group(3)) for m in _PG_LABEL.finditer(src.read_text())]
    f = tmp / "pg.log"
    f.write_bytes(src.read_bytes())
    events, dead, _ = scan_log_file(str(f), cfg, "eval", fmt="pgaudit")
    got = [(e.attributes.get("audit_class"), e.attributes.get("command")) for e in events]
    ok = sum(1 for a, b in zip(got, labels, strict=False) if a == b)
    row("pgaudit expected/pgaudit.out", "pgaudit", ok, len(labels),
        f"class+command in order; {len(events)} events, {len(dead)} dead letters")


# -- weblogs ----------------------------------------------------------------------------------------------
def eval_weblogs(d: Path, cfg: LogsConfig) -> None:
    src = d / "Common Data Formats" / "apache_logs" / "apache_logs"
    n = sum(1 for ln in src.read_bytes().splitlines() if ln.strip())
    t = time.perf_counter()
    events, dead, stats = scan_log_file(str(src), cfg, "eval")
    dt = time.perf_counter() - t
    row("elastic apache_logs", "access-log", len(events), n,
        f"detected {next((k for k in stats if k.startswith('format-detected')), '?')}; {len(dead)} dead letters; "
        f"{n / dt:,.0f} lines/s")


# -- loghub negatives -------------------------------------------------------------------------------------
def eval_loghub(d: Path, cfg: LogsConfig) -> None:
    for src in sorted(d.glob("*/*_2k.log")):
        events, dead, stats = scan_log_file(str(src), cfg, "eval")
        detected = next((k.split(".", 1)[1] for k in stats if k.startswith("format-detected")), "?")
        n = stats.get("lines-read", 0)
        wrong = len(events) if detected not in ("usb-kernel",) else sum(1 for e in events if e.channel != "usb")
        row(f"loghub {src.stem}", f"auto -> {detected} (negatives)", n - wrong - len(dead) * (detected != "unknown"),
            n, f"{len(events)} events, {len(dead)} dead letters")


# -- evtx -------------------------------------------------------------------------------------------------
def eval_evtx(d: Path, cfg: LogsConfig) -> None:
    from sensors.logs.formats.evtx_file import iter_records

    files = sorted(d.rglob("*.evtx"))
    records = bad = eid11 = file_events = 0
    t = time.perf_counter()
    import os

    for f in files:
        fd = os.open(f, os.O_RDONLY)
        try:
            for _, data, err in iter_records(fd):
                if err:
                    bad += 1
                    continue
                records += 1
                sysd = (data or {}).get("Event", {}).get("System", {})
                if sysd.get("EventID") == 11 and "Sysmon" in json.dumps(sysd.get("Provider", "")):
                    eid11 += 1
        finally:
            os.close(fd)
        events, _, _ = scan_log_file(str(f), cfg, "eval")
        file_events += sum(1 for e in events if e.attributes.get("windows_event_id") == 11)
    dt = time.perf_counter() - t
    row("evtx-attack-samples (166 files)", "evtx", records, records + bad, f"records read; {records / dt:,.0f} rec/s "
        "(read twice)")
    row("evtx-attack-samples Sysmon 11", "evtx -> windows-event", file_events, eid11, "FileCreate -> file event")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", default="/work/shared/corpora")
    args = ap.parse_args()
    base = Path(args.corpora)
    cfg = LogsConfig(sample_files=False)
    with tempfile.TemporaryDirectory() as tmp:
        steps = [("wazuh-ruleset-tests", lambda p: eval_wazuh(p, cfg)), ("go-libaudit-testdata", eval_libaudit),
                 ("pgaudit", lambda p: eval_pgaudit(p, cfg, Path(tmp))),
                 ("elastic-examples-weblogs", lambda p: eval_weblogs(p, cfg)),
                 ("loghub-2k", lambda p: eval_loghub(p, cfg)),
                 ("evtx-attack-samples-sysmon", lambda p: eval_evtx(p, cfg))]
        for name, fn in steps:
            p = base / name
            if p.exists():
                fn(p)
            else:
                print(f"(skipped {name}: not found under {base})", file=sys.stderr)
    w = max(len(r[0]) for r in ROWS) if ROWS else 10
    print(f"{'source':<{w}}  {'format':<30} {'ok':>7} {'total':>7} {'accuracy':>9}  note")
    for source, fmt, ok, total, note in ROWS:
        acc = f"{100 * ok / total:.1f}%" if total else "-"
        print(f"{source:<{w}}  {fmt:<30} {ok:>7} {total:>7} {acc:>9}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
