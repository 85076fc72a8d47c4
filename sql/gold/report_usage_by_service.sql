-- Usage per billing period, service and roaming flag: every rated CDR, whatever its status.
-- Incremental by billing period, as gold.customer_usage: the periods gold.rated_cdr re-rated since
-- the last run (and the period after each) are recomputed and replaced whole, from the daily
-- counts of gold.service_usage_daily (a few rows a day), not from the period's CDRs.
-- @materialized: incremental
-- @replace_on: billing_period FROM changed_periods
-- @partition_by: billing_period
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @bind: first_period = SELECT min(billing_period) FROM changed_periods
-- @stage: changed_periods
-- @test: unique(billing_period, service, roaming)
WITH changed_periods AS (
    -- The periods re-rated since the last run, and the period after each: a late record moves a
    -- call's start at most into the period before, which may leave the later one without it.
    SELECT DISTINCT unnest(make_array(billing_period, to_char(CAST(billing_period || '-01' AS DATE) + INTERVAL '1 month', '%Y-%m'))) AS billing_period
    FROM system.rated_cdr_changes
    WHERE _rated_at > $rated_since
)
SELECT
    billing_period,
    service,
    roaming,
    -- Non-null, as the count it sums (the table's column is not nullable).
    CAST(coalesce(sum(cdrs), 0) AS BIGINT) AS cdrs,
    CAST(sum(billable_units) AS BIGINT) AS billable_units,
    CAST(sum(charged_amount) AS DECIMAL(18, 4)) AS charged_amount
FROM gold.service_usage_daily
WHERE billing_period IN (SELECT billing_period FROM changed_periods)
  AND billing_period >= $first_period
GROUP BY billing_period, service, roaming
