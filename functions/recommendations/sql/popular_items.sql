-- The popular items as of {as_of}, at most {top_n}: two columns, item_id and popular_rank
-- (1 = most popular, consecutive). scripts/list_active_users.py runs it inside
-- `UNLOAD (SELECT item_id, popular_rank FROM (...))` and puts the items, in rank order, in
-- active_users.json; WriteManifest publishes them as the generation's `popular` (what the
-- lookup API serves a user without recommendations).
--
-- An item's counts are those of its item_features record as of as_of (the newest with event
-- time <= as_of, after newest-write-wins per (item, event time); when that one is a deletion
-- the item has none; rules in functions/recommendations/sql.py). Null counts are 0. Ranked by
-- interactions_7d, then interactions_30d (both descending), then item_id (ascending, for a
-- deterministic order). An item without an interaction in 7 days ranks after every item with
-- one (it sorts on its 30-day count); an item whose record counts no interaction (neither
-- count positive: e.g. the zero records the daily materialization writes for an item idle
-- more than 30 days) is left out, as are item ids the jobs' CSV
-- cannot carry (1 to 256 characters, no comma, double quote, CR or LF: the same rule as the
-- interactions). The counts are taken as the record states them (not aged): while the daily
-- materialization runs, every item's newest record is that day's.
--
-- Runs on Athena (Trino, engine v3); the tests run this text on DuckDB with macros for the
-- Trino functions DuckDB lacks (from_iso8601_timestamp, to_unixtime, regexp_like).
WITH
bounds AS (
    SELECT
        CAST(round(to_unixtime({as_of}) * 1000) AS BIGINT) AS pit_as_of_ms,
        -- Pruning hint on the raw ISO-8601 text (two days of margin for UTC offsets).
        CAST(CAST({as_of} + INTERVAL '2' DAY AS DATE) AS VARCHAR) AS pit_scan_until
),
feature_writes AS (
    SELECT
        pit_item, pit_event_ms, pit_deleted, pit_7d, pit_30d,
        row_number() OVER (
            PARTITION BY pit_item, pit_event_ms
            ORDER BY write_time DESC NULLS LAST, api_invocation_time DESC NULLS LAST,
                pit_deleted DESC
        ) AS pit_write
    FROM (
        SELECT
            CAST(f.item_id AS VARCHAR) AS pit_item,
            CAST(round(to_unixtime(try(from_iso8601_timestamp(f.event_time))) * 1000)
                AS BIGINT) AS pit_event_ms,
            COALESCE(f.is_deleted, FALSE) AS pit_deleted,
            COALESCE(CAST(f.interactions_7d AS BIGINT), 0) AS pit_7d,
            COALESCE(CAST(f.interactions_30d AS BIGINT), 0) AS pit_30d,
            f.write_time,
            f.api_invocation_time
        FROM "{feature_database}"."{item_features_table}" f
        CROSS JOIN bounds b
        WHERE f.item_id IS NOT NULL AND f.event_time < b.pit_scan_until
    ) records
),
newest AS (
    SELECT
        w.pit_item,
        w.pit_deleted,
        w.pit_7d,
        w.pit_30d,
        row_number() OVER (PARTITION BY w.pit_item ORDER BY w.pit_event_ms DESC)
            AS pit_newest
    FROM feature_writes w
    CROSS JOIN bounds b
    WHERE w.pit_write = 1 AND w.pit_event_ms <= b.pit_as_of_ms
),
ranked AS (
    SELECT
        pit_item,
        row_number() OVER (ORDER BY pit_7d DESC, pit_30d DESC, pit_item ASC) AS pit_rank
    FROM newest
    WHERE pit_newest = 1
        AND NOT pit_deleted
        AND (pit_7d > 0 OR pit_30d > 0)
        AND regexp_like(pit_item, '^[^,"\r\n]{{1,256}}$')
)
SELECT pit_item AS item_id, pit_rank AS popular_rank
FROM ranked
WHERE pit_rank <= {top_n}
