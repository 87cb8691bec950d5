-- 0002_alerts_current: the view analysts and dashboards read.
--
-- Deduplicated alerts (FINAL) with the current triage state joined in. triage_state here is the
-- *current* state (latest triage row, else the state the alert was raised with).
-- Filters written against the view are applied after FINAL, which keeps them correct for
-- updated alerts; store.AlertStore.query_alerts uses the same shape with filters pushed inside.
CREATE VIEW IF NOT EXISTS {{db}}.alerts_current AS
SELECT
    alert_id, rule_id, rule_version, title, severity, severity_rank, clauses, channel, src, dst,
    actor, encrypted, entities, categories, max_level, subjects, evidence, subject_hashes,
    event_ids, observed_at_s, last_seen_s, observed_at, last_seen, sensor_id, details,
    schema_version, inserted_at, version,
    if(triage_current = '', initial_triage_state, triage_current) AS triage_state,
    triage_note, triage_who, triage_at_s
FROM
(
    SELECT
        alert_id, rule_id, rule_version, title, severity, severity_rank, clauses, channel, src, dst,
        actor, encrypted, entities, categories, max_level, subjects, evidence, subject_hashes,
        event_ids, observed_at_s, last_seen_s, observed_at, last_seen, sensor_id, details,
        schema_version, inserted_at, version, triage_state AS initial_triage_state
    FROM {{db}}.alerts FINAL
) AS a
LEFT JOIN
(
    SELECT
        alert_id,
        argMax(state, at_s) AS triage_current,
        argMax(note, at_s) AS triage_note,
        argMax(who, at_s) AS triage_who,
        max(at_s) AS triage_at_s
    FROM {{db}}.alert_triage
    GROUP BY alert_id
) AS t USING alert_id;
