-- Who each invoiced customer is in a billing period, for reports: the subscriber version in
-- effect on the period's last day (MSISDN, region, segment), with the MSISDN masked.
-- @materialized: table
-- @test: unique(billing_period, customer_id)
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
) AS versions
WHERE latest = 1
