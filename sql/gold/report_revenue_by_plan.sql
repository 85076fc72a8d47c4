-- Revenue per billing period and plan; a customer on two plans in a period counts under the plan
-- of their last RECURRING line.
-- Incremental by billing period (macros/periods.sql, billing_changes): the periods whose invoices
-- may have changed since the last run are recomputed and replaced.
-- @materialized: incremental
-- @replace_on: billing_period FROM changed_periods
-- @partition_by: billing_period
-- @rebuild_on_change: bronze.plan
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @changed_since: closed_since = system.period_close.at
-- @changed_since: crm_since = bronze.crm_customer._ingested_at
-- @bind: first_period = SELECT min(billing_period) FROM changed_periods
-- @bind: last_period = SELECT max(billing_period) FROM changed_periods
-- @stage: raw_changed_periods, changed_periods
-- @test: unique(billing_period, plan_id)
{% from "macros/periods.sql" import billing_changes, in_changed %}
WITH {{ billing_changes() }}
SELECT
    i.billing_period,
    last_plan.plan_id,
    p.name AS plan_name,
    count(*) AS customers,
    CAST(sum(i.recurring_amount) AS DECIMAL(18, 2)) AS recurring_amount,
    CAST(sum(i.voice_amount + i.sms_amount + i.data_amount + i.roaming_amount) AS DECIMAL(18, 2)) AS usage_amount,
    CAST(sum(i.net_amount) AS DECIMAL(18, 2)) AS net_amount,
    -- PROVISIONAL for an open period (may change), ISSUED for a closed one.
    i.status
FROM gold.invoice i
JOIN (
    SELECT invoice_number, plan_id
    FROM (
        SELECT invoice_number, plan_id, row_number() OVER (PARTITION BY invoice_number ORDER BY line_no DESC) AS last
        FROM gold.invoice_line
        WHERE line_type = 'RECURRING' AND {{ in_changed("billing_period") }}
    ) AS recurring
    WHERE last = 1
) AS last_plan ON last_plan.invoice_number = i.invoice_number
JOIN bronze.plan p ON p.plan_id = last_plan.plan_id
WHERE {{ in_changed("i.billing_period") }}
GROUP BY i.billing_period, last_plan.plan_id, p.name, i.status
