-- Revenue per billing period and region (the customer's region on the period's last day).
-- @materialized: table
-- @test: unique(billing_period, region)
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
GROUP BY i.billing_period, c.region, i.status
