-- The billing periods to invoice: every local calendar month in which at least one CDR with a
-- subscriber starts (billing.md), with its first and last local day, and its state: OPEN
-- (provisional invoices, recomputed every run) until `cdrlake close-period` closes it (CLOSED:
-- invoices issued and frozen, system.period_close).
-- Incremental by billing period: the periods gold.rated_cdr re-rated since the last run (and the
-- period after each, which a late record can leave without CDRs) and the periods closed since are
-- recomputed and replaced; with nothing new, nothing is committed.
-- @materialized: incremental
-- @replace_on: billing_period FROM changed_periods
-- @partition_by: billing_period
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @changed_since: closed_since = system.period_close.at
-- @bind: first_period = SELECT min(billing_period) FROM changed_periods
-- @bind: last_period = SELECT max(billing_period) FROM changed_periods
-- @stage: changed_periods
-- @test: unique(billing_period)
-- @test: accepted_values(status, 'OPEN', 'CLOSED')
{% from "macros/periods.sql" import in_changed, rerated_periods %}
WITH changed_periods AS (
    {{ rerated_periods() }}
    UNION
    SELECT CAST(billing_period AS VARCHAR) FROM system.period_close WHERE action = 'close' AND at > $closed_since
)
SELECT
    periods.billing_period,
    CAST(periods.billing_period || '-01' AS DATE) AS period_start,
    CAST(CAST(periods.billing_period || '-01' AS DATE) + INTERVAL '1 month' - INTERVAL '1 day' AS DATE) AS period_end,
    CAST(CAST(CAST(periods.billing_period || '-01' AS DATE) + INTERVAL '1 month' AS DATE) AS INT)
        - CAST(CAST(periods.billing_period || '-01' AS DATE) AS INT) AS days_in_period,
    CASE WHEN closed.billing_period IS NULL THEN 'OPEN' ELSE 'CLOSED' END AS status
-- gold.customer_usage holds exactly the periods and customers of those CDRs, in few rows.
FROM (
    SELECT DISTINCT billing_period FROM gold.customer_usage WHERE {{ in_changed("billing_period") }}
    -- A closed period stays listed, whatever the CDRs do later.
    UNION
    SELECT CAST(billing_period AS VARCHAR) FROM system.period_close
    WHERE action = 'close' AND billing_period IN (SELECT billing_period FROM changed_periods)
) AS periods
LEFT JOIN (SELECT DISTINCT billing_period FROM system.period_close WHERE action = 'close') AS closed
  ON closed.billing_period = periods.billing_period
