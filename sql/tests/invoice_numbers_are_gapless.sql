-- Quality gate: issued invoice numbers run 1..n without a gap within each closed billing period;
-- in an open period every customer with an active day has a (provisional) invoice (a customer
-- owed only an adjustment may have one too: a stand-alone document).
-- In a run, only the billing periods whose invoices may have changed since the test last passed
-- (macros/periods.sql, billing_changes); `cdrlake test` and a full refresh check every period.
-- @bind: first_period = SELECT min(billing_period) FROM changed_periods
-- @bind: last_period = SELECT max(billing_period) FROM changed_periods
{% from "macros/periods.sql" import billing_changes, in_changed %}
WITH {{ billing_changes("$last_passed", "$last_passed", "$last_passed") }},
numbers AS (
    SELECT billing_period, CAST(substr(invoice_number, 12) AS BIGINT) AS n
    FROM gold.invoice
    WHERE status = 'ISSUED' AND {{ in_changed("billing_period") }}
),
issued AS (
    SELECT billing_period, count(*) AS invoices, min(n) AS first_n, max(n) AS last_n, count(DISTINCT n) AS distinct_n
    FROM numbers
    GROUP BY billing_period
),
billed AS (
    SELECT DISTINCT d.billing_period, d.customer_id
    FROM gold.subscription_days d
    JOIN gold.billing_period b ON b.billing_period = d.billing_period AND b.status = 'OPEN'
    WHERE {{ in_changed("d.billing_period") }}
)
SELECT billing_period, CAST(NULL AS VARCHAR) AS customer_id, invoices, first_n, last_n
FROM issued
WHERE first_n <> 1 OR last_n <> invoices OR distinct_n <> invoices
UNION ALL
SELECT d.billing_period, d.customer_id, CAST(0 AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)
FROM billed d
LEFT JOIN (SELECT * FROM gold.invoice WHERE {{ in_changed("billing_period") }}) i
  ON i.billing_period = d.billing_period AND i.customer_id = d.customer_id AND i.status = 'PROVISIONAL'
WHERE i.invoice_number IS NULL
