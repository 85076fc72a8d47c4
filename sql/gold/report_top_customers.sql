-- The 100 customers with the highest net amount per billing period (ties by customer_id).
-- @materialized: table
-- @test: unique(billing_period, rank)
-- @test: expression(rank BETWEEN 1 AND 100)
-- status: PROVISIONAL for an open period (may change), ISSUED for a closed one.
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
) AS ranked
WHERE rank <= 100
