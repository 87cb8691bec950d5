"""The detection engine: one prefilter pass, exact checks on candidate windows, structured
extraction, overlap resolution, then masked, hashed, explained findings and a record grade.

Hot path per text: Hyperscan (or the Python fallback) once over the text; ``regex`` + validator
only inside candidate windows; dictionary hits checked for word boundaries and exclusions; HL7
fields read when the text is an HL7 message. Raw values exist only inside this module's locals:
a :class:`model.findings.Finding` holds a masked rendering and an HMAC, nothing else.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass

from detectors.catalogue import Catalogue
from detectors.dictionary import IcdClassIndex, term_hit, term_refs
from detectors.edm import EdmIndex
from detectors.grading import grade
from detectors.hashing import ValueHasher
from detectors.hit import Hit
from detectors.masking import MASKERS
from detectors.ner import NameTagger, build_taggers
from detectors.overlap import resolve
from detectors.pattern import run_anchored, run_pattern
from detectors.prefilter import build_prefilter
from detectors.structured import Payload, StructuredTools, run_structured
from detectors.structured.base import drop_quiet
from detectors.structured.hl7 import Hl7Tools
from detectors.tuning import Tuning
from model.events import Event
from model.findings import Explanation, Finding, ScanResult


@dataclass(frozen=True, slots=True)
class DetectorInfo:
    id: str
    entity_type: str
    category: str
    level: int
    kind: str  # pattern | dictionary | structured | ner
    examples: tuple[str, ...]


def decode_content(data: bytes, max_chars: int) -> tuple[str, str]:
    """UTF-8, else GB18030, else Latin-1 (never fails). Only the bytes that can yield ``max_chars``
    characters are decoded; a multi-byte character cut at that bound is dropped, not mis-decoded."""
    limit = max_chars * 4
    cut = data[:limit]
    for codec in ("utf-8", "gb18030"):
        try:
            return cut.decode(codec), codec
        except UnicodeDecodeError as e:
            if len(data) > limit and e.start >= len(cut) - 4:
                try:
                    return cut[: e.start].decode(codec), codec
                except UnicodeDecodeError:
                    pass
    return cut.decode("latin-1"), "latin-1"


class _SpanSet:
    """Overlap queries against a fixed set of spans: sorted starts + running maximum of ends."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        spans.sort()
        self.starts = [s for s, _ in spans]
        self.max_end: list[int] = []
        m = -1
        for _, e in spans:
            m = max(m, e)
            self.max_end.append(m)

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect_left(self.starts, end)  # spans[:i] start before ``end``
        return i > 0 and self.max_end[i - 1] > start


