-- The billing periods to invoice: every local calendar month in which at least one CDR with a
-- subscriber starts (billing.md), with its first and last local day, and its state: OPEN
-- (provisional invoices, recomputed every run) until `cdrlake close-period` closes it (CLOSED:
-- invoices issued and frozen, system.period_close).
-- @materialized: table
-- @test: unique(billing_period)
-- @test: accepted_values(status, 'OPEN', 'CLOSED')
SELECT
    periods.billing_period,
    CAST(periods.billing_period || '-01' AS DATE) AS period_start,
    CAST(CAST(periods.billing_period || '-01' AS DATE) + INTERVAL '1 month' - INTERVAL '1 day' AS DATE) AS period_end,
    CAST(CAST(CAST(periods.billing_period || '-01' AS DATE) + INTERVAL '1 month' AS DATE) AS INT)
        - CAST(CAST(periods.billing_period || '-01' AS DATE) AS INT) AS days_in_period,
    CASE WHEN closed.billing_period IS NULL THEN 'OPEN' ELSE 'CLOSED' END AS status
-- gold.customer_usage holds exactly the periods and customers of those CDRs, in few rows.
FROM (
    SELECT DISTINCT billing_period FROM gold.customer_usage
    -- A closed period stays listed, whatever the CDRs do later.
    UNION
    SELECT billing_period FROM system.period_close WHERE action = 'close'
) AS periods
LEFT JOIN (SELECT DISTINCT billing_period FROM system.period_close WHERE action = 'close') AS closed
  ON closed.billing_period = periods.billing_period
