-- Usage and charges per customer and billing period, from the CDR fact (home and roaming).
-- Data MB are MiB (1,048,576 bytes), as in rating.
-- Incremental by billing period, as gold.customer_usage: the periods gold.rated_cdr re-rated since
-- the last run (gold.fact_cdr replaced them), and the period after each, are replaced whole.
-- @materialized: incremental
-- @replace_on: billing_period FROM changed_periods
-- @changed_since: rated_since = gold.rated_cdr._rated_at
-- @bind: first_period = SELECT min(billing_period) FROM changed_periods
-- @stage: changed_periods
-- @test: unique(billing_period, customer_id)
-- @test: not_null(billing_period, customer_id, total_charge)
-- @test: expression(voice_charge >= 0 AND sms_charge >= 0 AND data_charge >= 0)
WITH changed_periods AS (
    -- The periods re-rated since the last run, and the period after each: a late record moves a
    -- call's start at most into the period before, which may leave the later one without it.
    SELECT DISTINCT unnest(make_array(billing_period, to_char(CAST(billing_period || '-01' AS DATE) + INTERVAL '1 month', '%Y-%m'))) AS billing_period
    FROM gold.rated_cdr
    WHERE _rated_at > $rated_since
)
SELECT
    billing_period,
    customer_id,
    count(*) AS cdrs,
    coalesce(sum(duration_s) FILTER (WHERE service = 'VOICE'), 0) AS voice_seconds,
    count(*) FILTER (WHERE service = 'SMS') AS sms_count,
    round(coalesce(sum(volume_bytes) FILTER (WHERE service = 'DATA'), 0) / 1048576.0, 3) AS data_mb,
    count(*) FILTER (WHERE roaming) AS roaming_cdrs,
    CAST(coalesce(sum(charge) FILTER (WHERE service = 'VOICE'), 0) AS DECIMAL(18, 4)) AS voice_charge,
    CAST(coalesce(sum(charge) FILTER (WHERE service = 'SMS'), 0) AS DECIMAL(18, 4)) AS sms_charge,
    CAST(coalesce(sum(charge) FILTER (WHERE service = 'DATA'), 0) AS DECIMAL(18, 4)) AS data_charge,
    CAST(coalesce(sum(charge) FILTER (WHERE roaming), 0) AS DECIMAL(18, 4)) AS roaming_charge,
    CAST(sum(charge) AS DECIMAL(18, 4)) AS total_charge
FROM gold.fact_cdr
WHERE customer_id IS NOT NULL
  AND billing_period IN (SELECT billing_period FROM changed_periods)
  AND billing_period >= $first_period
GROUP BY billing_period, customer_id
