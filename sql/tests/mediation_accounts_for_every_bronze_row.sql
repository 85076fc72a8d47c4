-- The data contract's invariant: every bronze event row is accounted for exactly once, either in
-- the source_record_count of the silver.cdr row it fed or as a silver.cdr_rejected row.
-- Returns the tables where that does not add up.
WITH bronze_rows AS (
    SELECT 'voice_cdr' AS source_table, count(*) AS rows FROM bronze.voice_cdr
    UNION ALL
    SELECT 'sms_cdr', count(*) FROM bronze.sms_cdr
    UNION ALL
    SELECT 'data_cdr', count(*) FROM bronze.data_cdr
),
stitched AS (
    SELECT
        CASE service WHEN 'VOICE' THEN 'voice_cdr' WHEN 'SMS' THEN 'sms_cdr' ELSE 'data_cdr' END AS source_table,
        sum(source_record_count) AS rows
    FROM silver.cdr
    GROUP BY 1
),
rejected AS (
    SELECT source_table, count(*) AS rows FROM silver.cdr_rejected GROUP BY source_table
)
SELECT b.source_table, b.rows AS bronze_rows, coalesce(s.rows, 0) AS in_silver_cdr, coalesce(r.rows, 0) AS rejected
FROM bronze_rows b
LEFT JOIN stitched s ON s.source_table = b.source_table
LEFT JOIN rejected r ON r.source_table = b.source_table
WHERE b.rows <> coalesce(s.rows, 0) + coalesce(r.rows, 0)
