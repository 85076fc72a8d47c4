-- Usage charges per billing period, customer and invoice line type (VOICE, SMS, DATA home usage;
-- ROAMING): the CDRs counted and their charges summed, as gold.invoice_line bills them. A small
-- table (customers x periods x 4), so invoices, billing periods and reports need not read every
-- rated CDR of every period on each run.
-- Incremental by billing period: the periods gold.rated_cdr re-rated since the last run, and the
-- period after each (a late record can move a call's start into the period before), are
-- recomputed from those periods' rated CDRs and replaced whole.
-- @materialized: incremental
-- @replace_on: billing_period FROM changed_periods
-- @changed_since: rated_since = gold.rated_cdr._rated_at
-- @bind: first_period = SELECT min(billing_period) FROM changed_periods
-- @stage: changed_periods
-- @test: unique(billing_period, customer_id, line_type)
-- @test: not_null(billing_period, customer_id, line_type, cdrs, charged)
-- @test: accepted_values(line_type, 'VOICE', 'SMS', 'DATA', 'ROAMING')
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
    CASE WHEN roaming THEN 'ROAMING' ELSE service END AS line_type,
    count(*) AS cdrs,
    CAST(sum(charge) AS DECIMAL(18, 4)) AS charged
FROM gold.rated_cdr
WHERE customer_id IS NOT NULL
  AND billing_period IN (SELECT billing_period FROM changed_periods)
  AND billing_period >= $first_period
GROUP BY 1, 2, 3
