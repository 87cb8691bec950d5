-- 0001_core: the alert store's tables.
--
-- Dialect: ClickHouse, accepted by 18.16 (the Debian test server) and by current releases.
-- {{db}} is the configured database; {{lowcard T}}, {{codec C}} and {{ttl EXPR}} are clauses that
-- only newer servers get (store/migrate.py renders them; see docs/store.md).

-- One row per alert id after merges. A replayed alert (same id, same last_seen) and an updated
-- alert (same id, later last_seen, hence higher version) collapse to the highest version.
-- The sorting key holds only what never changes for an alert id (the rule is part of the id),
-- and ends with alert_id, so the copies of one alert always meet in a merge and under FINAL.
CREATE TABLE IF NOT EXISTS {{db}}.alerts
(
    alert_id String,
    rule_id String,
    rule_version UInt32,
    title String,
    severity {{lowcard String}},
    severity_rank UInt8,
    clauses Array(String),
    channel {{lowcard String}},
    src String,
    dst String,
    actor String,
    encrypted UInt8,
    entities Array({{lowcard String}}),
    categories Array({{lowcard String}}),
    max_level UInt8,
    subjects UInt32,
    evidence Array(String) {{codec ZSTD(3)}},
    subject_hashes Array(String) {{codec ZSTD(3)}},
    event_ids Array(String) {{codec ZSTD(3)}},
    observed_at_s Float64,
    last_seen_s Float64,
    observed_at DateTime DEFAULT toDateTime(observed_at_s),
    last_seen DateTime DEFAULT toDateTime(last_seen_s),
    sensor_id String,
    triage_state String,
    details String {{codec ZSTD(3)}},
    schema_version UInt16,
    inserted_at DateTime DEFAULT now(),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(observed_at)
ORDER BY (rule_id, alert_id)
SETTINGS index_granularity = 8192;

-- Append-only triage history; the current state of an alert is argMax(state, at_s).
-- No TTL: the triage trail is the audit record of who decided what, kept as long as the alert.
CREATE TABLE IF NOT EXISTS {{db}}.alert_triage
(
    alert_id String,
    state {{lowcard String}},
    note String,
    who String,
    at_s Float64,
    at DateTime DEFAULT toDateTime(at_s)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (alert_id, at_s)
SETTINGS index_granularity = 8192;

-- What could not be processed, for counting and follow-up. Metadata only: the raw payload
-- stays on the dead-letter topic / file; payload_sha256 matches a row to that copy.
-- Partitioned and expired by arrival time, so replaying old captures does not expire at once.
CREATE TABLE IF NOT EXISTS {{db}}.dead_letters
(
    stage {{lowcard String}},
    reason {{lowcard String}},
    detail String,
    source String,
    size UInt64,
    payload_sha256 String,
    observed_at_s Float64,
    observed_at DateTime DEFAULT toDateTime(observed_at_s),
    schema_version UInt16,
    inserted_at DateTime DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(inserted_at)
ORDER BY (reason, inserted_at)
{{ttl inserted_at + INTERVAL 90 DAY}}
SETTINGS index_granularity = 8192;
