"""Dashboards: the analyst-facing triage console, emergency-disposal playbooks and Grafana boards.

Floor 3: imports only model/ and store/. The console reads and writes alerts exclusively through
the :class:`store.AlertStore` API (``query_alerts``, ``count_alerts``, ``set_triage``, ``select``),
so the embedded chdb store and a ClickHouse server behave the same.
"""

from dashboards.console import ConsoleServer, serve_console, start_console
from dashboards.playbooks import Playbook, PlaybookSet, load_playbooks, render_playbook

__all__ = [
    "ConsoleServer",
    "Playbook",
    "PlaybookSet",
    "load_playbooks",
    "render_playbook",
    "serve_console",
    "start_console",
]
