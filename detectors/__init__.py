"""Floor 2: the detector engine. Imports only model/.

    engine = build_engine(cfg.detectors, load_hash_key(cfg))
    result = engine.scan(event)       # ScanResult: findings, record level, subject hashes

Detectors are data (detectors/catalogue/*.yaml); code implements detector kinds (pattern,
dictionary, structured, and the opt-in ``ner`` kind of detectors/ner.py) and the named validators
in detectors/validators.py. See docs/detectors.md.
"""

from __future__ import annotations

from pathlib import Path

from detectors.catalogue import Catalogue, load_catalogue
from detectors.edm import EdmIndex, load_edm
from detectors.engine import DetectorInfo, Engine
from detectors.ner import NER_DETECTORS, build_taggers
from detectors.tuning import DetectorTuning, Tuning, apply_tuning, load_tuning
from model.config import DetectorsConfig
from model.yamlsrc import ConfigError, ConfigIssue


def build_engine(
    cfg: DetectorsConfig,
    hash_key: bytes,
    *,
    prefilter: str = "auto",
    edm: EdmIndex | str | Path | None = None,
) -> Engine:
    """Load and validate the catalogue (ConfigError with file:line on any problem) and build the
    engine. ``prefilter``: "auto" (Hyperscan when importable), "hyperscan" or "python".
    ``edm``: an optional exact-data-match index (an EdmIndex or the path of one built with
    ``healthdlp edm build`` under the same hash key); None = no EDM."""
    catalogue = load_catalogue(cfg.catalogue or None)
    tuning = load_tuning(cfg.tuning, catalogue) if cfg.tuning else None
    disabled = tuple(cfg.disabled)
    known_ids = (
        catalogue.detector_ids() | set(NER_DETECTORS) | ({t.id for t in tuning.patterns} if tuning else set())
    )
    if tuning is not None:  # ``enabled: true`` in the tuning file overrides ``disabled``
        disabled = tuple(d for d in disabled if tuning.detectors.get(d, DetectorTuning()).enabled is not True)
        catalogue = apply_tuning(catalogue, tuning)
    unknown = sorted(set(cfg.disabled) - known_ids)
    if unknown:
        known = ", ".join(sorted(known_ids))
        raise ConfigError(
            [ConfigIssue("detectors.disabled:0", f"unknown detector id(s) {unknown}; known: {known}")]
        )
    engine = Engine(
        catalogue.without(tuple(d for d in disabled if d in catalogue.detector_ids())),
        hash_key,
        max_scan_chars=cfg.max_scan_chars,
        prefilter=prefilter,
        edm=load_edm(edm, hash_key),
        ner=build_taggers(
            catalogue.entities,
            enabled=[d for d, t in (tuning.detectors.items() if tuning else ()) if t.enabled is True],
            disabled=[*disabled, *(d for d, t in (tuning.detectors.items() if tuning else ()) if t.enabled is False)],
            backends=tuning.backends() if tuning else None,
        ),
    )
    engine.tuning = tuning
    return engine


__all__ = ["Catalogue", "DetectorInfo", "Engine", "Tuning", "build_engine", "load_catalogue", "load_tuning"]
