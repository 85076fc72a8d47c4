-- What a closed period owes its customers or they owe it since it was issued (billing.md,
-- "Period states, closing and adjustments"): per closed period, customer and line type, the
-- period's lines as the data stands now (gold.billed_line) minus the lines issued when it closed,
-- minus the adjustments for it already issued on later closed invoices. Non-zero rows only;
-- gold.invoice_line carries each as an ADJUSTMENT line on the customer's next open invoice.
-- changed_cdrs: the CDRs of that customer and line type that changed since the close
-- (gold.closed_usage_change); 0 for RECURRING and DISCOUNT, which no CDR makes.
-- @materialized: table
-- @test: unique(billing_period, customer_id, line_type)
-- @test: not_null(billing_period, customer_id, line_type, amount, changed_cdrs)
-- @test: expression(amount <> 0)
WITH issued_lines AS (
    SELECT i.billing_period, i.customer_id, i.invoice_number, l.line_type, l.amount, l.adjusts_period, l.adjusts_line_type
    FROM gold.issued_invoice_line l
    JOIN gold.issued_invoice i ON i.invoice_number = l.invoice_number
    JOIN gold.billing_period b ON b.billing_period = i.billing_period AND b.status = 'CLOSED'
),
owed AS (
    SELECT b.billing_period, b.customer_id, b.line_type, CAST(NULL AS VARCHAR) AS closed_invoice, b.amount
    FROM gold.billed_line b
    JOIN gold.billing_period p ON p.billing_period = b.billing_period AND p.status = 'CLOSED'
    UNION ALL
    SELECT billing_period, customer_id, line_type, CAST(invoice_number AS VARCHAR), -amount
    FROM issued_lines
    WHERE line_type <> 'ADJUSTMENT'
    UNION ALL
    SELECT adjusts_period, customer_id, adjusts_line_type, CAST(NULL AS VARCHAR), -amount
    FROM issued_lines
    WHERE line_type = 'ADJUSTMENT'
)
SELECT
    CAST(o.billing_period AS VARCHAR) AS billing_period,
    CAST(o.customer_id AS VARCHAR) AS customer_id,
    CAST(o.line_type AS VARCHAR) AS line_type,
    max(o.closed_invoice) AS closed_invoice,
    CAST(sum(o.amount) AS DECIMAL(18, 2)) AS amount,
    CAST(coalesce(max(u.changed_cdrs), 0) AS BIGINT) AS changed_cdrs
FROM owed o
LEFT JOIN gold.closed_usage_change u ON u.billing_period = o.billing_period AND u.customer_id = o.customer_id AND u.line_type = o.line_type
GROUP BY o.billing_period, o.customer_id, o.line_type
HAVING sum(o.amount) <> 0
