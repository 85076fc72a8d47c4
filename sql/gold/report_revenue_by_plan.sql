-- Revenue per billing period and plan; a customer on two plans in a period counts under the plan
-- of their last RECURRING line.
-- @materialized: table
-- @test: unique(billing_period, plan_id)
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
        WHERE line_type = 'RECURRING'
    ) AS recurring
    WHERE last = 1
) AS last_plan ON last_plan.invoice_number = i.invoice_number
JOIN bronze.plan p ON p.plan_id = last_plan.plan_id
GROUP BY i.billing_period, last_plan.plan_id, p.name, i.status
