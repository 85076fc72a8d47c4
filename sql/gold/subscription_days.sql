-- Active days per customer, plan and billing period: local days on which the customer's version
-- is active (a version counts from its effective day; the day a terminated version takes effect
-- is not active). The basis of RECURRING lines and of who gets an invoice.
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
-- @test: unique(billing_period, customer_id, plan_id)
-- @test: expression(active_days > 0)
{% from "macros/periods.sql" import billing_changes, in_changed %}
WITH {{ billing_changes() }},
versions AS (
    SELECT
        customer_id,
        plan_id,
        status,
        effective_from AS day_from,
        lead(effective_from) OVER (PARTITION BY customer_id ORDER BY version) AS day_to
    FROM silver.subscriber
),
overlaps AS (
    SELECT
        p.billing_period,
        v.customer_id,
        v.plan_id,
        greatest(v.day_from, p.period_start) AS first_day,
        CAST(least(coalesce(v.day_to, CAST(p.period_end + INTERVAL '1 day' AS DATE)), CAST(p.period_end + INTERVAL '1 day' AS DATE)) AS INT)
            - CAST(greatest(v.day_from, p.period_start) AS INT) AS days
    FROM gold.billing_period p
    JOIN versions v
      ON v.status = 'active'
     AND v.day_from <= p.period_end
     AND (v.day_to IS NULL OR v.day_to > p.period_start)
    WHERE {{ in_changed("p.billing_period") }}
)
SELECT billing_period, customer_id, plan_id, CAST(sum(days) AS BIGINT) AS active_days, min(first_day) AS first_day
FROM overlaps
WHERE days > 0
GROUP BY billing_period, customer_id, plan_id
