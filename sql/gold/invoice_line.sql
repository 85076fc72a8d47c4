-- Invoice lines (billing.md). An open period's lines are gold.billed_line under the provisional
-- invoice numbers, recomputed every run, followed by ADJUSTMENT lines: each non-zero difference of
-- a closed period (gold.adjustment) on the customer's next open invoice after it, naming the closed
-- invoice and the line type, with the number of CDRs that changed. A closed period's lines are the
-- lines issued when it closed (gold.issued_invoice_line), never recomputed here.
-- Incremental by billing period (macros/periods.sql, billing_changes): the periods whose invoices
-- may have changed since the last run are recomputed and replaced.
-- @materialized: incremental
-- @replace_on: billing_period FROM changed_periods
-- @partition_by: billing_period
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @changed_since: closed_since = system.period_close.at
-- @changed_since: crm_since = bronze.crm_customer._ingested_at
-- @bind: first_period = SELECT min(billing_period) FROM changed_periods
-- @bind: last_period = SELECT max(billing_period) FROM changed_periods
-- @bind: first_issued = SELECT min(billing_period) FROM changed_periods
-- @bind: last_issued = SELECT max(billing_period) FROM changed_periods
-- @stage: raw_changed_periods, changed_periods
-- @test: unique(invoice_number, line_no)
-- @test: not_null(invoice_number, line_no, line_type, description, quantity, amount)
-- @test: accepted_values(line_type, 'RECURRING', 'VOICE', 'SMS', 'DATA', 'ROAMING', 'DISCOUNT', 'ADJUSTMENT')
-- @test: expression(line_type IN ('DISCOUNT', 'ADJUSTMENT') OR amount >= 0)
-- @test: expression((line_type = 'ADJUSTMENT') = (adjusts_period IS NOT NULL))
{% from "macros/periods.sql" import billing_changes, in_changed %}
WITH {{ billing_changes() }},
open_invoices AS (
    SELECT billing_period, customer_id, invoice_number FROM gold.invoice_number WHERE status = 'PROVISIONAL' AND {{ in_changed("billing_period") }}
),
carrier AS (
    -- The customer's next open invoice after the closed period.
    SELECT a.billing_period AS closed_period, a.customer_id, min(n.billing_period) AS billing_period
    FROM (SELECT DISTINCT billing_period, customer_id FROM gold.adjustment) a
    JOIN open_invoices n ON n.customer_id = a.customer_id AND n.billing_period > a.billing_period
    GROUP BY a.billing_period, a.customer_id
),
lines AS (
    SELECT
        n.invoice_number, l.billing_period, l.line_group, l.first_day, l.line_type, l.plan_id, l.description,
        l.quantity, l.amount, CAST(NULL AS VARCHAR) AS adjusts_period, CAST(NULL AS VARCHAR) AS adjusts_line_type,
        0 AS adjusts_order
    FROM gold.billed_line l
    JOIN open_invoices n ON n.billing_period = l.billing_period AND n.customer_id = l.customer_id
    WHERE {{ in_changed("l.billing_period") }}
    UNION ALL
    SELECT
        n.invoice_number,
        n.billing_period,
        7 AS line_group,
        CAST(NULL AS DATE) AS first_day,
        'ADJUSTMENT' AS line_type,
        CAST(NULL AS VARCHAR) AS plan_id,
        'Adjustment to ' || coalesce(a.closed_invoice, a.billing_period || ' (not invoiced)') || ' ' || a.line_type AS description,
        a.changed_cdrs AS quantity,
        a.amount,
        a.billing_period AS adjusts_period,
        a.line_type AS adjusts_line_type,
        -- An invoice's own line order (billing.md), not the alphabet.
        CASE a.line_type WHEN 'RECURRING' THEN 1 WHEN 'VOICE' THEN 2 WHEN 'SMS' THEN 3 WHEN 'DATA' THEN 4
            WHEN 'ROAMING' THEN 5 WHEN 'DISCOUNT' THEN 6 ELSE 7 END AS adjusts_order
    FROM gold.adjustment a
    JOIN carrier c ON c.closed_period = a.billing_period AND c.customer_id = a.customer_id
    JOIN open_invoices n ON n.billing_period = c.billing_period AND n.customer_id = c.customer_id
)
-- Both halves cast to the same types: the issued table's strings are read as views, literals are not.
SELECT
    CAST(invoice_number AS VARCHAR) AS invoice_number,
    CAST(row_number() OVER (PARTITION BY invoice_number ORDER BY line_group, first_day, adjusts_period, adjusts_order, description) AS BIGINT) AS line_no,
    CAST(line_type AS VARCHAR) AS line_type,
    CAST(description AS VARCHAR) AS description,
    CAST(quantity AS BIGINT) AS quantity,
    CAST(amount AS DECIMAL(18, 2)) AS amount,
    CAST(plan_id AS VARCHAR) AS plan_id,
    CAST(billing_period AS VARCHAR) AS billing_period,
    CAST(adjusts_period AS VARCHAR) AS adjusts_period,
    CAST(adjusts_line_type AS VARCHAR) AS adjusts_line_type
FROM lines
UNION ALL
SELECT
    CAST(l.invoice_number AS VARCHAR), l.line_no, CAST(l.line_type AS VARCHAR), CAST(l.description AS VARCHAR),
    l.quantity, l.amount, CAST(l.plan_id AS VARCHAR), CAST(l.billing_period AS VARCHAR),
    CAST(l.adjusts_period AS VARCHAR), CAST(l.adjusts_line_type AS VARCHAR)
FROM gold.issued_invoice_line l
JOIN gold.billing_period b ON b.billing_period = l.billing_period AND b.status = 'CLOSED'
WHERE {{ in_changed("l.billing_period", "$first_issued", "$last_issued") }}
