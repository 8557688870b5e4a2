-- Daily materialization of the item_features offline store (an Iceberg table): one record
-- per item with at least one interaction in the {window_days} days before as_of.
-- EventBridge Scheduler runs it in Athena with as_of = the start of the UTC day it fires;
-- functions/recommendations/sql.py has the rules shared with the other queries
-- (which interactions count, deduplication, late arrivals).
--
-- A record aggregates the deduplicated interactions with event time in
-- [as_of - window_days, as_of): nothing at or after as_of, so the record stamped as_of holds
-- only what was known before it.
-- * interactions_7d, interactions_30d: interactions with event time >= as_of - 7 (30) days
--   (ages of 604800000 and 2592000000 ms: BIGINT literals), whatever their type or weight;
-- * distinct_users_30d: distinct users among those of the last 30 days;
-- event_time = as_of (ISO-8601 UTC, milliseconds, Z); write_time = api_invocation_time =
-- the query's current_timestamp; is_deleted false. A rerun on the same day writes the same
-- (record, event time) again: the newest write wins.
-- window_days should exceed 30 (e.g. 35): an item then gets one more record, with zero
-- 30-day counts, once the last interaction is older than 30 days.
--
-- Runs on Athena (Trino, engine v3); the tests run this text on DuckDB with macros for the
-- Trino functions DuckDB lacks (from_iso8601_timestamp, to_unixtime, regexp_like,
-- format_datetime).
INSERT INTO "{feature_database}"."{item_features_table}" (
    item_id, event_time, interactions_7d, interactions_30d, distinct_users_30d,
    write_time, api_invocation_time, is_deleted
)
WITH
parsed AS (
    SELECT
        interaction_id, user_id, item_id, event_type, weight, dt,
        CAST(round(to_unixtime(try(from_iso8601_timestamp(event_time))) * 1000) AS BIGINT)
            AS pit_ms
    FROM "{lake_database}"."{interactions_table}"
    WHERE dt >= CAST(CAST({as_of} - INTERVAL '{window_days}' DAY AS DATE) AS VARCHAR)
        AND dt <= CAST(CAST({as_of} AS DATE) AS VARCHAR)
),
deduplicated AS (
    SELECT user_id, item_id, pit_ms
    FROM (
        SELECT
            user_id, item_id, pit_ms,
            row_number() OVER (
                PARTITION BY interaction_id
                ORDER BY dt, pit_ms, user_id, item_id, event_type ASC NULLS LAST,
                    weight ASC NULLS LAST
            ) AS pit_copy
        FROM parsed
        WHERE pit_ms IS NOT NULL
            AND interaction_id IS NOT NULL AND interaction_id <> ''
            AND regexp_like(user_id, '^[A-Za-z0-9._:@-]{{1,128}}$')
            AND regexp_like(item_id, '^[^,"\r\n]{{1,256}}$')
    ) copies
    WHERE pit_copy = 1
),
recent AS (
    SELECT
        d.user_id,
        d.item_id,
        CAST(round(to_unixtime({as_of}) * 1000) AS BIGINT) - d.pit_ms AS pit_age_ms
    FROM deduplicated d
    WHERE d.pit_ms >= CAST(round(to_unixtime({as_of} - INTERVAL '{window_days}' DAY) * 1000)
            AS BIGINT)
        AND d.pit_ms < CAST(round(to_unixtime({as_of}) * 1000) AS BIGINT)
)
SELECT
    item_id,
    format_datetime({as_of} AT TIME ZONE 'UTC', 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''')
        AS event_time,
    CAST(sum(CASE WHEN pit_age_ms <= 604800000 THEN 1 ELSE 0 END) AS BIGINT)
        AS interactions_7d,
    CAST(sum(CASE WHEN pit_age_ms <= 2592000000 THEN 1 ELSE 0 END) AS BIGINT)
        AS interactions_30d,
    CAST(count(DISTINCT CASE WHEN pit_age_ms <= 2592000000 THEN user_id END) AS BIGINT)
        AS distinct_users_30d,
    CAST(current_timestamp AS TIMESTAMP) AS write_time,
    CAST(current_timestamp AS TIMESTAMP) AS api_invocation_time,
    FALSE AS is_deleted
FROM recent
GROUP BY item_id
