-- Revenue per billing period and region (the customer's region on the period's last day).
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
-- @stage: raw_changed_periods, changed_periods
-- @test: unique(billing_period, region)
{% from "macros/periods.sql" import billing_changes, in_changed %}
WITH {{ billing_changes() }}
SELECT
    i.billing_period,
    c.region,
    count(*) AS customers,
    CAST(sum(i.net_amount) AS DECIMAL(18, 2)) AS net_amount,
    CAST(sum(i.vat_amount) AS DECIMAL(18, 2)) AS vat_amount,
    -- PROVISIONAL for an open period (may change), ISSUED for a closed one.
    i.status
FROM gold.invoice i
JOIN gold.customer_period c ON c.billing_period = i.billing_period AND c.customer_id = i.customer_id
WHERE {{ in_changed("i.billing_period") }} AND {{ in_changed("c.billing_period") }}
GROUP BY i.billing_period, c.region, i.status
