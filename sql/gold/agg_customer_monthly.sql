-- Usage and charges per customer and billing period, from the CDR fact (home and roaming).
-- Data MB are MiB (1,048,576 bytes), as in rating.
-- @materialized: table
-- @test: unique(billing_period, customer_id)
-- @test: not_null(billing_period, customer_id, total_charge)
-- @test: expression(voice_charge >= 0 AND sms_charge >= 0 AND data_charge >= 0)
SELECT
    billing_period,
    customer_id,
    count(*) AS cdrs,
    coalesce(sum(duration_s) FILTER (WHERE service = 'VOICE'), 0) AS voice_seconds,
    count(*) FILTER (WHERE service = 'SMS') AS sms_count,
    round(coalesce(sum(volume_bytes) FILTER (WHERE service = 'DATA'), 0) / 1048576.0, 3) AS data_mb,
    count(*) FILTER (WHERE roaming) AS roaming_cdrs,
    CAST(coalesce(sum(charge) FILTER (WHERE service = 'VOICE'), 0) AS DECIMAL(18, 4)) AS voice_charge,
    CAST(coalesce(sum(charge) FILTER (WHERE service = 'SMS'), 0) AS DECIMAL(18, 4)) AS sms_charge,
    CAST(coalesce(sum(charge) FILTER (WHERE service = 'DATA'), 0) AS DECIMAL(18, 4)) AS data_charge,
    CAST(coalesce(sum(charge) FILTER (WHERE roaming), 0) AS DECIMAL(18, 4)) AS roaming_charge,
    CAST(sum(charge) AS DECIMAL(18, 4)) AS total_charge
FROM gold.fact_cdr
WHERE customer_id IS NOT NULL
GROUP BY billing_period, customer_id
