"""What a request URL says about health data: the FHIR resource type and the patients it names.

A FHIR server behind a TLS terminator or an API gateway is invisible to the packet sensor; its
access log still says ``GET /fhir/Patient/8812/$everything`` or
``GET /fhir/Observation?patient=8812&code=...``. The resource type tells what kind of data
left, and the patient ids let the policy count *distinct data subjects* per principal (bulk
access, §11.1 anomaly detection) exactly as it does for identifiers found in content.

Recognised: FHIR REST paths (``[base]/Type``, ``[base]/Type/id``, ``[base]/Patient/id/Type``
compartments, ``/_history``, ``$operations``), FHIR search parameters naming a patient
(``patient``, ``subject``, ``subject:Patient``, ``beneficiary``, ``_id`` and ``identifier`` on
Patient), and the query keys and path segments non-FHIR hospital APIs commonly use
(``patient_id``, ``patientId``, ``pid``, ``mrn``, ``/patients/<id>``).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

#: FHIR R4/R5 resource types that carry or reference personal health data (and a few others
#: that appear in paths and must not be mistaken for ids).
RESOURCE_TYPES: frozenset[str] = frozenset("""
Account AdverseEvent AllergyIntolerance Appointment AppointmentResponse AuditEvent Basic Binary BodyStructure Bundle
CarePlan CareTeam ChargeItem Claim ClaimResponse ClinicalImpression Communication CommunicationRequest Composition
Condition Consent Coverage CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue Device DeviceRequest
DeviceUseStatement DiagnosticReport DocumentManifest DocumentReference Encounter EnrollmentRequest EpisodeOfCare
ExplanationOfBenefit FamilyMemberHistory Flag Goal Group GuidanceResponse ImagingStudy Immunization
ImmunizationEvaluation ImmunizationRecommendation Invoice List Location Media Medication MedicationAdministration
MedicationDispense MedicationRequest MedicationStatement MolecularSequence NutritionOrder Observation Organization
Patient Person Practitioner PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse RelatedPerson
RequestGroup ResearchStudy ResearchSubject RiskAssessment Schedule ServiceRequest Slot Specimen Task
VisionPrescription CapabilityStatement OperationOutcome Parameters
""".split())

#: Query keys whose value names a patient (FHIR search parameters and common non-FHIR keys).
_PATIENT_KEYS = frozenset({"patient", "subject", "subject:patient", "patient:patient", "beneficiary",
                           "patient_id", "patientid", "patient-id", "pid", "mrn", "patient_no", "patientno",
                           "inpatient_no", "outpatient_no", "empi", "person_id"})
_PATIENT_SEGMENTS = frozenset({"patient", "patients", "person", "persons", "members", "member"})
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-.]{0,63}$")
_MAX_IDS = 100
_DIGIT = re.compile(r"[0-9]")
#: Fast reject: a path with no capitalised segment and no patient-ish segment names nothing.
_CAPITAL_OR_PATIENT = re.compile(r"/[A-Z]|/(?i:patients?|persons?|members?)/")


def split_target(target: str) -> tuple[str, str]:
    """(path, query) of a request target (an absolute URL keeps only its path)."""
    if target.startswith(("http://", "https://")):
        slash = target.find("/", target.find("//") + 2)
        target = target[slash:] if slash >= 0 else "/"
    q = target.find("?")
    if q < 0:
        return target, ""
    return target[:q], target[q + 1:]


def parse_query(query: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if not query:
        return out
    for part in query.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        if "%" in k or "+" in k:
            k = unquote_plus(k)
        if "%" in v or "+" in v:
            v = unquote_plus(v)
        out.append((k, v))
    return out


def _patient_ref(v: str) -> str:
    v = v.strip()
    if v.startswith("Patient/"):
        v = v[8:]
    elif "/Patient/" in v:  # an absolute reference
        v = v.rsplit("/Patient/", 1)[1]
    v = v.split("/_history", 1)[0]
    return v if _ID.match(v) else ""


def analyse(path: str, params: list[tuple[str, str]]) -> tuple[str, str, list[str]]:
    """(FHIR resource type or '', resource id or operation or '', patient ids) of one request."""
    rtype = rid = ""
    ids: list[str] = []
    if not params and _CAPITAL_OR_PATIENT.search(path) is None:
        return rtype, rid, ids
    segs = list(filter(None, path.split("/")))
    for i, seg in enumerate(segs):
        if seg in RESOURCE_TYPES:
            rtype = seg
            nxt = segs[i + 1] if i + 1 < len(segs) else ""
            if nxt and not nxt.startswith("_"):
                rid = nxt
                if seg == "Patient" and not nxt.startswith("$") and _ID.match(nxt):
                    ids.append(nxt)
                    if i + 2 < len(segs) and segs[i + 2] in RESOURCE_TYPES:
                        rtype = segs[i + 2]  # compartment search: /Patient/123/Observation
                        rid = ""
            break
        low = seg.lower()
        if low in _PATIENT_SEGMENTS and i + 1 < len(segs):
            cand = segs[i + 1]
            if _ID.match(cand) and _DIGIT.search(cand):  # _ID admits ASCII only: [0-9] is isdigit()
                ids.append(cand)
    for k, v in params:
        lk = k.lower()
        if lk in _PATIENT_KEYS or (lk in ("_id", "identifier") and rtype == "Patient"):
            if lk == "subject" and v and not v.startswith("Patient/") and "/Patient/" not in v:
                continue  # subject=Group/.. or Device/..: not a patient
            for one in v.split(","):
                if lk == "identifier" and "|" in one:
                    one = one.rsplit("|", 1)[1]
                ref = _patient_ref(one)
                if ref:
                    ids.append(ref)
    if len(ids) > 1:
        ids = list(dict.fromkeys(ids))
    return rtype, rid, ids[:_MAX_IDS]
