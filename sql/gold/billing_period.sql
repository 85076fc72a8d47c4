-- The billing periods to invoice: every local calendar month in which at least one CDR with a
-- subscriber starts (billing.md), with its first and last local day.
-- @materialized: table
-- @test: unique(billing_period)
SELECT
    billing_period,
    CAST(billing_period || '-01' AS DATE) AS period_start,
    CAST(CAST(billing_period || '-01' AS DATE) + INTERVAL '1 month' - INTERVAL '1 day' AS DATE) AS period_end,
    CAST(CAST(CAST(billing_period || '-01' AS DATE) + INTERVAL '1 month' AS DATE) AS INT)
        - CAST(CAST(billing_period || '-01' AS DATE) AS INT) AS days_in_period
-- gold.customer_usage holds exactly the periods and customers of those CDRs, in few rows.
FROM (SELECT DISTINCT billing_period FROM gold.customer_usage) AS periods
