-- Usage charges per billing period, customer and invoice line type (VOICE, SMS, DATA home usage;
-- ROAMING): the CDRs counted and their charges summed, as gold.invoice_line bills them. A small
-- table (customers x periods x 4), so invoices, billing periods and reports need not read every
-- rated CDR of every period on each run.
-- Incremental by billing period: the periods gold.rated_cdr re-rated since the last run, and the
-- period after each (a late record can move a call's start into the period before), are replaced
-- whole by the running totals gold.customer_usage_to_date keeps for their last day (one row per
-- customer, not the period's CDRs).
-- @materialized: incremental
-- @replace_on: billing_period FROM changed_periods
-- @partition_by: billing_period
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @bind: first_period = SELECT min(billing_period) FROM changed_periods
-- @bind: last_period = SELECT max(billing_period) FROM changed_periods
-- @stage: changed_periods
-- @test: unique(billing_period, customer_id, line_type)
-- @test: not_null(billing_period, customer_id, line_type, cdrs, charged)
-- @test: accepted_values(line_type, 'VOICE', 'SMS', 'DATA', 'ROAMING')
{% from "macros/periods.sql" import on_last_day, rerated_periods %}
WITH changed_periods AS (
    SELECT DISTINCT billing_period FROM ({{ rerated_periods() }}) AS rerated
)
SELECT billing_period, customer_id, line_type, cdrs, charged
FROM (
    SELECT
        t.billing_period,
        t.customer_id,
        l.line_type,
        CASE l.line_type
            WHEN 'VOICE' THEN t.voice_cdrs
            WHEN 'SMS' THEN t.sms_cdrs
            WHEN 'DATA' THEN t.data_cdrs
            ELSE t.roaming_voice_cdrs + t.roaming_sms_cdrs + t.roaming_data_cdrs
        END AS cdrs,
        CASE l.line_type
            WHEN 'VOICE' THEN t.voice_charge
            WHEN 'SMS' THEN t.sms_charge
            WHEN 'DATA' THEN t.data_charge
            ELSE CAST(t.roaming_voice_charge + t.roaming_sms_charge + t.roaming_data_charge AS DECIMAL(18, 4))
        END AS charged
    FROM gold.customer_usage_to_date t
    CROSS JOIN (VALUES ('VOICE'), ('SMS'), ('DATA'), ('ROAMING')) l(line_type)
    -- Each period's last day; the bound periods (@bind) let the scan skip the other days.
    WHERE {{ on_last_day("t.day", "t.billing_period", "$first_period", "$last_period") }}
      AND t.billing_period IN (SELECT billing_period FROM changed_periods)
) lines
WHERE cdrs > 0
