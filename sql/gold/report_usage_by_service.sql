-- Usage per billing period, service and roaming flag: every rated CDR, whatever its status.
-- @materialized: table
-- @test: unique(billing_period, service, roaming)
SELECT
    billing_period,
    service,
    roaming,
    count(*) AS cdrs,
    CAST(sum(billable_units) AS BIGINT) AS billable_units,
    CAST(sum(charge) AS DECIMAL(18, 4)) AS charged_amount
FROM gold.rated_cdr
GROUP BY billing_period, service, roaming
