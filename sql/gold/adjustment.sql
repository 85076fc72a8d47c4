-- What a closed period owes its customers or they owe it since it was issued (billing.md,
-- "Period states, closing and adjustments"): per closed period, customer and line type, the
-- period's lines as the data stands now (gold.billed_line) minus the lines issued when it closed,
-- minus the adjustments for it already issued on later closed invoices. Non-zero rows only;
-- gold.invoice_line carries each as an ADJUSTMENT line on the customer's next open invoice.
-- changed_cdrs: the CDRs of that customer and line type that changed since the close
-- (gold.closed_usage_change); 0 for RECURRING and DISCOUNT, which no CDR makes.
-- Incremental by billing period: the closed periods whose figures may have changed since the last
-- run (macros/periods.sql, billing_changes), and those a period closed since adjusted, are
-- recomputed and replaced; a daily run after the grace days reads nothing of the closed periods.
-- (Two pairs of bounds, the same values: a parameter takes one type, and billed_line and
-- closed_usage_change, partitioned by billing_period, read it dictionary-encoded.)
-- @materialized: incremental
-- @replace_on: billing_period FROM recomputed
-- @partition_by: billing_period
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @changed_since: closed_since = system.period_close.at
-- @changed_since: crm_since = bronze.crm_customer._ingested_at
-- @bind: first_period = SELECT min(billing_period) FROM closed
-- @bind: last_period = SELECT max(billing_period) FROM closed
-- @bind: first_billed = SELECT min(billing_period) FROM closed
-- @bind: last_billed = SELECT max(billing_period) FROM closed
-- @stage: raw_changed_periods, changed_periods, recomputed, closed
-- @test: unique(billing_period, customer_id, line_type)
-- @test: not_null(billing_period, customer_id, line_type, amount, changed_cdrs)
-- @test: expression(amount <> 0)
{% from "macros/periods.sql" import billing_changes %}
WITH {{ billing_changes() }},
recomputed AS (
    SELECT billing_period FROM changed_periods
    UNION
    -- The closed periods a period closed since adjusted: they owe that much less.
    SELECT DISTINCT CAST(adjusts_period AS VARCHAR) FROM gold.issued_invoice_line
    WHERE line_type = 'ADJUSTMENT'
      AND billing_period IN (SELECT CAST(billing_period AS VARCHAR) FROM system.period_close WHERE action = 'close' AND at > $closed_since)
),
closed AS (
    SELECT r.billing_period
    FROM recomputed r
    JOIN gold.billing_period b ON b.billing_period = r.billing_period AND b.status = 'CLOSED'
),
issued_lines AS (
    -- The lines issued for the recomputed periods, and the adjustments of them issued later.
    SELECT i.billing_period, i.customer_id, i.invoice_number, l.line_type, l.amount, l.adjusts_period, l.adjusts_line_type
    FROM gold.issued_invoice_line l
    JOIN gold.issued_invoice i ON i.invoice_number = l.invoice_number
    -- Issued rows count once their close has landed (a close, or its replay, writes them first).
    JOIN gold.billing_period b ON b.billing_period = i.billing_period AND b.status = 'CLOSED'
    WHERE l.billing_period BETWEEN $first_period AND $last_period
      AND i.billing_period BETWEEN $first_period AND $last_period
      AND l.billing_period IN (SELECT billing_period FROM closed)
      AND l.line_type <> 'ADJUSTMENT'
    UNION ALL
    SELECT i.billing_period, i.customer_id, i.invoice_number, l.line_type, l.amount, l.adjusts_period, l.adjusts_line_type
    FROM gold.issued_invoice_line l
    JOIN gold.issued_invoice i ON i.invoice_number = l.invoice_number
    -- Issued rows count once their close has landed (a close, or its replay, writes them first).
    JOIN gold.billing_period b ON b.billing_period = i.billing_period AND b.status = 'CLOSED'
    WHERE l.line_type = 'ADJUSTMENT'
      AND l.adjusts_period BETWEEN $first_period AND $last_period
      AND l.billing_period > $first_period
      AND i.billing_period > $first_period
      AND l.adjusts_period IN (SELECT billing_period FROM closed)
),
owed AS (
    SELECT b.billing_period, b.customer_id, b.line_type, CAST(NULL AS VARCHAR) AS closed_invoice, b.amount
    FROM gold.billed_line b
    WHERE b.billing_period BETWEEN $first_billed AND $last_billed
      AND b.billing_period IN (SELECT billing_period FROM closed)
    UNION ALL
    SELECT billing_period, customer_id, line_type, CAST(invoice_number AS VARCHAR), -amount
    FROM issued_lines
    WHERE line_type <> 'ADJUSTMENT' AND billing_period IN (SELECT billing_period FROM closed)
    UNION ALL
    SELECT adjusts_period, customer_id, adjusts_line_type, CAST(NULL AS VARCHAR), -amount
    FROM issued_lines
    WHERE line_type = 'ADJUSTMENT' AND adjusts_period IN (SELECT billing_period FROM closed)
)
SELECT
    CAST(o.billing_period AS VARCHAR) AS billing_period,
    CAST(o.customer_id AS VARCHAR) AS customer_id,
    CAST(o.line_type AS VARCHAR) AS line_type,
    max(o.closed_invoice) AS closed_invoice,
    CAST(sum(o.amount) AS DECIMAL(18, 2)) AS amount,
    CAST(coalesce(max(u.changed_cdrs), 0) AS BIGINT) AS changed_cdrs
FROM owed o
LEFT JOIN (SELECT * FROM gold.closed_usage_change WHERE billing_period BETWEEN $first_billed AND $last_billed) u ON u.billing_period = o.billing_period AND u.customer_id = o.customer_id AND u.line_type = o.line_type
GROUP BY o.billing_period, o.customer_id, o.line_type
HAVING sum(o.amount) <> 0
