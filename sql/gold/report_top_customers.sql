-- The 100 customers with the highest net amount per billing period (ties by customer_id).
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
-- @test: unique(billing_period, rank)
-- @test: expression(rank BETWEEN 1 AND 100)
-- status: PROVISIONAL for an open period (may change), ISSUED for a closed one.
{% from "macros/periods.sql" import billing_changes, in_changed %}
WITH {{ billing_changes() }}
SELECT billing_period, rank, customer_id, msisdn_masked, net_amount, status
FROM (
    SELECT
        i.billing_period,
        CAST(row_number() OVER (PARTITION BY i.billing_period ORDER BY i.net_amount DESC, i.customer_id) AS BIGINT) AS rank,
        i.customer_id,
        c.msisdn_masked,
        i.net_amount,
        i.status
    FROM gold.invoice i
    JOIN gold.customer_period c ON c.billing_period = i.billing_period AND c.customer_id = i.customer_id
    WHERE {{ in_changed("i.billing_period") }} AND {{ in_changed("c.billing_period") }}
) AS ranked
WHERE rank <= 100
