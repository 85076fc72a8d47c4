-- Date dimension: one row per local date (Africa/Casablanca) of every month holding a silver CDR,
-- whole months so that a dashboard's month has all its days.
-- @materialized: table
-- @test: unique(date)
-- @test: not_null(date, year, quarter, month, day, iso_week, day_of_week, is_weekend, billing_period)
-- @test: accepted_values(day_of_week, 1, 2, 3, 4, 5, 6, 7)
WITH bounds AS (
    -- gold.report_usage_by_service has a row for every billing period (local month) holding a
    -- rated CDR, and every silver CDR is rated: a few rows, where min/max over silver.cdr read
    -- all of history on every run.
    SELECT
        CAST(min(billing_period) || '-01' AS DATE) AS first_month,
        CAST(max(billing_period) || '-01' AS DATE) AS last_month
    FROM gold.report_usage_by_service
),
days AS (
    SELECT unnest(range(CAST(first_month AS DATE), CAST(last_month + INTERVAL '1 month' AS DATE), INTERVAL '1 day')) AS date
    FROM bounds
    WHERE first_month IS NOT NULL
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
