-- Active days per customer, plan and billing period: local days on which the customer's version
-- is active (a version counts from its effective day; the day a terminated version takes effect
-- is not active). The basis of RECURRING lines and of who gets an invoice.
-- @materialized: table
-- @test: unique(billing_period, customer_id, plan_id)
-- @test: expression(active_days > 0)
WITH versions AS (
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
)
SELECT billing_period, customer_id, plan_id, CAST(sum(days) AS BIGINT) AS active_days, min(first_day) AS first_day
FROM overlaps
WHERE days > 0
GROUP BY billing_period, customer_id, plan_id
