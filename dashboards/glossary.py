"""Plain-language meanings for what an alert refers to: clauses, levels, categories, triage states.

Analysts complain that DLP consoles show a rule name and a score and leave them to guess why it
matters. Every clause reference, level and category shown by the console is looked up here so
the analyst sees *what the standard asks for* next to *what was observed*. Clause texts
paraphrase GB/T 39725-2020 (draft-for-approval wording where the published text could not be
checked); they are explanations for triage, not legal text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from model.taxonomy import LEVEL_NAMES, DataCategory

GBT39725 = "GB/T 39725-2020"
GBT35273 = "GB/T 35273-2020"


@dataclass(frozen=True, slots=True)
class ClauseInfo:
    ref: str  # the reference as written in the rule or playbook
    standard: str  # GB/T 39725-2020 or GB/T 35273-2020
    section: str  # "8.2", "9.4", "F" (annex) ...; "" when unknown
    title: str
    meaning: str

    @property
    def known(self) -> bool:
        return bool(self.title)


#: (standard, section) -> (title, meaning). Sections are matched longest-prefix first.
_CLAUSES: dict[tuple[str, str], tuple[str, str]] = {
    (GBT39725, "5"): (
        "Security objectives",
        "Protect confidentiality, integrity and availability of personal health data across its life cycle.",
    ),
    (GBT39725, "6.1"): (
        "Data categories (Table 1)",
        "Personal health data falls into six categories: "
        "personal attribute, health status, medical application, medical payment, "
        "health resource and public health data.",
    ),
    (GBT39725, "6.2"): (
        "Classification levels",
        "Five levels from L1 (public) to L5 (special-disease "
        "detail such as HIV/STD records); the higher the level, the smaller the "
        "authorised audience and the greater the harm of disclosure.",
    ),
    (GBT39725, "6.3"): (
        "Roles",
        "Each party is subject, controller, processor or user for a given flow; "
        "the controller answers for transfers to processors and users.",
    ),
    (GBT39725, "6.4"): (
        "Flow scenarios",
        "Data moves subject→controller, within a controller, "
        "controller→processor, controller↔controller or controller→user; each "
        "link has its own required measures.",
    ),
    (GBT39725, "6.5"): (
        "Opening forms",
        "Data is opened by website publication, file sharing, API, "
        "online query or an analysis platform, each with its own controls.",
    ),
    (GBT39725, "7"): (
        "Principles of use and disclosure",
        "Use only within the authorisation and the "
        "minimum necessary; processors and users only under agreement; cross-border "
        "transfer only after assessment.",
    ),
    (GBT39725, "8.1"): (
        "Measures by level (Table 3)",
        "L3: partial masking, few recipients; L4: strictly "
        "controlled environment and recipients; L5: strict authentication and access "
        "control, very small audience.",
    ),
    (GBT39725, "8.2"): (
        "Measures by flow scenario (Table 4)",
        "Transmission needs encryption and "
        "storage-media control; transfers to processors or users need pre-transfer "
        "review, authorisation, audit and traffic/flow control.",
    ),
    (GBT39725, "8.3"): (
        "Measures by opening form (Table 5)",
        "File sharing: removable media encrypted or "
        "access-controlled, file size/content/time audited. API: callers authenticated, "
        "encryption in transit, calls logged. Online query: batch and high-frequency "
        "queries monitored and alarmed.",
    ),
    (GBT39725, "9.2"): (
        "Security organisation",
        "A data security office audits data usage and monitors "
        "and alerts on data-security status; the committee reviews emergency plans.",
    ),
    (GBT39725, "9.3"): (
        "Management process",
        "Plan, implement, check and improve, including the emergency plan and periodic checks.",
    ),
    (GBT39725, "9.4"): (
        "Emergency disposal",
        "Handle the incident per the emergency plan; keep incident "
        "traceability; after handling, report in writing with at least the event "
        "description, cause and impact analysis and how it was handled; reassess risk.",
    ),
    (GBT39725, "10.1"): (
        "General security technology",
        "Use cryptography for confidentiality and "
        "integrity in transmission and storage; control media that carry data; audit.",
    ),
    (GBT39725, "10.2"): (
        "De-identification",
        "Data released for research must have direct identifiers "
        "removed and quasi-identifiers generalised (k ≥ 5).",
    ),
    (GBT39725, "11"): (
        "Typical scenarios",
        "Scenario-specific measures (doctor access, patient query, "
        "research, secondary use, sensors, apps, insurance, devices).",
    ),
    (GBT39725, "F"): (
        "Annex F self-check list",
        "Transmission encrypted; transfer media controlled; "
        "audit enabled for every user; incident reported in writing.",
    ),
    (GBT35273, "10"): (
        "Incident handling (personal information)",
        "Record who found the incident, when "
        "and where, the people and data involved; report promptly; notify affected "
        "subjects when a leak may seriously harm them.",
    ),
}

_SECTION = re.compile(r"(?:§\s*|\bsection\s+|\bclause\s+)?(\d+(?:\.\d+)*)", re.IGNORECASE)
_ANNEX = re.compile(r"(?:annex|appendix|app\.|附录)\s*([A-G])\b", re.IGNORECASE)


def explain_clause(ref: str) -> ClauseInfo:
    """Look up a clause reference such as ``"GB/T 39725-2020 §8.2"``, ``"8.2 Table 4"`` or ``"Annex F"``."""
    text = ref.strip()
    standard = GBT35273 if "35273" in text else GBT39725
    # Drop the standard's own number so "39725-2020" is not read as a section.
    rest = re.sub(r"GB/?T\s*\d+(?:\.\d+)?-\d{4}", " ", text, flags=re.IGNORECASE)
    annex = _ANNEX.search(rest)
    if annex:
        section = annex.group(1).upper()
    else:
        m = _SECTION.search(rest)
        section = m.group(1) if m else ""
    parts = section.split(".")
    for n in range(len(parts), 0, -1):
        hit = _CLAUSES.get((standard, ".".join(parts[:n])))
        if hit:
            return ClauseInfo(text, standard, section, hit[0], hit[1])
    return ClauseInfo(text, standard, section, "", "")


def level_name(level: int) -> str:
    """``4`` → ``"L4 identifying"``; 0 (no graded content) → ``"ungraded"``."""
    return LEVEL_NAMES.get(int(level), "ungraded")


#: GB/T 39725 §6.2: who may see data of each level (used to explain why a flow is a problem).
LEVEL_AUDIENCE: dict[int, str] = {
    1: "may be published",
    2: "departments after approval (cannot identify a person)",
    3: "an authorised project group only (re-identifiable)",
    4: "care staff taking part in the treatment only (identifies a person)",
    5: "attending staff only, under strict control (special disease)",
}

CATEGORY_LABELS: dict[str, str] = {
    DataCategory.PERSONAL_ATTRIBUTE.value: "Personal attribute data (个人属性数据)",
    DataCategory.HEALTH_STATUS.value: "Health status data (健康状况数据)",
    DataCategory.MEDICAL_APPLICATION.value: "Medical application data (医疗应用数据)",
    DataCategory.MEDICAL_PAYMENT.value: "Medical payment data (医疗支付数据)",
    DataCategory.HEALTH_RESOURCE.value: "Health resource data (卫生资源数据)",
    DataCategory.PUBLIC_HEALTH.value: "Public health data (公共卫生数据)",
}


def category_label(category: str) -> str:
    return CATEGORY_LABELS.get(category, category)


SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")  # display order
