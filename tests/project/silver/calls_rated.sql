-- One row per call, merged on call_id as new batches arrive.
-- @materialized: incremental
-- @unique_key: call_id
-- @watermark: _ingested_at
-- @lookback: 1 hour
-- @test: unique(call_id)
-- @test: relationships(zone, bronze.rates.zone)
-- @test: expression(charge >= 0)
WITH priced AS (
    SELECT c.call_id, c.served_msisdn, c.duration_s, c.zone, c._ingested_at,
           CAST(c.duration_s * r.rate_per_min / 60 AS DECIMAL(18, 4)) AS charge
    FROM silver.calls_clean c
    JOIN bronze.rates r ON r.zone = c.zone
)
SELECT call_id, served_msisdn, duration_s, zone, charge, _ingested_at
FROM priced
WHERE _ingested_at > $since
