-- Quality gate (warn): a local day whose silver CDR count is below half the average of the 7 days
-- before it (as many of them as hold data) points at a missing delivery.
-- @severity: warn
WITH daily AS (
    SELECT local_date(start_time) AS date, count(*) AS cdrs
    FROM silver.cdr
    GROUP BY local_date(start_time)
),
trailing AS (
    SELECT
        date,
        cdrs,
        avg(cdrs) OVER (ORDER BY date RANGE BETWEEN INTERVAL '7 days' PRECEDING AND INTERVAL '1 day' PRECEDING) AS trailing_avg
    FROM daily
)
SELECT date, cdrs, trailing_avg
FROM trailing
WHERE trailing_avg IS NOT NULL AND cdrs < 0.5 * trailing_avg
