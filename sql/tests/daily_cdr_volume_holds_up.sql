-- Quality gate (warn): a local day whose CDR count is below half the average of the 7 days before
-- it (as many of them as the data reaches back) points at a missing delivery. A day with no CDR
-- at all between the first and the newest counts as 0: a whole lost delivery is the case this
-- test is for. The newest day is not checked: its late records are still to come.
-- The counts come from gold.service_usage_daily (CDRs per local day, service and roaming flag),
-- which counts every rated CDR, and gold.rated_cdr holds one row per silver CDR: a few rows a day,
-- where counting silver.cdr read every CDR of the days checked (10M rows a run at 1M CDRs a day).
-- In a run, only the days from the earliest CDR rated since the test last passed are checked,
-- with the 7 days before them; `cdrlake test` and a full refresh check every day. The check also
-- goes back to the earliest start the last builds before that pass rated: the newest day then
-- was not checked (it was the newest), and a lost delivery leaves the days after it short or
-- empty where no new CDR starts. With nothing rated since, no day is checked.
-- @severity: warn
-- @bind: from_day = SELECT CASE WHEN min(first_start) FILTER (WHERE _rated_at > $last_passed) IS NOT NULL THEN local_date(least(min(first_start) FILTER (WHERE _rated_at > $last_passed), max(first_start) FILTER (WHERE _rated_at <= $last_passed))) END FROM system.rated_cdr_changes
-- @bind: from_date = SELECT CAST($from_day - INTERVAL '7 days' AS DATE)
WITH counted AS (
    SELECT day AS date, sum(cdrs) AS cdrs
    FROM gold.service_usage_daily
    WHERE day >= $from_date
    GROUP BY day
),
days AS (
    -- Every day from the first counted to the newest, with or without CDRs.
    SELECT unnest(generate_series(first_day, last_day, INTERVAL '1 day')) AS date
    FROM (SELECT min(date) AS first_day, max(date) AS last_day FROM counted) span
    WHERE first_day IS NOT NULL
),
daily AS (
    SELECT d.date, coalesce(c.cdrs, 0) AS cdrs
    FROM days d
    LEFT JOIN counted c ON c.date = d.date
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
