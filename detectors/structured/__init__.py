"""Structured detector kind: field-aware extractors for formats whose layout says what a value is.

``REGISTRY`` maps each ``format`` of detectors/catalogue/structured.yaml to (sniff, extract). The
engine builds one :class:`Payload` per scanned text and calls :func:`run_structured` for every
structured detector; sniffers are cheap content checks (a FHIR JSON body is not also scanned as a
generic JSON API body). An extractor bug never costs the event its free-text findings: it is
counted (``structured_<format>_error``) and that extractor yields nothing for the event.
"""

from __future__ import annotations

from collections.abc import Callable

from detectors.hit import Hit
from detectors.structured.base import Payload, StructuredTools
from detectors.structured.cda import extract_cda, sniff_cda
from detectors.structured.dicom import extract_dicom, sniff_dicom
from detectors.structured.fhir import extract_fhir, sniff_fhir
from detectors.structured.hl7 import Hl7Tools, extract_hl7, looks_like_hl7
from detectors.structured.jsonapi import extract_json, sniff_json
from detectors.structured.tabular import extract_csv, extract_xlsx, sniff_csv, sniff_xlsx
from detectors.terms import StructuredSpec

Sniff = Callable[[Payload], bool]
Extract = Callable[[Payload, StructuredSpec, StructuredTools], list[Hit]]


def _sniff_hl7(p: Payload) -> bool:
    return looks_like_hl7(p.text)


def _extract_hl7(p: Payload, spec: StructuredSpec, tools: StructuredTools) -> list[Hit]:
    return extract_hl7(p.text, spec, Hl7Tools(tools.icd_codes, tools.icd_class, tools.classify_text))


def _sniff_table(p: Payload) -> bool:
    return sniff_xlsx(p) or sniff_csv(p)


def _extract_table(p: Payload, spec: StructuredSpec, tools: StructuredTools) -> list[Hit]:
    return extract_xlsx(p, spec, tools) if sniff_xlsx(p) else extract_csv(p, spec, tools)


REGISTRY: dict[str, tuple[Sniff, Extract]] = {
    "hl7v2": (_sniff_hl7, _extract_hl7),
    "fhir": (sniff_fhir, extract_fhir),
    "cda": (sniff_cda, extract_cda),
    "dicom": (sniff_dicom, extract_dicom),
    "json": (sniff_json, extract_json),
    "csv": (_sniff_table, _extract_table),
}


def run_structured(payload: Payload, spec: StructuredSpec, tools: StructuredTools) -> list[Hit]:
    """Sniff and extract one structured detector's format; never raises."""
    entry = REGISTRY.get(spec.format)
    if entry is None:
        return []
    sniff, extract = entry
    try:
        if not sniff(payload):
            return []
        tools.stats[f"structured_{spec.format}"] += 1
        return extract(payload, spec, tools)
    except RecursionError:
        tools.stats[f"structured_{spec.format}_too_deep"] += 1
    except Exception:  # an extractor bug must not drop the event's free-text findings
        tools.stats[f"structured_{spec.format}_error"] += 1
    return []


__all__ = [
    "REGISTRY",
    "Hl7Tools",
    "Payload",
    "StructuredTools",
    "extract_hl7",
    "looks_like_hl7",
    "run_structured",
]
