-- Usage and charges per customer and billing period, of the rated CDRs (home and roaming).
-- Data MB are MiB (1,048,576 bytes), as in rating.
-- Incremental by billing period, as gold.customer_usage: the periods gold.rated_cdr re-rated since
-- the last run, and the period after each, are replaced whole, from the running totals
-- gold.customer_usage_to_date keeps for their last day (the same rows as gold.fact_cdr's).
-- @materialized: incremental
-- @replace_on: billing_period FROM changed_periods
-- @partition_by: billing_period
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @bind: first_period = SELECT min(billing_period) FROM changed_periods
-- @bind: last_period = SELECT max(billing_period) FROM changed_periods
-- @stage: changed_periods
-- @test: unique(billing_period, customer_id)
-- @test: not_null(billing_period, customer_id, total_charge)
-- @test: expression(voice_charge >= 0 AND sms_charge >= 0 AND data_charge >= 0)
{% from "macros/periods.sql" import on_last_day, rerated_periods %}
WITH changed_periods AS (
    SELECT DISTINCT billing_period FROM ({{ rerated_periods() }}) AS rerated
)
SELECT
    billing_period,
    customer_id,
    cdrs,
    voice_seconds,
    sms_cdrs + roaming_sms_cdrs AS sms_count,
    round(data_bytes / 1048576.0, 3) AS data_mb,
    roaming_voice_cdrs + roaming_sms_cdrs + roaming_data_cdrs AS roaming_cdrs,
    CAST(voice_charge + roaming_voice_charge AS DECIMAL(18, 4)) AS voice_charge,
    CAST(sms_charge + roaming_sms_charge AS DECIMAL(18, 4)) AS sms_charge,
    CAST(data_charge + roaming_data_charge AS DECIMAL(18, 4)) AS data_charge,
    CAST(roaming_voice_charge + roaming_sms_charge + roaming_data_charge AS DECIMAL(18, 4)) AS roaming_charge,
    CAST(voice_charge + sms_charge + data_charge + roaming_voice_charge + roaming_sms_charge + roaming_data_charge AS DECIMAL(18, 4)) AS total_charge
FROM gold.customer_usage_to_date
-- Each period's last day; the bound periods (@bind) let the scan skip the other days.
WHERE {{ on_last_day("day", "billing_period", "$first_period", "$last_period") }}
  AND billing_period IN (SELECT billing_period FROM changed_periods)
