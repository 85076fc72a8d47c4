-- Who each invoiced customer is in a billing period, for reports: the subscriber version in
-- effect on the period's last day (MSISDN, region, segment), with the MSISDN masked.
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
-- @test: unique(billing_period, customer_id)
{% from "macros/periods.sql" import billing_changes, in_changed %}
WITH {{ billing_changes() }}
SELECT billing_period, customer_id, msisdn_masked, region, city, segment
FROM (
    SELECT
        n.billing_period,
        n.customer_id,
        mask_msisdn(s.msisdn) AS msisdn_masked,
        s.region,
        s.city,
        s.segment,
        row_number() OVER (PARTITION BY n.billing_period, n.customer_id ORDER BY s.version DESC) AS latest
    FROM gold.invoice_number n
    JOIN gold.billing_period b ON b.billing_period = n.billing_period
    JOIN silver.subscriber s ON s.customer_id = n.customer_id AND s.effective_from <= b.period_end
    WHERE {{ in_changed("n.billing_period") }}
) AS versions
WHERE latest = 1
