-- Quality gate (warn): a local day whose CDR count is below half the average of the 7 days before
-- it (as many of them as hold data) points at a missing delivery. The newest day is not checked:
-- its late records are still to come.
-- The counts come from gold.service_usage_daily (CDRs per local day, service and roaming flag),
-- which counts every rated CDR, and gold.rated_cdr holds one row per silver CDR: a few rows a day,
-- where counting silver.cdr read every CDR of the days checked (10M rows a run at 1M CDRs a day).
-- In a run, only the days from the earliest CDR rated since the test last passed are checked,
-- with the 7 days before them; `cdrlake test` and a full refresh check every day.
-- @severity: warn
-- @bind: from_day = SELECT local_date(min(first_start)) FROM system.rated_cdr_changes WHERE _rated_at > $last_passed
-- @bind: from_date = SELECT CAST($from_day - INTERVAL '7 days' AS DATE)
WITH daily AS (
    SELECT day AS date, sum(cdrs) AS cdrs
    FROM gold.service_usage_daily
    WHERE day >= $from_date
    GROUP BY day
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
  AND date >= $from_day
  AND date < (SELECT max(date) FROM daily)
