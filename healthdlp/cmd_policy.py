"""``healthdlp rules check|test`` (alias ``policy``): lint rules and context, run the rules' given/expect test cases.

* ``policy check [RULES...] [--context FILE...] [--packs]`` loads every rule file and context file
  (the configured ones, else the bundled rules) and every test file next to them, and reports
  **all** problems with file:line (exit 2), or one line per valid rule (exit 0). ``--packs``
  checks each bundled scenario pack (stream/policy/packs/<scenario>/) with its context template.
* ``policy test [PATH...] [--packs]`` runs ``*.test.yaml`` files (PATHs, else those next to the
  configured or bundled rules): one ``ok``/``FAIL`` line per case, the reasons under each
  failure, exit 1 if any case failed. Cases with ``content`` are scanned by the real detectors.

Registered by healthdlp/cli.py (COMMAND_MODULES).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from model.config import Config, load_config
from model.yamlsrc import ConfigError, ConfigIssue

PACKS_DIR = Path(__file__).resolve().parents[1] / "stream" / "policy" / "packs"


def _config(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None) or os.environ.get("HEALTHDLP_CONFIG"))


def pack_dirs() -> list[Path]:
    return sorted(p for p in PACKS_DIR.iterdir() if p.is_dir() and (p / "rules.yaml").is_file())


def _pack_sets() -> list[tuple[str, list[str], list[str]]]:
    return [(p.name, [str(p / "rules.yaml")], [str(p / "context.yaml")] if (p / "context.yaml").is_file() else [])
            for p in pack_dirs()]


def cmd_check(args: argparse.Namespace) -> int:
    from stream.policy import load_policy
    from stream.policy.testcases import default_test_paths, find_test_files

    cfg = _config(args)
    sets = [("policy", list(args.paths) or list(cfg.policy.rules), list(args.context) or list(cfg.policy.context))]
    if args.packs:
        sets += _pack_sets()
    issues: list[ConfigIssue] = []
    n_rules = 0
    for name, rules, context in sets:
        issues.extend(_lint_tests(find_test_files(default_test_paths(rules))))
        try:
            policy = load_policy(rules, context)
        except ConfigError as e:
            issues.extend(e.issues)
            continue
        ctx = policy.context
        for rule in policy.rules:
            state = "" if rule.enabled else "  (disabled)"
            print(f"ok  [{name}] {rule.id} v{rule.version}  {rule.kind}  {rule.title}{state}")
        n_rules += len(policy.rules)
        if ctx.assets or ctx.approval_list:
            print(f"ok  [{name}] context: {len(ctx.assets)} assets, {len(ctx.approval_list)} approvals "
                  f"({', '.join(ctx.sources)})")
    if issues:
        raise ConfigError(issues)
    print(f"{n_rules} rules valid in {len(sets)} rule set(s)", file=sys.stderr)
    return 0


def _lint_tests(files: Sequence[Path]) -> list[ConfigIssue]:
    """Test files must at least parse and name existing files; running them is ``policy test``."""
    from model.yamlsrc import LineDict, load_yaml_file

    out: list[ConfigIssue] = []
    for f in files:
        try:
            doc = load_yaml_file(f)
        except ConfigError as e:
            out.extend(e.issues)
            continue
        if not isinstance(doc, LineDict) or not isinstance(doc.get("cases"), list):
            out.append(ConfigIssue(f"{f}:1", "a test file must be a mapping with a 'cases' list"))
            continue
        for key in ("rules", "context"):
            items = doc.get(key)
            for name in [items] if isinstance(items, str) else items if isinstance(items, list) else []:
                if isinstance(name, str) and not (f.parent / name).exists():
                    out.append(ConfigIssue(doc.where(key), f"{key} file {name!r} does not exist next to the test file"))
    return out


def _scanner_factory(cfg: Config) -> Callable[[], Any]:
    engine: list[Any] = []

    def get() -> Any:
        if not engine:
            from detectors import build_engine

            engine.append(build_engine(cfg.detectors, b"policy-test-key").scan)
        return engine[0]

    return get


def cmd_test(args: argparse.Namespace) -> int:
    from stream.policy.testcases import default_test_paths, find_test_files, run_test_file

    cfg = _config(args)
    paths = list(args.paths) or default_test_paths(cfg.policy.rules)
    if args.packs:
        paths += [str(p) for p in pack_dirs()]
    files = find_test_files(paths)
    if not files:
        print("no *.test.yaml files found", file=sys.stderr)
        return 2
    scanner = _scanner_factory(cfg)
    passed = failed = 0
    issues: list[ConfigIssue] = []
    for f in files:
        try:
            results = run_test_file(f, scanner)
        except ConfigError as e:
            issues.extend(e.issues)
            continue
        for r in results:
            if r.ok:
                passed += 1
                if not args.quiet:
                    print(f"ok    {r.where}  {r.name}")
            else:
                failed += 1
                print(f"FAIL  {r.where}  {r.name}")
                for p in r.problems:
                    print(f"        {p}")
    if issues:
        raise ConfigError(issues)
    print(f"{passed} passed, {failed} failed in {len(files)} file(s)", file=sys.stderr)
    return 1 if failed else 0


def register(sub: Any) -> None:
    p = sub.add_parser("rules", aliases=["policy"], help="lint and test policy rules and context (file:line errors)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ps = p.add_subparsers(dest="policy_action", required=True, metavar="ACTION")
    c = ps.add_parser("check", help="lint rules, context and test files; every problem with file:line")
    c.add_argument("paths", nargs="*", help="rule files or directories (default: policy.rules, else bundled)")
    c.add_argument("--context", nargs="*", default=[], help="context files (default: policy.context)")
    c.add_argument("--packs", action="store_true", help="also check every bundled scenario pack")
    c.set_defaults(func=cmd_check)
    t = ps.add_parser("test", help="run the given/expect rule test cases (*.test.yaml)")
    t.add_argument("paths", nargs="*", help="test files or directories (default: next to the rules)")
    t.add_argument("--packs", action="store_true", help="also run every bundled scenario pack's tests")
    t.add_argument("-q", "--quiet", action="store_true", help="print failures only")
    t.set_defaults(func=cmd_test)
