r"""Site tuning of the bundled catalogue, in one YAML file (``detectors.tuning`` in the config).

Security engineers tune without editing the catalogue: switch detectors off or on, raise or lower
a detector's threshold, add context words, allow-list known false positives, and add the
hospital's own record-number formats (MRN, inpatient, outpatient and insurance numbers have no
national format, so every site differs).

    version: 1
    detectors:
      cn_mobile_phone:
        min_score: 0.7                  # this detector's threshold (default: defaults.min_score)
        context: [就诊人电话]             # extra words that raise the score
        negative_context: [测试号码]      # extra words that lower it
      person_name_en_census: {enabled: false}
      person_name_zh_ner: {enabled: true, backend: lac}   # NER kind: enabled + backend only
    allow:                              # never reported: value_hash of the findings, as shown
      - 3f6c0b4b2a9d1e7c5a8f0e2d4c6b8a01  # in alerts (keyed HMAC, never the raw value)
    patterns:                           # extra pattern detectors, same keys as patterns.yaml
      - id: mrn_site_a
        version: 1
        entity: MEDICAL_RECORD_NUMBER
        regex: '(?<![A-Za-z0-9])ZY\d{10}(?![0-9])'
        max_len: 12
        score: 0.8
        examples: ["ZY2023001234"]
        counter_examples: ["ZY20230012"]

Allow-list entries are the findings' ``value_hash`` (HMAC under the deployment key), so the file
holds no identifier and an analyst can copy an entry straight from a false-positive alert.
Every mistake is reported with file:line, like the catalogue.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from detectors.catalogue import Catalogue, PatternSpec, _load_pattern, _prefilter_for_context
from detectors.ner import NER_DETECTORS, TAGGER_BACKENDS
from detectors.terms import DictionarySpec
from detectors.yamlread import Reader, loc_of
from model.yamlsrc import ConfigError, ConfigIssue, load_yaml_file

_HASH = regex.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class DetectorTuning:
    enabled: bool | None = None
    min_score: float | None = None
    context: tuple[str, ...] = ()
    negative_context: tuple[str, ...] = ()
    allow: frozenset[str] = frozenset()
    backend: str | None = None  # NER kind only: a key of detectors.ner.TAGGER_BACKENDS


@dataclass(frozen=True)
class Tuning:
    source: str = ""
    detectors: Mapping[str, DetectorTuning] = dataclasses.field(default_factory=dict)
    allow: frozenset[str] = frozenset()  # value hashes never reported, whatever the detector
    patterns: tuple[PatternSpec, ...] = ()

    def allowed(self, detector_id: str, value_hash: str) -> bool:
        if value_hash in self.allow:
            return True
        d = self.detectors.get(detector_id)
        return d is not None and value_hash in d.allow

    def backends(self) -> dict[str, str]:
        """NER detector id → tagger backend chosen in the file (``backend: lac``)."""
        return {det: t.backend for det, t in self.detectors.items() if t.backend is not None}


def _hashes(r: Reader, key: str) -> frozenset[str]:
    out = set()
    for h in r.strlist(key):
        if not _HASH.fullmatch(h):
            r.error(key, f"allow-list entries are value hashes (32 lowercase hex digits), not {h[:4]}…")
        else:
            out.add(h)
    return frozenset(out)


def load_tuning(path: str | Path, catalogue: Catalogue) -> Tuning:
    """Read and validate a tuning file against the catalogue (ConfigError with file:line)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError([ConfigIssue(f"{p}:0", "detector tuning file does not exist")])
    doc = load_yaml_file(p)
    issues: list[ConfigIssue] = []
    r = Reader(doc, issues, "tuning", f"{p}:1")
    r.integer("version", 1, required=True, lo=1, hi=1)
    known = catalogue.detector_ids() | set(NER_DETECTORS)  # NER kind: only ``enabled`` applies
    detectors: dict[str, DetectorTuning] = {}
    node = r.raw("detectors")
    if node is not None and not isinstance(node, dict):
        r.error("detectors", "'detectors' must map detector ids to settings")
        node = {}
    for det, spec in (node or {}).items():
        dr = Reader(spec, issues, f"tuning of {det}", loc_of(node, det, f"{p}:1"))
        if det not in known:
            dr.error(None, f"unknown detector id {det!r}")
        enabled = dr.raw("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            dr.error("enabled", "'enabled' must be true or false")
            enabled = None
        min_score = dr.number("min_score", -1.0, lo=-1.0, hi=1.0) if "min_score" in dr.node else None
        backend = None
        if "backend" in dr.node:
            backend = dr.raw("backend")
            if det not in NER_DETECTORS:
                dr.error("backend", "'backend' applies to NER detectors only")
                backend = None
            elif backend not in TAGGER_BACKENDS:
                dr.error("backend", f"unknown tagger backend {backend!r}; known: {', '.join(TAGGER_BACKENDS)}")
                backend = None
        detectors[det] = DetectorTuning(
            enabled=enabled,
            min_score=min_score,
            context=tuple(w.lower() for w in dr.strlist("context")),
            negative_context=tuple(w.lower() for w in dr.strlist("negative_context")),
            allow=_hashes(dr, "allow"),
            backend=backend,
        )
        dr.finish()
    allow = _hashes(r, "allow")
    patterns = []
    pnode = r.raw("patterns")
    if pnode is not None and not isinstance(pnode, list):
        r.error("patterns", "'patterns' must be a list")
        pnode = []
    for i, item in enumerate(pnode or []):
        spec = _load_pattern(item, loc_of(pnode, i, f"{p}:1"), p.parent, catalogue.scoring, catalogue.entities, issues)
        if spec is not None:
            if spec.id in known:
                issues.append(ConfigIssue(spec.where, f"pattern id {spec.id!r} already exists in the catalogue"))
            patterns.append(spec)
    r.finish()
    if issues:
        raise ConfigError(issues)
    return Tuning(str(p), detectors, allow, tuple(patterns))


def apply_tuning(catalogue: Catalogue, tuning: Tuning) -> Catalogue:
    """The catalogue with the tuning's extra patterns, context words and thresholds applied and
    its disabled detectors removed (``enabled: true`` overrides DetectorsConfig.disabled)."""
    patterns = []
    for p in (*catalogue.patterns, *tuning.patterns):
        t = tuning.detectors.get(p.id)
        patterns.append(_tune_pattern(p, t) if t else p)
    dictionaries = []
    for d in catalogue.dictionaries:
        t = tuning.detectors.get(d.id)
        dictionaries.append(_tune_dictionary(d, t) if t else d)
    off = {det for det, t in tuning.detectors.items() if t.enabled is False}
    tuned = dataclasses.replace(catalogue, patterns=tuple(patterns), dictionaries=tuple(dictionaries))
    return tuned.without(tuple(off))


def _tune_pattern(p: PatternSpec, t: DetectorTuning) -> PatternSpec:
    changes: dict[str, Any] = {}
    if t.min_score is not None:
        changes["min_score"] = t.min_score
    if t.context:
        ctx = tuple(dict.fromkeys(p.context + t.context))
        changes["context"] = ctx
        if p.requires_context and p.prefilter_exact and not p.prefilter_literals and p.prefilter.startswith("(?i:"):
            changes["prefilter"], changes["reach"] = _prefilter_for_context(ctx, p.max_len, p.context_window)
    if t.negative_context:
        changes["negative_context"] = tuple(dict.fromkeys(p.negative_context + t.negative_context))
    return dataclasses.replace(p, **changes) if changes else p


def _tune_dictionary(d: DictionarySpec, t: DetectorTuning) -> DictionarySpec:
    changes: dict[str, Any] = {}
    if t.min_score is not None:
        changes["min_score"] = t.min_score
    if t.context:
        changes["context"] = tuple(dict.fromkeys(d.context + t.context))
    return dataclasses.replace(d, **changes) if changes else d
