"""Structured detector kind: field-aware extractors for formats whose layout says what a value is."""

from detectors.structured.hl7 import Hl7Tools, extract_hl7, looks_like_hl7

__all__ = ["Hl7Tools", "extract_hl7", "looks_like_hl7"]
