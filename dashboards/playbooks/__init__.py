"""Emergency-disposal playbooks as data (GB/T 39725-2020 §9.4), one per policy rule plus a default.

A playbook is YAML next to this file: an incident *grade* table (level × distinct subjects ×
channel × encryption → grade) and ordered *steps* through the six phases every §9.4 response
goes through (contain, assess, preserve, report, notify, review), each step citing the clauses
that require it. Step texts are templates filled with the alert's facts (``{subjects}``,
``{dst}`` …), so responders read "stop the flow from 10.0.3.7 to 203.0.113.9 over ftp", not
"stop the flow". Errors in a playbook stop startup with file:line, all of them at once.
"""

from dashboards.playbooks.loader import load_playbooks, parse_playbook
from dashboards.playbooks.render import (
    RenderedPlaybook,
    RenderedStep,
    alert_facts,
    incident_report,
    render_playbook,
)
from dashboards.playbooks.spec import (
    DEFAULT_ID,
    FACTS,
    PHASE_TITLES,
    PHASES,
    GradeRule,
    Playbook,
    PlaybookSet,
    Step,
)

__all__ = [
    "DEFAULT_ID",
    "FACTS",
    "PHASES",
    "PHASE_TITLES",
    "GradeRule",
    "Playbook",
    "PlaybookSet",
    "RenderedPlaybook",
    "RenderedStep",
    "Step",
    "alert_facts",
    "incident_report",
    "load_playbooks",
    "parse_playbook",
    "render_playbook",
]
