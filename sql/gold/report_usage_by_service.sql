-- Usage per billing period, service and roaming flag: every rated CDR, whatever its status.
-- Incremental by billing period, as gold.customer_usage: the periods gold.rated_cdr re-rated since
-- the last run (and the period after each) are recomputed and replaced whole.
-- @materialized: incremental
-- @replace_on: billing_period FROM changed_periods
-- @changed_since: rated_since = gold.rated_cdr._rated_at
-- @bind: first_period = SELECT min(billing_period) FROM changed_periods
-- @stage: changed_periods
-- @test: unique(billing_period, service, roaming)
WITH changed_periods AS (
    -- The periods re-rated since the last run, and the period after each: a late record moves a
    -- call's start at most into the period before, which may leave the later one without it.
    SELECT DISTINCT unnest(make_array(billing_period, to_char(CAST(billing_period || '-01' AS DATE) + INTERVAL '1 month', '%Y-%m'))) AS billing_period
    FROM gold.rated_cdr
    WHERE _rated_at > $rated_since
)
SELECT
    billing_period,
    service,
    roaming,
    count(*) AS cdrs,
    CAST(sum(billable_units) AS BIGINT) AS billable_units,
    CAST(sum(charge) AS DECIMAL(18, 4)) AS charged_amount
FROM gold.rated_cdr
WHERE billing_period IN (SELECT billing_period FROM changed_periods)
  AND billing_period >= $first_period
GROUP BY billing_period, service, roaming
