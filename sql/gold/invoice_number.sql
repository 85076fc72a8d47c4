-- Invoice numbers. A closed period's are the ones `cdrlake close-period` issued (INV-YYYYMM-NNNNNNN,
-- gapless within the period, in customer_id order, never changed afterwards: gold.issued_invoice).
-- An open period's invoices are provisional and carry a draft id per customer,
-- PRV-YYYYMM-<customer_id>, which no customer arriving later can shift. A customer owed an
-- adjustment for a closed period (gold.adjustment) with no open invoice after it, e.g.
-- terminated, gets a stand-alone provisional document in the first open period after it.
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
-- @test: unique(billing_period, customer_id)
-- @test: accepted_values(status, 'ISSUED', 'PROVISIONAL')
{% from "macros/periods.sql" import billing_changes, in_changed %}
WITH {{ billing_changes() }},
billed AS (
    SELECT DISTINCT d.billing_period, d.customer_id
    FROM gold.subscription_days d
    JOIN gold.billing_period b ON b.billing_period = d.billing_period AND b.status = 'OPEN'
    WHERE {{ in_changed("d.billing_period") }}
),
owed AS (SELECT DISTINCT billing_period, customer_id FROM gold.adjustment),
stand_alone AS (
    SELECT min(b.billing_period) AS billing_period, o.customer_id
    FROM owed o
    JOIN gold.billing_period b ON b.status = 'OPEN' AND b.billing_period > o.billing_period
      AND b.billing_period IN (SELECT billing_period FROM changed_periods)
    WHERE NOT EXISTS (SELECT 1 FROM billed x WHERE x.customer_id = o.customer_id AND x.billing_period > o.billing_period)
    GROUP BY o.billing_period, o.customer_id
),
provisional AS (
    SELECT billing_period, customer_id FROM billed
    UNION
    SELECT billing_period, customer_id FROM stand_alone
)
SELECT CAST(i.billing_period AS VARCHAR) AS billing_period, CAST(i.customer_id AS VARCHAR) AS customer_id,
       CAST(i.invoice_number AS VARCHAR) AS invoice_number, CAST('ISSUED' AS VARCHAR) AS status
FROM gold.issued_invoice i
JOIN gold.billing_period b ON b.billing_period = i.billing_period AND b.status = 'CLOSED'
WHERE {{ in_changed("i.billing_period", "$first_issued", "$last_issued") }}
UNION ALL
SELECT
    CAST(billing_period AS VARCHAR),
    CAST(customer_id AS VARCHAR),
    CAST('PRV-' || replace(billing_period, '-', '') || '-' || customer_id AS VARCHAR),
    CAST('PROVISIONAL' AS VARCHAR)
FROM provisional
