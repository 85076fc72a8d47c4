-- Date dimension: one row per local date (Africa/Casablanca) of every month holding a silver CDR,
-- whole months so that a dashboard's month has all its days. A month without CDRs between two
-- with CDRs has no dates (no data to cover).
-- Incremental by month: the months gold.rated_cdr re-rated since the last run (and the month after
-- each, which a late record can leave without CDRs) are replaced by their days if they still hold a
-- rated CDR, so a daily run reads a few rows of gold.report_usage_by_service, not every month's.
-- @materialized: incremental
-- @replace_on: billing_period FROM changed_periods
-- @partition_by: billing_period
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @bind: first_period = SELECT min(billing_period) FROM changed_periods
-- @bind: last_period = SELECT max(billing_period) FROM changed_periods
-- @stage: changed_periods
-- @test: unique(date)
-- @test: not_null(date, year, quarter, month, day, iso_week, day_of_week, is_weekend, billing_period)
-- @test: accepted_values(day_of_week, 1, 2, 3, 4, 5, 6, 7)
{% from "macros/periods.sql" import rerated_periods %}
WITH changed_periods AS (
    SELECT DISTINCT billing_period FROM ({{ rerated_periods() }}) AS rerated
),
months AS (
    -- gold.report_usage_by_service has a row for every billing period (local month) holding a
    -- rated CDR, and every silver CDR is rated: a few rows a month.
    SELECT DISTINCT CAST(billing_period || '-01' AS DATE) AS first_day
    FROM gold.report_usage_by_service
    WHERE billing_period BETWEEN $first_period AND $last_period
      AND billing_period IN (SELECT billing_period FROM changed_periods)
),
days AS (
    SELECT unnest(range(first_day, CAST(first_day + INTERVAL '1 month' AS DATE), INTERVAL '1 day')) AS date
    FROM months
)
SELECT
    date,
    CAST(date_part('year', date) AS INT) AS year,
    CAST(date_part('quarter', date) AS INT) AS quarter,
    CAST(date_part('month', date) AS INT) AS month,
    CAST(date_part('day', date) AS INT) AS day,
    CAST(date_part('week', date) AS INT) AS iso_week,
    -- DataFusion's dow is 0 = Sunday; the spec's day_of_week is 1 = Monday .. 7 = Sunday.
    CAST((date_part('dow', date) + 6) % 7 + 1 AS INT) AS day_of_week,
    date_part('dow', date) IN (0, 6) AS is_weekend,
    to_char(date, '%Y-%m') AS billing_period
FROM days
