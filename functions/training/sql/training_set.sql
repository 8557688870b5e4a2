-- The fraud model's training set: a point-in-time join over the SageMaker Feature Store
-- offline store (Iceberg tables that Feature Store catalogues in Glue) and the labels table.
--
-- One text, two engines. Athena (Trino, engine version 3) runs it inside
--     UNLOAD (SELECT line, part FROM (<this query>) ...) TO 's3://.../'
--     WITH (format = 'TEXTFILE', field_delimiter = ',', compression = 'NONE',
--           partitioned_by = ARRAY['part'])
-- and the tests run it on DuckDB against generated offline-store tables, with DuckDB macros
-- standing in for the two Trino functions it calls (from_iso8601_timestamp, to_unixtime).
-- Everything else is the subset both engines share.
--
-- scripts/build_dataset.py renders it from the feature schema: it fills in every
-- double-braced placeholder (quoted identifiers, SQL expressions it builds from the declared
-- types, literals) and repeats the block between the `#group` and `/group` marker lines once
-- per feature group joined to the transactions, each block reading the previous one's rows.
--
-- Rules (the same as in build_dataset.py's docstring):
-- * Transactions: the current version of each (its latest event time; of several writes of
--   that event time the newest by write_time, then api_invocation_time), unless that version
--   is a deletion; kept if its event time is in the window (start, end].
-- * Joined groups: each transaction gets a group's record of its key as it was strictly
--   before the transaction's event time: the newest record (by event time) with an earlier
--   event time, after newest-write-wins per (record, event time). A record stamped exactly at
--   the transaction's time is not used; when the chosen record is a deletion, the features
--   are missing (the record did not exist from then on).
-- * Labels: one per transaction, from the newest label file (by S3 key, "$path"); within one
--   file fraud (1) wins. A label other than 0/1 (or true/false) fails the query.
-- * Missing features are empty, or the schema's default where it declares one.
-- * Split by time: rows before the split time train, the newest (split time on) validate.
--
-- Event times are compared as epoch milliseconds (BIGINT): Feature Store keeps millisecond
-- precision, and integers compare the same in every engine, whatever their timestamp types.
-- Each table is read once: Trino inlines WITH queries, so every CTE here is referenced once;
-- the joined groups' features travel through the window function packed into one string
-- (20-digit event time, a live/deleted flag, then the values separated by '|').
WITH
base_versions AS (
    -- Every write of every transaction that can be current in the window. The bound on the
    -- raw event time column prunes the offline store's daily event-time partitions.
    SELECT
        CAST({{base_id}} AS VARCHAR) AS pit_record_id,
        {{base_event_ms}} AS pit_event_ms,
        COALESCE(is_deleted, FALSE) AS pit_deleted,
        {{base_columns}},
        row_number() OVER (
            PARTITION BY CAST({{base_id}} AS VARCHAR)
            ORDER BY {{base_event_ms}} DESC, write_time DESC NULLS LAST,
                api_invocation_time DESC NULLS LAST, COALESCE(is_deleted, FALSE) DESC
        ) AS pit_rank
    FROM {{base_table}}
    WHERE {{base_scan_bound}}
),
base AS (
    SELECT pit_record_id, pit_event_ms, {{base_column_names}}
    FROM base_versions
    WHERE pit_rank = 1 AND NOT pit_deleted
        AND pit_event_ms > {{window_start_ms}} AND pit_event_ms <= {{window_end_ms}}
),
label_rows AS (
    SELECT
        trim(CAST({{label_record_id}} AS VARCHAR)) AS pit_record_id,
        trim(CAST({{label}} AS VARCHAR)) AS pit_verdict,
        "$path" AS pit_source
    FROM {{labels_table}}
),
label_values AS (
    SELECT
        pit_record_id,
        pit_source,
        CASE
            WHEN lower(pit_verdict) IN ('1', '1.0', 'true') THEN 1
            WHEN lower(pit_verdict) IN ('0', '0.0', 'false') THEN 0
            -- Fails the query with a message naming the value.
            ELSE CAST('label {{label_name}} must be 0 or 1, got: '
                || COALESCE(pit_verdict, 'NULL') AS INTEGER)
        END AS pit_label
    FROM label_rows
    WHERE pit_record_id <> ''
        -- A header row of a label file.
        AND NOT (pit_record_id = '{{label_record_id_name}}'
            AND COALESCE(pit_verdict, '') = '{{label_name}}')
),
labels AS (
    SELECT pit_record_id, pit_label
    FROM (
        SELECT
            pit_record_id,
            pit_label,
            row_number() OVER (
                PARTITION BY pit_record_id ORDER BY pit_source DESC, pit_label DESC
            ) AS pit_rank
        FROM label_values
    ) ranked
    WHERE pit_rank = 1
),
labelled AS (
    SELECT
        b.pit_record_id,
        b.pit_event_ms,
        {{labelled_base_columns}},
        l.pit_label,
        CASE WHEN b.pit_event_ms < {{split_ms}} THEN 'train' ELSE 'validation' END AS pit_split
    FROM base b
    JOIN labels l ON l.pit_record_id = b.pit_record_id
),
-- {{#group}}
{{group}}_records AS (
    -- Newest write per (record, event time), deletions included, before the window end.
    SELECT
        CAST({{key}} AS VARCHAR) AS pit_key,
        {{event_ms}} AS pit_event_ms,
        lpad(CAST({{event_ms}} AS VARCHAR), 20, '0')
            || CASE WHEN COALESCE(is_deleted, FALSE) THEN 'D' ELSE 'L' END
            || {{payload}} AS pit_payload,
        row_number() OVER (
            PARTITION BY CAST({{key}} AS VARCHAR), {{event_ms}}
            ORDER BY write_time DESC NULLS LAST, api_invocation_time DESC NULLS LAST,
                COALESCE(is_deleted, FALSE) DESC
        ) AS pit_rank
    FROM {{table}}
    WHERE {{key}} IS NOT NULL AND {{scan_bound}}
),
{{group}}_timeline AS (
    -- The labelled transactions (kind 0) and the group's records (kind 1) of each key, in
    -- time order; at equal times the transaction comes first, so a record stamped exactly at
    -- a transaction's time is not before it.
    SELECT {{row_columns}}, {{key}} AS pit_key, pit_event_ms AS pit_at, 0 AS pit_kind,
        CAST(NULL AS VARCHAR) AS pit_payload
    FROM {{previous}}
    UNION ALL
    SELECT {{null_row_columns}}, pit_key, pit_event_ms, 1, pit_payload
    FROM {{group}}_records
    WHERE pit_rank = 1 AND pit_event_ms < {{window_end_ms}}
),
{{group}}_joined AS (
    SELECT {{row_columns}}, pit_kind,
        max(pit_payload) OVER (
            PARTITION BY pit_key ORDER BY pit_at, pit_kind
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS {{packed}}
    FROM {{group}}_timeline
),
{{group}}_rows AS (
    SELECT {{row_columns}}, {{packed}}
    FROM {{group}}_joined
    WHERE pit_kind = 0
),
-- {{/group}}
training_rows AS (
    SELECT
        pit_split,
        CAST(pit_label AS VARCHAR) AS pit_label_text,
        {{feature_line}} AS pit_features
    FROM {{joined_rows}}
)
-- Each training row twice: label and features (train), features only (baseline).
SELECT
    CASE WHEN copies.pit_part = 'baseline' THEN r.pit_features
        ELSE r.pit_label_text || ',' || r.pit_features END AS line,
    copies.pit_part AS part
FROM training_rows r
JOIN (VALUES ('train'), ('validation'), ('baseline')) AS copies (pit_part)
    ON copies.pit_part = r.pit_split
        OR (copies.pit_part = 'baseline' AND r.pit_split = 'train')
