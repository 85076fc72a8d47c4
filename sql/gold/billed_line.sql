-- Every billing period's invoice lines as the data stands now, per customer (billing.md):
-- RECURRING per plan (prorated by active days), VOICE, SMS and DATA home usage, ROAMING, and the
-- loyalty DISCOUNT, without invoice numbers. gold.invoice_line shows them for open periods; for a
-- closed period they are what the issued invoice is compared with (gold.adjustment).
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
-- @test: not_null(billing_period, customer_id, line_type, description, quantity, amount)
-- @test: accepted_values(line_type, 'RECURRING', 'VOICE', 'SMS', 'DATA', 'ROAMING', 'DISCOUNT')
-- @test: expression(line_type = 'DISCOUNT' OR amount >= 0)
{% from "macros/periods.sql" import billing_changes, in_changed %}
WITH {{ billing_changes() }},
billed AS (
    -- Every customer with an active day in a period, open or closed.
    SELECT DISTINCT billing_period, customer_id FROM gold.subscription_days WHERE {{ in_changed("billing_period") }}
),
recurring AS (
    SELECT
        d.billing_period,
        d.customer_id,
        1 AS line_group,
        d.first_day,
        'RECURRING' AS line_type,
        d.plan_id,
        p.plan_id || ' ' || p.name || ', ' || CAST(d.active_days AS VARCHAR) || '/' || CAST(b.days_in_period AS VARCHAR) || ' days' AS description,
        d.active_days AS quantity,
        round_half_up(
            -- The factor with 18 decimals before rounding to 9 (DataFusion keeps few decimals when dividing integers).
            p.monthly_fee * round_half_up(CAST(d.active_days AS DECIMAL(38, 18)) / CAST(b.days_in_period AS DECIMAL(38, 0)), 9),
            2
        ) AS amount
    FROM gold.subscription_days d
    JOIN gold.billing_period b ON b.billing_period = d.billing_period
    JOIN bronze.plan p ON p.plan_id = d.plan_id
    WHERE {{ in_changed("d.billing_period") }}
),
usage_kinds AS (
    SELECT * FROM (VALUES ('VOICE', 2, 'Voice calls'), ('SMS', 3, 'SMS'), ('DATA', 4, 'Mobile data'), ('ROAMING', 5, 'Roaming')) AS k(line_type, line_group, label)
),
usage_lines AS (
    SELECT
        i.billing_period,
        i.customer_id,
        k.line_group,
        CAST(NULL AS DATE) AS first_day,
        k.line_type,
        CAST(NULL AS VARCHAR) AS plan_id,
        k.label || ', ' || CAST(coalesce(u.cdrs, 0) AS VARCHAR) || ' CDRs' AS description,
        coalesce(u.cdrs, 0) AS quantity,
        round_half_up(coalesce(u.charged, CAST(0 AS DECIMAL(18, 4))), 2) AS amount
    FROM billed i
    CROSS JOIN usage_kinds k
    LEFT JOIN (SELECT * FROM gold.customer_usage WHERE {{ in_changed("billing_period") }}) u ON u.customer_id = i.customer_id AND u.billing_period = i.billing_period AND u.line_type = k.line_type
),
discounts AS (
    -- Customers first activated at least 24 months before the period's first day.
    SELECT
        i.billing_period,
        i.customer_id,
        6 AS line_group,
        CAST(NULL AS DATE) AS first_day,
        'DISCOUNT' AS line_type,
        CAST(NULL AS VARCHAR) AS plan_id,
        'Loyalty discount 10%' AS description,
        1 AS quantity,
        -round_half_up(CAST(0.10 AS DECIMAL(3, 2)) * r.recurring, 2) AS amount
    FROM billed i
    JOIN gold.billing_period b ON b.billing_period = i.billing_period
    JOIN (SELECT DISTINCT customer_id, activation_date FROM silver.subscriber) a ON a.customer_id = i.customer_id
    JOIN (SELECT billing_period, customer_id, sum(amount) AS recurring FROM recurring GROUP BY billing_period, customer_id) r
      ON r.billing_period = i.billing_period AND r.customer_id = i.customer_id
    WHERE a.activation_date <= CAST(b.period_start - INTERVAL '24 months' AS DATE)
),
recomputed AS (
    SELECT billing_period, customer_id, line_group, first_day, line_type, plan_id, description, quantity, amount FROM recurring
    UNION ALL
    SELECT billing_period, customer_id, line_group, first_day, line_type, plan_id, description, quantity, amount FROM usage_lines
    UNION ALL
    SELECT billing_period, customer_id, line_group, first_day, line_type, plan_id, description, quantity, amount FROM discounts
)
SELECT
    CAST(billing_period AS VARCHAR) AS billing_period,
    CAST(customer_id AS VARCHAR) AS customer_id,
    line_group,
    first_day,
    CAST(line_type AS VARCHAR) AS line_type,
    CAST(plan_id AS VARCHAR) AS plan_id,
    CAST(description AS VARCHAR) AS description,
    CAST(quantity AS BIGINT) AS quantity,
    CAST(amount AS DECIMAL(18, 2)) AS amount
FROM recomputed
