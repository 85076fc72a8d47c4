-- Usage per local day, service and roaming flag over every rated CDR, whatever its status: what
-- gold.report_usage_by_service sums per billing period, so that report reads days, not CDRs.
-- Incremental from a day, as gold.customer_usage_to_date: the days from the earliest CDR
-- gold.rated_cdr rated since the last run on are replaced whole (a re-rated day is recounted
-- from its stored CDRs, so a CDR that moved or went away leaves no trace).
-- @materialized: incremental
-- @partition_by: billing_period
-- @replace_where: day >= $from_day
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @bind: from_day = SELECT local_date(min(first_start)) FROM system.rated_cdr_changes WHERE _rated_at > $rated_since
-- @test: unique(day, service, roaming)
-- @test: not_null(day, billing_period, service, roaming, cdrs)
SELECT
    local_date(start_time) AS day,
    CAST(billing_period AS VARCHAR) AS billing_period,
    service,
    roaming,
    count(*) AS cdrs,
    CAST(sum(billable_units) AS BIGINT) AS billable_units,
    CAST(sum(charge) AS DECIMAL(18, 4)) AS charged_amount
FROM gold.rated_cdr
-- A literal (@bind): the scan skips the files of older days.
WHERE start_time >= local_day_start($from_day)
GROUP BY 1, 2, 3, 4
