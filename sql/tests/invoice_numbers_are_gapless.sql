-- Quality gate: invoice numbers run 1..n without a gap within each billing period, and every
-- customer with an active day in a billed period has exactly one invoice.
WITH numbers AS (
    SELECT billing_period, CAST(substr(invoice_number, 12) AS BIGINT) AS n FROM gold.invoice
),
per_period AS (
    SELECT billing_period, count(*) AS invoices, min(n) AS first_n, max(n) AS last_n, count(DISTINCT n) AS distinct_n
    FROM numbers
    GROUP BY billing_period
),
expected AS (
    SELECT billing_period, count(DISTINCT customer_id) AS customers FROM gold.subscription_days GROUP BY billing_period
)
SELECT e.billing_period, e.customers, p.invoices, p.first_n, p.last_n
FROM expected e
LEFT JOIN per_period p ON p.billing_period = e.billing_period
WHERE p.invoices IS NULL OR p.invoices <> e.customers OR p.first_n <> 1 OR p.last_n <> p.invoices OR p.distinct_n <> p.invoices
