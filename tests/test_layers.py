"""Nothing imports upward (docs/architecture.md, "Layers").

The layering is what lets the same detection + policy core run in faust, in the embedded mode
and in `scan`; this test keeps it true as the code grows.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: package -> the project packages it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "sensors": {"model"},
    "detectors": {"model"},
    "store": {"model"},
    "stream": {"model", "sensors", "detectors", "store"},
    "dashboards": {"model", "store"},
    "healthdlp": {"model", "sensors", "detectors", "store", "stream", "dashboards"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_no_upward_imports() -> None:
    violations = []
    for pkg, allowed in ALLOWED.items():
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for mod in _imports(path) & set(ALLOWED):
                if mod != pkg and mod not in allowed:
                    violations.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not violations, "\n".join(violations)


def test_sensors_net_and_logs_do_not_import_each_other() -> None:
    for a, b in (("net", "logs"), ("logs", "net")):
        for path in (ROOT / "sensors" / a).rglob("*.py"):
            assert f"sensors.{b}" not in path.read_text(encoding="utf-8"), path
