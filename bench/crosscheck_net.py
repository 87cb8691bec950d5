"""Cross-check the network sensor's protocol and encryption verdicts against third-party ground truth.

Usage: .venv/bin/python bench/crosscheck_net.py [--corpora DIR] [--verbose]

- nDPI (``ndpi-pcaps/tests/cfgs/default``): each ``result/<pcap>.out`` lists nDPI's per-flow
  protocol and its ``ClearText``/``Encrypted`` flag.
- Zeek (``zeek-traces/testing/btest``): ``Baseline/<test>/conn.*`` gives the ``service`` column per
  connection (``ssl`` = TLS seen), and ``INDEX_test_to_trace.tsv`` maps each test to its trace.

Only TCP flows that carried payload are compared (UDP is out of scope; SYN-only flows have no
protocol). A protocol verdict agrees when our protocol (``FlowSummary.protocol``, ``smtp+tls``
counts as smtp and as tls) is among those the reference name maps to; "other" (a protocol we do
not parse) agrees with our "" (unrecognised). The corpora are read in place, never copied.
Prints one table per corpus and, with --verbose, every disagreement.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from model.config import NetConfig  # noqa: E402
from model.events import DeadLetter, Event  # noqa: E402
from sensors.net import NetSensor  # noqa: E402
from sensors.net.session import FlowSummary  # noqa: E402

#: Reference protocol name → our protocol names that agree with it.
NDPI: dict[str, set[str]] = {
    "HTTP": {"http"}, "HTTP_Proxy": {"http"}, "HTTP_Connect": {"http"}, "TLS": {"tls"},
    "SMTP": {"smtp"}, "SMTPS": {"smtp", "tls"}, "IMAP": {"imap"}, "IMAPS": {"imap", "tls"}, "POP3": {"pop3"},
    "POPS": {"pop3", "tls"}, "POP3S": {"pop3", "tls"}, "FTP_CONTROL": {"ftp"}, "FTPS": {"ftp", "tls"},
    "FTP_DATA": {"ftp-data"}, "HL7": {"hl7-mllp"}, "PostgreSQL": {"postgres"}, "MySQL": {"mysql"},
    "DICOM": {"dicom"},
}
ZEEK: dict[str, set[str]] = {
    "http": {"http"}, "ssl": {"tls"}, "smtp": {"smtp"}, "ftp": {"ftp"}, "ftp-data": {"ftp-data"},
    "pop3": {"pop3"}, "imap": {"imap"}, "postgresql": {"postgres"}, "mysql": {"mysql"},
}
_NDPI_FLOW = re.compile(r"^\s*\d+\s+TCP\s+(\S+)\s+(?:<->|->)\s+(\S+)\s+.*?\[proto: [\d.]+/([\w.]+)\]")

Key = frozenset[tuple[str, int]]


def _hostport(s: str) -> tuple[str, int]:
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


class _Null:
    def emit(self, event: Event) -> None:
        return None

    def dead_letter(self, letter: DeadLetter) -> None:
        return None

    def flush(self) -> None:
        return None


def ours(pcap: Path) -> dict[Key, FlowSummary]:
    flows: dict[Key, FlowSummary] = {}

    def seen(f: FlowSummary) -> None:
        key = frozenset({(f.client.host, f.client.port or 0), (f.server.host, f.server.port or 0)})
        if key not in flows or (f.protocol and not flows[key].protocol):
            flows[key] = f

    NetSensor(NetConfig(), "xcheck", _Null(), flow_observer=seen).run_pcap(pcap)
    return flows


def _our_names(f: FlowSummary) -> set[str]:
    return set(f.protocol.split("+")) if f.protocol else {"other"}


def ndpi_truth(out: Path) -> dict[Key, tuple[set[str], bool | None, str]]:
    truth: dict[Key, tuple[set[str], bool | None, str]] = {}
    for line in out.read_text(errors="replace").splitlines():
        m = _NDPI_FLOW.match(line)
        if m is None:
            continue
        a, b = _hostport(m.group(1)), _hostport(m.group(2))
        name = m.group(3).split(".")[0]
        enc = True if "[Encrypted]" in line else False if "[ClearText]" in line else None
        truth[frozenset({a, b})] = (NDPI.get(name, {"other"}), enc, name)
    return truth


def zeek_truth(conn: Path) -> dict[Key, tuple[set[str], bool | None, str]]:
    truth: dict[Key, tuple[set[str], bool | None, str]] = {}
    fields: list[str] = []
    for line in conn.read_text(errors="replace").splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
            continue
        if line.startswith("ts\t"):
            fields = line.split("\t")
            continue
        if line.startswith("#") or not fields:
            continue
        row = dict(zip(fields, line.split("\t"), strict=False))
        if row.get("proto", "tcp") != "tcp" or "service" not in row:
            continue
        try:
            a = (row["id.orig_h"], int(row["id.orig_p"]))
            b = (row["id.resp_h"], int(row["id.resp_p"]))
        except (KeyError, ValueError):
            continue
        services = [s for s in row["service"].split(",") if s not in ("-", "")]
        names: set[str] = set()
        for s in services:
            names |= ZEEK.get(s, {"other"})
        truth[frozenset({a, b})] = (names or {"other"}, "ssl" in services, row["service"])
    return truth


def compare(pairs: list[tuple[Path, dict[Key, tuple[set[str], bool | None, str]]]], verbose: bool,
            label: str) -> dict[str, int]:
    c: Counter[str] = Counter()
    for pcap, truth in pairs:
        got = ours(pcap)
        for key, (names, enc, ref) in truth.items():
            f = got.get(key)
            if f is None:  # no payload seen by us (or a flow we never opened): not comparable
                c["not-seen"] += 1
                continue
            c["flows"] += 1
            mine = _our_names(f)
            if mine & names:
                c["protocol-agree"] += 1
            elif verbose:
                print(f"  {label} {pcap.name}: {sorted(key)} reference={ref} ours={f.protocol or '-'}")
            if enc is not None:
                c["enc-compared"] += 1
                if enc == f.encrypted:
                    c["enc-agree"] += 1
                elif verbose:
                    print(f"  {label} {pcap.name}: {sorted(key)} encrypted reference={enc} ours={f.encrypted}")
    return dict(c)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    base = Path(args.corpora)
    results: dict[str, dict[str, int]] = {}

    ndpi = base / "ndpi-pcaps" / "tests" / "cfgs" / "default"
    if ndpi.is_dir():
        pairs = []
        for out in sorted((ndpi / "result").glob("*.out")):
            pcap = ndpi / "pcap" / out.name[: -len(".out")]
            if pcap.exists():
                pairs.append((pcap, ndpi_truth(out)))
        results["nDPI"] = compare(pairs, args.verbose, "nDPI")

    zeek = base / "zeek-traces"
    index = zeek / "INDEX_test_to_trace.tsv"
    if index.exists():
        pairs = []
        seen: set[Path] = set()
        for line in index.read_text().splitlines()[1:]:
            test, _, trace = line.partition("\t")
            d = zeek / "testing" / "btest" / "Baseline" / test
            pcap = zeek / "testing" / "btest" / "Traces" / trace
            conns = [p for p in d.glob("conn*") if p.is_file()] if d.is_dir() else []
            if not conns or not pcap.exists() or pcap in seen:
                continue
            seen.add(pcap)
            pairs.append((pcap, zeek_truth(conns[0])))
        results["Zeek"] = compare(pairs, args.verbose, "Zeek")

    print(f"\n{'corpus':8} {'flows':>6} {'protocol agrees':>16} {'encryption compared':>20} {'encryption agrees':>18}")
    for name, c in results.items():
        flows, enc = c.get("flows", 0), c.get("enc-compared", 0)
        pa = c.get("protocol-agree", 0) / flows if flows else 0.0
        ea = c.get("enc-agree", 0) / enc if enc else 0.0
        print(f"{name:8} {flows:6} {c.get('protocol-agree', 0):7} ({pa:6.1%}) {enc:20} {c.get('enc-agree', 0):8} "
              f"({ea:6.1%})   not seen by us: {c.get('not-seen', 0)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
