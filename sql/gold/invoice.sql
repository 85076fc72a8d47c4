-- One invoice per customer and billing period (billing.md): the lines summed by type, VAT 20%
-- computed once on the net and rounded half-up, total = net + VAT, in MAD. status PROVISIONAL
-- (an open period, recomputed every run) or ISSUED (a closed period: the header as issued,
-- gold.issued_invoice).
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
-- @test: unique(invoice_number)
-- @test: unique(customer_id, billing_period)
-- @test: not_null(invoice_number, customer_id, billing_period, net_amount, vat_amount, total_amount)
-- @test: expression(total_amount = net_amount + vat_amount)
-- @test: expression(discount_amount <= 0)
-- @test: expression(net_amount = recurring_amount + voice_amount + sms_amount + data_amount + roaming_amount + discount_amount + adjustment_amount)
-- @test: accepted_values(status, 'ISSUED', 'PROVISIONAL')
{% from "macros/periods.sql" import billing_changes, in_changed %}
WITH {{ billing_changes() }},
totals AS (
    SELECT
        invoice_number,
        sum(CASE WHEN line_type = 'RECURRING' THEN amount ELSE 0 END) AS recurring_amount,
        sum(CASE WHEN line_type = 'VOICE' THEN amount ELSE 0 END) AS voice_amount,
        sum(CASE WHEN line_type = 'SMS' THEN amount ELSE 0 END) AS sms_amount,
        sum(CASE WHEN line_type = 'DATA' THEN amount ELSE 0 END) AS data_amount,
        sum(CASE WHEN line_type = 'ROAMING' THEN amount ELSE 0 END) AS roaming_amount,
        sum(CASE WHEN line_type = 'DISCOUNT' THEN amount ELSE 0 END) AS discount_amount,
        sum(CASE WHEN line_type = 'ADJUSTMENT' THEN amount ELSE 0 END) AS adjustment_amount,
        sum(amount) AS net_amount,
        count(*) AS line_count
    FROM gold.invoice_line
    WHERE {{ in_changed("billing_period") }}
      AND invoice_number IN (SELECT invoice_number FROM gold.invoice_number WHERE status = 'PROVISIONAL' AND {{ in_changed("billing_period") }})
    GROUP BY invoice_number
)
-- Both halves cast to the same types: the issued table's strings are read as views, literals are not.
SELECT
    CAST(t.invoice_number AS VARCHAR) AS invoice_number,
    CAST(o.customer_id AS VARCHAR) AS customer_id,
    CAST(o.billing_period AS VARCHAR) AS billing_period,
    b.period_start,
    b.period_end,
    CAST(t.recurring_amount AS DECIMAL(18, 2)) AS recurring_amount,
    CAST(t.voice_amount AS DECIMAL(18, 2)) AS voice_amount,
    CAST(t.sms_amount AS DECIMAL(18, 2)) AS sms_amount,
    CAST(t.data_amount AS DECIMAL(18, 2)) AS data_amount,
    CAST(t.roaming_amount AS DECIMAL(18, 2)) AS roaming_amount,
    CAST(t.discount_amount AS DECIMAL(18, 2)) AS discount_amount,
    -- ADJUSTMENT lines: differences of closed periods (may be negative, a credit).
    CAST(t.adjustment_amount AS DECIMAL(18, 2)) AS adjustment_amount,
    CAST(t.net_amount AS DECIMAL(18, 2)) AS net_amount,
    CAST(round_half_up(t.net_amount * CAST(0.20 AS DECIMAL(3, 2)), 2) AS DECIMAL(18, 2)) AS vat_amount,
    CAST(t.net_amount + round_half_up(t.net_amount * CAST(0.20 AS DECIMAL(3, 2)), 2) AS DECIMAL(18, 2)) AS total_amount,
    CAST('MAD' AS VARCHAR) AS currency,
    t.line_count,
    CAST('PROVISIONAL' AS VARCHAR) AS status
FROM totals t
JOIN gold.invoice_number o ON o.invoice_number = t.invoice_number
JOIN gold.billing_period b ON b.billing_period = o.billing_period
UNION ALL
SELECT
    CAST(i.invoice_number AS VARCHAR), CAST(i.customer_id AS VARCHAR), CAST(i.billing_period AS VARCHAR), i.period_start, i.period_end, i.recurring_amount,
    i.voice_amount, i.sms_amount, i.data_amount, i.roaming_amount, i.discount_amount, i.adjustment_amount, i.net_amount,
    i.vat_amount, i.total_amount, CAST(i.currency AS VARCHAR), i.line_count, CAST(i.status AS VARCHAR)
FROM gold.issued_invoice i
JOIN gold.billing_period b ON b.billing_period = i.billing_period AND b.status = 'CLOSED'
WHERE {{ in_changed("i.billing_period", "$first_issued", "$last_issued") }}
