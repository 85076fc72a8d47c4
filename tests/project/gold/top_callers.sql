-- @materialized: table
SELECT served_msisdn, sum(duration_s) AS seconds
FROM bronze.calls
GROUP BY served_msisdn
