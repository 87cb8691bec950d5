"""Floor 2: the detector engine. Imports only model/.

    engine = build_engine(cfg.detectors, load_hash_key(cfg))
    result = engine.scan(event)       # ScanResult: findings, record level, subject hashes

Detectors are data (detectors/catalogue/*.yaml); code implements detector kinds (pattern,
dictionary, structured) and the named validators in detectors/validators.py. See docs/detectors.md.
"""

from __future__ import annotations

from detectors.catalogue import Catalogue, load_catalogue
from detectors.engine import DetectorInfo, Engine
from model.config import DetectorsConfig
from model.yamlsrc import ConfigError, ConfigIssue


def build_engine(cfg: DetectorsConfig, hash_key: bytes, *, prefilter: str = "auto") -> Engine:
    """Load and validate the catalogue (ConfigError with file:line on any problem) and build the
    engine. ``prefilter``: "auto" (Hyperscan when importable), "hyperscan" or "python"."""
    catalogue = load_catalogue(cfg.catalogue or None)
    unknown = sorted(set(cfg.disabled) - catalogue.detector_ids())
    if unknown:
        known = ", ".join(sorted(catalogue.detector_ids()))
        raise ConfigError(
            [ConfigIssue("detectors.disabled:0", f"unknown detector id(s) {unknown}; known: {known}")]
        )
    return Engine(
        catalogue.without(cfg.disabled), hash_key, max_scan_chars=cfg.max_scan_chars, prefilter=prefilter
    )


__all__ = ["Catalogue", "DetectorInfo", "Engine", "build_engine", "load_catalogue"]
