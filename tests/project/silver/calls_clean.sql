-- Calls with a positive duration, normalized zone.
-- @materialized: view
-- @test: not_null(call_id, zone)
-- @test: accepted_values(zone, 'MA_ONNET', 'MA_MOBILE')
SELECT call_id,
       served_msisdn,
       duration_s,
       CASE WHEN substr(other_party, 1, 6) IN ('+21261', '+21266') THEN 'MA_ONNET' ELSE 'MA_MOBILE' END AS zone,
       _ingested_at
FROM bronze.calls
WHERE duration_s > 0
