-- Calls and revenue per zone.
-- @materialized: table
-- @test: unique(zone)
-- @test: expression(calls > 0)
SELECT zone, count(*) AS calls, sum(duration_s) AS seconds, sum(charge) AS revenue
FROM silver.calls_rated
GROUP BY zone
