-- The report's revenue equals the sum over rated calls.
SELECT u.zone
FROM gold.usage_by_zone u
JOIN (SELECT zone, sum(charge) AS revenue FROM silver.calls_rated GROUP BY zone) c ON c.zone = u.zone
WHERE u.revenue <> c.revenue
