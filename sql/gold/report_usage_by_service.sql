-- Usage per billing period, service and roaming flag: every rated CDR, whatever its status.
-- Incremental by billing period, as gold.customer_usage: the periods gold.rated_cdr re-rated since
-- the last run (and the period after each) are replaced whole, from the last day's running totals
-- of gold.service_usage_to_date (a few rows a period), not from the period's CDRs or days.
-- @materialized: incremental
-- @replace_on: billing_period FROM changed_periods
-- @partition_by: billing_period
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @bind: first_period = SELECT min(billing_period) FROM changed_periods
-- @bind: last_period = SELECT max(billing_period) FROM changed_periods
-- @stage: changed_periods
-- @test: unique(billing_period, service, roaming)
{% from "macros/periods.sql" import on_last_day, rerated_periods %}
WITH changed_periods AS (
    SELECT DISTINCT billing_period FROM ({{ rerated_periods() }}) AS rerated
)
SELECT
    CAST(billing_period AS VARCHAR) AS billing_period,
    service,
    roaming,
    -- Non-null, as the count it sums (the table's column is not nullable).
    CAST(coalesce(cdrs, 0) AS BIGINT) AS cdrs,
    billable_units,
    charged_amount
FROM gold.service_usage_to_date t
-- Each period's last day; the bound periods (@bind) let the scan skip the other days.
WHERE {{ on_last_day("t.day", "t.billing_period", "$first_period", "$last_period") }}
  AND t.billing_period IN (SELECT billing_period FROM changed_periods)
