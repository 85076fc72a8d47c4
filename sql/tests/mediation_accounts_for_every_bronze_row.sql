-- The data contract's invariant: every bronze event row is accounted for exactly once, either in
-- the source_record_count of the silver.cdr row it fed or as a silver.cdr_rejected row.
-- Checked as the parts that add up to it: every bronze row has one mediated record (the counts
-- come from the Delta log, whole tables); the records rejected are the rows of
-- silver.cdr_rejected; each silver.cdr row counts exactly the valid records of its cdr_id, and
-- every valid record is in one. In `cdrlake run` after an incremental build the last three look
-- only at what was written since this test last passed ($last_passed; earlier rows passed then),
-- so a daily run reads the days it changed; `cdrlake test` and a full refresh check everything.
-- Returns the failing checks.
-- @bind: stitched_from = SELECT min(start_time) - INTERVAL '2 days' FROM silver.cdr WHERE _mediated_at > $last_passed
WITH bronze_rows AS (
    SELECT 'voice_cdr' AS source_table, count(*) AS rows FROM bronze.voice_cdr
    UNION ALL
    SELECT 'sms_cdr', count(*) FROM bronze.sms_cdr
    UNION ALL
    SELECT 'data_cdr', count(*) FROM bronze.data_cdr
),
records AS (
    -- One per bronze row (the record models keep a row's first mediation).
    SELECT 'voice_cdr' AS source_table, count(*) AS rows FROM silver.voice_record
    UNION ALL
    SELECT 'sms_cdr', count(*) FROM silver.sms_record
    UNION ALL
    SELECT 'data_cdr', count(*) FROM silver.data_record
),
rejected_since AS (
    SELECT source_table, count(*) AS rows
    FROM silver.cdr_record
    WHERE reject_code IS NOT NULL AND mediated_at > $last_passed
    GROUP BY source_table
),
kept_since AS (
    SELECT source_table, count(*) AS rows
    FROM silver.cdr_rejected
    WHERE rejected_at > $last_passed
    GROUP BY source_table
),
written AS (
    SELECT cdr_id, source_record_count
    FROM silver.cdr
    WHERE _mediated_at > $last_passed
),
valid_records AS (
    -- The records of those rows: an event's records start within 2 days of each other (the
    -- stitch window, docs/mediation.md); a literal bound (@bind) skips older files.
    SELECT cdr_id, count(*) AS records
    FROM silver.cdr_record
    WHERE reject_code IS NULL AND start_time >= $stitched_from
    GROUP BY cdr_id
),
valid_since AS (
    SELECT DISTINCT cdr_id
    FROM silver.cdr_record
    WHERE reject_code IS NULL AND mediated_at > $last_passed
)
SELECT 'bronze rows against mediated records' AS failed_check, b.source_table AS subject,
       b.rows AS expected, coalesce(m.rows, 0) AS found
FROM bronze_rows b
LEFT JOIN records m ON m.source_table = b.source_table
WHERE b.rows <> coalesce(m.rows, 0)
UNION ALL
SELECT 'rejected records against silver.cdr_rejected rows', coalesce(r.source_table, k.source_table),
       coalesce(r.rows, 0), coalesce(k.rows, 0)
FROM rejected_since r
FULL JOIN kept_since k ON k.source_table = r.source_table
WHERE coalesce(r.rows, 0) <> coalesce(k.rows, 0)
UNION ALL
SELECT 'silver.cdr source_record_count against its valid records', w.cdr_id,
       coalesce(v.records, 0), w.source_record_count
FROM written w
LEFT JOIN valid_records v ON v.cdr_id = w.cdr_id
WHERE w.source_record_count <> coalesce(v.records, 0)
UNION ALL
SELECT 'valid record without its silver.cdr row', n.cdr_id, 1, 0
FROM valid_since n
WHERE NOT EXISTS (SELECT 1 FROM written w WHERE w.cdr_id = n.cdr_id)
