-- The CDRs of each closed period that changed since it was issued, per customer and usage line
-- type (VOICE, SMS, DATA home usage; ROAMING): new, gone, or charged differently from what
-- `cdrlake close-period` recorded (gold.issued_usage). The quantity of an ADJUSTMENT line.
-- Incremental: a closed period is recomputed when gold.rated_cdr re-rated it or when it closed.
-- @materialized: incremental
-- @replace_on: billing_period FROM changed_periods
-- @partition_by: billing_period
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @changed_since: closed_since = system.period_close.at
-- @stage: changed_periods
-- @test: unique(billing_period, customer_id, line_type)
-- @test: not_null(billing_period, customer_id, line_type, changed_cdrs)
WITH changed_periods AS (
    SELECT DISTINCT billing_period FROM system.rated_cdr_changes WHERE _rated_at > $rated_since
    UNION
    SELECT CAST(billing_period AS VARCHAR) FROM system.period_close WHERE action = 'close' AND at > $closed_since
),
closed AS (
    SELECT c.billing_period
    FROM changed_periods c
    JOIN (SELECT DISTINCT billing_period FROM system.period_close WHERE action = 'close') p ON p.billing_period = c.billing_period
),
now_rated AS (
    SELECT billing_period, customer_id, cdr_id, CASE WHEN roaming THEN 'ROAMING' ELSE service END AS line_type, charge
    FROM gold.rated_cdr
    WHERE customer_id IS NOT NULL AND billing_period IN (SELECT billing_period FROM closed)
),
issued AS (
    SELECT billing_period, customer_id, cdr_id, line_type, charge
    FROM gold.issued_usage
    WHERE billing_period IN (SELECT billing_period FROM closed)
)
SELECT
    CAST(coalesce(n.billing_period, i.billing_period) AS VARCHAR) AS billing_period,
    CAST(coalesce(n.customer_id, i.customer_id) AS VARCHAR) AS customer_id,
    CAST(coalesce(n.line_type, i.line_type) AS VARCHAR) AS line_type,
    count(*) AS changed_cdrs
FROM now_rated n
FULL JOIN issued i ON i.cdr_id = n.cdr_id AND i.billing_period = n.billing_period
WHERE n.cdr_id IS NULL OR i.cdr_id IS NULL OR n.charge <> i.charge OR n.customer_id <> i.customer_id OR n.line_type <> i.line_type
GROUP BY 1, 2, 3
