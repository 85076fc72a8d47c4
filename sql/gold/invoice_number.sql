-- Invoice numbers: INV-YYYYMM-NNNNNNN, gapless within a billing period, assigned in customer_id
-- order to every customer with at least one active day in it. Deterministic, so re-running a
-- period reproduces the same numbers.
-- @materialized: table
-- @test: unique(invoice_number)
-- @test: unique(billing_period, customer_id)
SELECT
    billing_period,
    customer_id,
    'INV-' || replace(billing_period, '-', '') || '-'
        || lpad(CAST(row_number() OVER (PARTITION BY billing_period ORDER BY customer_id) AS VARCHAR), 7, '0') AS invoice_number
FROM (SELECT DISTINCT billing_period, customer_id FROM gold.subscription_days) AS billed
