-- The batch recommender's training set as of {as_of}: per (user, item) the summed weight of
-- the user's interactions with the item, in two splits by event time:
--     train    (as_of - window_days - holdout_days, as_of - holdout_days]
--     holdout  (as_of - holdout_days, as_of]
-- Columns user_id, item_id, weight, split (`train` | `holdout`). scripts/build_interactions.py
-- runs it inside `UNLOAD (SELECT user_id, item_id, weight, split FROM (...))` partitioned by
-- split, so the files are CSV `user_id,item_id,weight`.
--
-- One text, two engines: Athena (Trino, engine v3) runs it; the tests run it on DuckDB,
-- with macros standing in for the Trino functions DuckDB lacks (from_iso8601_timestamp,
-- to_unixtime, regexp_like). Rules shared with the other queries: functions/recommendations/sql.py.
--
-- Point-in-time rule: the cutoff is C = as_of - holdout_days (the end of train, the start
-- of holdout). A user is in the training set (both splits) only if the user's user_features
-- record as of C exists and is not a deletion: the newest record with event time <= C,
-- after newest-write-wins per (user, event time). Nothing stamped after C decides who is in
-- the set: a record (or a deletion) stamped after the cutoff is ignored, so neither the
-- holdout's interactions (which the materialization counts into later records) nor any later
-- rewrite decides membership. Train rows use nothing after C at all. Why C and not the start
-- of each split: users who first appeared during the training window are the newest users,
-- and the model needs them; the record as of C contains only interactions before C.
-- Pairs whose summed weight is not positive are left out (no positive implicit signal).
WITH
parsed AS (
    SELECT
        interaction_id, user_id, item_id, event_type, weight, dt,
        CAST(round(to_unixtime(try(from_iso8601_timestamp(event_time))) * 1000) AS BIGINT)
            AS pit_ms
    FROM "{lake_database}"."{interactions_table}"
    WHERE dt >= CAST(CAST({as_of} - INTERVAL '{window_days}' DAY
            - INTERVAL '{holdout_days}' DAY AS DATE) AS VARCHAR)
        AND dt <= CAST(CAST({as_of} AS DATE) AS VARCHAR)
),
deduplicated AS (
    SELECT user_id, item_id, event_type, weight, pit_ms
    FROM (
        SELECT
            user_id, item_id, event_type, weight, pit_ms,
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
bounds AS (
    SELECT
        CAST(round(to_unixtime({as_of} - INTERVAL '{window_days}' DAY
            - INTERVAL '{holdout_days}' DAY) * 1000) AS BIGINT) AS pit_start_ms,
        CAST(round(to_unixtime({as_of} - INTERVAL '{holdout_days}' DAY) * 1000) AS BIGINT)
            AS pit_cutoff_ms,
        CAST(round(to_unixtime({as_of}) * 1000) AS BIGINT) AS pit_end_ms,
        -- Pruning hint on the raw ISO-8601 text (two days of margin for UTC offsets).
        CAST(CAST({as_of} - INTERVAL '{holdout_days}' DAY + INTERVAL '2' DAY AS DATE)
            AS VARCHAR) AS pit_scan_until
),
weighted AS (
    SELECT
        d.user_id,
        d.item_id,
        COALESCE(d.weight, CASE d.event_type
            WHEN 'view' THEN 1.0 WHEN 'click' THEN 2.0 WHEN 'purchase' THEN 5.0 END)
            AS pit_weight,
        CASE WHEN d.pit_ms <= b.pit_cutoff_ms THEN 'train' ELSE 'holdout' END AS pit_split
    FROM deduplicated d
    CROSS JOIN bounds b
    WHERE d.pit_ms > b.pit_start_ms AND d.pit_ms <= b.pit_end_ms
),
feature_writes AS (
    SELECT
        pit_user, pit_event_ms, pit_deleted,
        row_number() OVER (
            PARTITION BY pit_user, pit_event_ms
            ORDER BY write_time DESC NULLS LAST, api_invocation_time DESC NULLS LAST,
                pit_deleted DESC
        ) AS pit_write
    FROM (
        SELECT
            CAST(f.user_id AS VARCHAR) AS pit_user,
            CAST(round(to_unixtime(try(from_iso8601_timestamp(f.event_time))) * 1000)
                AS BIGINT) AS pit_event_ms,
            COALESCE(f.is_deleted, FALSE) AS pit_deleted,
            f.write_time,
            f.api_invocation_time
        FROM "{feature_database}"."{user_features_table}" f
        CROSS JOIN bounds b
        WHERE f.user_id IS NOT NULL AND f.event_time < b.pit_scan_until
    ) records
),
users_at_cutoff AS (
    SELECT pit_user
    FROM (
        SELECT
            w.pit_user,
            w.pit_deleted,
            row_number() OVER (PARTITION BY w.pit_user ORDER BY w.pit_event_ms DESC)
                AS pit_newest
        FROM feature_writes w
        CROSS JOIN bounds b
        WHERE w.pit_write = 1 AND w.pit_event_ms <= b.pit_cutoff_ms
    ) newest
    WHERE pit_newest = 1 AND NOT pit_deleted
),
pairs AS (
    SELECT w.user_id, w.item_id, sum(w.pit_weight) AS pit_weight, w.pit_split
    FROM weighted w
    JOIN users_at_cutoff u ON u.pit_user = w.user_id
    WHERE w.pit_weight IS NOT NULL
    GROUP BY w.pit_split, w.user_id, w.item_id
)
SELECT user_id, item_id, pit_weight AS weight, pit_split AS split
FROM pairs
WHERE pit_weight > 0
