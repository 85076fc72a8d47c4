-- What each build of gold.rated_cdr rated, per billing period: the earliest start and the CDRs it
-- (re)rated there, one row per build (its _rated_at) and period, appended. The models that follow
-- gold.rated_cdr's changes read the periods and the earliest start rated since their last run from
-- here, a few rows, instead of every CDR re-rated since (3.3M a day at 1M CDRs a day, which seven
-- models each scanned). A log of builds, not data: a full refresh keeps one row per period.
-- _rated_at is gold.rated_cdr's own, so a mark kept on one is a mark on the other.
-- @materialized: incremental
-- @unique_key: _rated_at, billing_period
-- @on_existing_key: keep
-- @watermark: _rated_at
-- @test: not_null(_rated_at, billing_period, first_start, cdrs)
SELECT
    _rated_at,
    -- Cast: rated_cdr's partition column is read as a dictionary.
    CAST(billing_period AS VARCHAR) AS billing_period,
    min(start_time) AS first_start,
    count(*) AS cdrs
FROM gold.rated_cdr
WHERE _rated_at > $since
GROUP BY _rated_at, billing_period
