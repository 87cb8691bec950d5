-- 0003_subject_index: find every alert that involved one data subject (incident response,
-- GB/T 39725 §7 rights requests) without scanning all alerts:
--   SELECT ... FROM {{db}}.alerts_current WHERE has(subject_hashes, '<keyed hash>')
-- Bloom-filter skip indexes on arrays are not available on old servers (18.16 has only
-- experimental skip indexes), so the statement is gated; the query works without it, slower.
-- Parts written before the index existed are indexed as they merge.

-- requires: 21.8
ALTER TABLE {{db}}.alerts
    ADD INDEX {{if_not_exists}} subject_hashes_bf subject_hashes TYPE bloom_filter(0.01) GRANULARITY 4;
