-- Quality gate (warn): a local day whose silver CDR count is below half the average of the 7 days
-- before it (as many of them as hold data) points at a missing delivery. The newest day is not
-- checked: its late records are still to come.
-- In a run, only the days of the CDRs written since the test last passed are checked, with the 7
-- days before them (@bind: the scan skips older partitions); `cdrlake test` checks every day. It
-- counted every day of silver.cdr on every run: a read that grew with the whole history.
-- @severity: warn
-- @bind: from_day = SELECT local_date(min(start_time)) FROM silver.cdr WHERE _mediated_at > $last_passed
-- @bind: from_date = SELECT CAST($from_day - INTERVAL '8 days' AS DATE)
WITH daily AS (
    SELECT local_date(start_time) AS date, count(*) AS cdrs
    FROM silver.cdr
    -- _start_date is the UTC date, at most a day before the local one.
    WHERE _start_date >= $from_date
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
  AND date >= $from_day
  AND date < (SELECT max(date) FROM daily)