class Engine:
    """Built once from a validated catalogue; ``scan`` is safe to call on any event, forever.

    Not thread-safe (the Hyperscan scratch space is per database): one Engine per worker thread.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        hash_key: bytes,
        *,
        max_scan_chars: int = 1 << 20,
        prefilter: str = "auto",
        edm: EdmIndex | None = None,
        ner: list[NameTagger] | None = None,
    ) -> None:
        self.catalogue = catalogue
        # statistical taggers on candidate windows (detectors/ner.py); None = those on by default
        self.ner = build_taggers(catalogue.entities) if ner is None else ner
        self.entities = catalogue.entities
        self.max_scan_chars = max_scan_chars
        self._hasher = ValueHasher(hash_key)
        self.terms = term_refs(catalogue.dictionaries)
        self.prefilter = build_prefilter(catalogue.patterns, [r.term for r in self.terms], prefilter)
        self.icd_index = IcdClassIndex(catalogue.dictionaries)
        icd_codes = next(
            (p.validator_data for p in catalogue.patterns if p.validator == "icd10"), frozenset()
        )
        self.hl7_tools = Hl7Tools(icd_codes, self.icd_index.classify, self._classify_diagnosis)
        self.stats: Counter[str] = Counter()
        self.edm = edm  # optional exact data match (detectors/edm): confirms real patients
        self.tuning: Tuning | None = None  # site tuning: hashed allow-list (set by build_engine)
        surnames = next((p.validator_data for p in catalogue.patterns if p.validator == "cn_name"), frozenset())
        self.structured_tools = StructuredTools(
            icd_codes, self.icd_index.classify, self._classify_diagnosis, surnames,
            frozenset(self.entities), self.stats,
        )

    # -- public API -------------------------------------------------------------------------------
    def scan(self, event: Event) -> ScanResult:
        """Findings and record grade for one event. Never raises: errors are counted and returned
        as an empty result whose ``grading_reason`` names the error type (not its message, which
        could quote content)."""
        self.stats["events"] += 1
        try:
            if event.encrypted:
                self.stats["encrypted_skipped"] += 1
                return ScanResult((), 0, (), (), "encrypted: content not inspected")
            if not event.content:
                return ScanResult((), 0, (), (), "no content")
            text, codec = decode_content(event.content, self.max_scan_chars)
            self.stats[f"decoded_{codec}"] += 1
            reason_suffix = ""
            if len(text) > self.max_scan_chars:
                text = text[: self.max_scan_chars]
                self.stats["truncated"] += 1
            if len(event.content) > self.max_scan_chars * 4 or len(text) >= self.max_scan_chars:
                reason_suffix = f"; scanned the first {len(text)} characters only"
            findings = self._scan(text)
            g = grade(findings, self.entities)
            return ScanResult(
                tuple(findings), g.level, g.categories, g.subject_hashes, g.reason + reason_suffix
            )
        except Exception as e:
            self.stats["scan_errors"] += 1
            return ScanResult((), 0, (), (), f"scan-error: {type(e).__name__}")

    def scan_text(self, text: str, *, content_type: str = "") -> list[Finding]:
        """Findings for plain text (first ``max_scan_chars`` characters). Never raises either."""
        try:
            return self._scan(text[: self.max_scan_chars])
        except Exception:
            self.stats["scan_errors"] += 1
            return []

    def describe(self) -> list[DetectorInfo]:
        out = []
        for p in self.catalogue.patterns:
            e = self.entities[p.entity]
            out.append(DetectorInfo(p.id, p.entity, e.category.value, e.level, "pattern", p.examples))
        for d in self.catalogue.dictionaries:
            e = self.entities[d.entity]
            out.append(DetectorInfo(d.id, d.entity, e.category.value, e.level, "dictionary", d.examples))
        for s in self.catalogue.structured:
            names = sorted(
                {f.entity for f in s.fields.values()}
                | {v for f in s.fields.values() for v in f.by_type_code.values()}
            )
            level = max(self.entities[n].level for n in names) if names else 0
            out.append(DetectorInfo(s.id, ",".join(names), "multiple", level, "structured", s.examples))
        for t in self.ner:
            e = self.entities[t.spec.entity]
            out.append(DetectorInfo(t.spec.id, t.spec.entity, e.category.value, e.level, "ner", t.spec.examples))
        return out

    # -- internals --------------------------------------------------------------------------------
    def _hits(self, text: str) -> list[Hit]:
        cands = self.prefilter.scan(text)
        self.stats["regex_timeouts"] += cands.timeouts
        hits: list[Hit] = []
        payload = Payload(text)
        for spec in self.catalogue.structured:  # registry: detectors/structured/__init__.py
            hits.extend(run_structured(payload, spec, self.structured_tools))
        scoring = self.catalogue.scoring
        patterns = self.catalogue.patterns
        for idx, windows in cands.windows.items():
            hits.extend(run_pattern(patterns[idx], text, windows, scoring, self.stats))
        for idx, starts in cands.starts.items():
            hits.extend(run_anchored(patterns[idx], text, starts, scoring, self.stats))
        for tidx, s, e in cands.terms:
            h = term_hit(self.terms[tidx], text, s, e, scoring)
            if h is not None:
                hits.append(h)
        if self.ner:  # the statistical tagger only fills gaps: any rule hit wins its span
            ruled = _SpanSet([(h.start, h.end) for h in hits])
            for tagger in self.ner:
                found = tagger.run(text, self.stats, ruled.overlaps)
                hits.extend(h for h in found if not ruled.overlaps(h.start, h.end))
        hits = drop_quiet(hits, payload.quiet, self.stats)  # binary or organisation stretches
        for h in hits:
            if h.entity == "ICD10_CODE" and not h.field_path:
                cls = self.icd_index.classify(h.value)
                if cls:
                    h.entity, h.note = "SPECIAL_DISEASE", f"class:{cls}"
        kept = resolve(hits, self.entities)
        if self.edm is not None:
            self.edm.confirm(kept, self.stats)
        return kept

    def _scan(self, text: str) -> list[Finding]:
        found = [self._finding(h) for h in self._hits(text)]
        if self.tuning is not None and found:  # hashed allow-list (detectors/tuning.py)
            kept = [f for f in found if not self.tuning.allowed(f.detector_id, f.value_hash)]
            self.stats["allowlisted"] += len(found) - len(kept)
            return kept
        return found

    def _finding(self, h: Hit) -> Finding:
        ent = self.entities[h.entity]
        return Finding(
            detector_id=h.detector_id,
            detector_version=h.version,
            entity_type=h.entity,
            start=h.start,
            end=h.end,
            score=h.score,
            category=ent.category,
            level=ent.level,
            value_hash=self._hasher.hash(ent.normalize, h.value),
            masked=MASKERS[ent.mask](h.value, h.note),
            explanation=Explanation(
                pattern=h.pattern,
                validator=h.validator,
                validator_result=h.validator_result,
                context_words=h.context_words,
                note=h.note,
            ),
            field_path=h.field_path,
            is_identifier=ent.identifier,
        )

    def _classify_diagnosis(self, value: str) -> tuple[str, str]:
        """A structured diagnosis text (DG1-3.2): special disease if any special term is in it."""
        cands = self.prefilter.scan(value)
        scoring = self.catalogue.scoring
        for tidx, s, e in cands.terms:
            ref = self.terms[tidx]
            if ref.spec.entity == "SPECIAL_DISEASE" and term_hit(
                ref, value, s, e, scoring, assume_context=True
            ):
                return "SPECIAL_DISEASE", f"class:{ref.term.group}"
        return "DIAGNOSIS", "class:structured"
