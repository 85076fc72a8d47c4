-- Date dimension: one row per local date (Africa/Casablanca) of every month holding a silver CDR,
-- whole months so that a dashboard's month has all its days.
-- @materialized: table
-- @test: unique(date)
-- @test: not_null(date, year, quarter, month, day, iso_week, day_of_week, is_weekend, billing_period)
-- @test: accepted_values(day_of_week, 1, 2, 3, 4, 5, 6, 7)
WITH bounds AS (
    SELECT
        -- local_date keeps order: the first and last start, which file statistics can answer.
        date_trunc('month', local_date(min(start_time))) AS first_month,
        date_trunc('month', local_date(max(start_time))) AS last_month
    FROM silver.cdr
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
