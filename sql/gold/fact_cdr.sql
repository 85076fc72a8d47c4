-- The CDR fact of the star schema: one row per gold.rated_cdr row, joined to the customer version
-- valid at its start (SCD2), with its local date and hour. Measures as rated; no MSISDN.
-- Incremental from a point in time: gold.rated_cdr replaces every row from the earliest CDR it
-- re-rates on, so the rows it rated since the last run are all its rows from the earliest of them
-- on (from a local day's start); those replace this table's rows from there, whole days of
-- files (partitioned by _local_date, as gold.rated_cdr).
-- @materialized: incremental
-- @partition_by: billing_period, _local_date
-- @replace_where: start_time >= $refreshed_from
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @bind: refreshed_from = SELECT local_day_start(local_date(min(first_start))) FROM system.rated_cdr_changes WHERE _rated_at > $rated_since
-- @no_dictionary: cdr_id, start_time, volume_bytes
-- @test: unique(cdr_id)
-- @test: not_null(cdr_id, date, hour, service, start_time, charge)
-- @test: expression(charge >= 0)
-- @test: expression(customer_id IS NULL OR customer_key IS NOT NULL)
-- @test: relationships(customer_key, gold.dim_customer.customer_key)
-- @test: relationships(date, gold.dim_date.date)
-- @warn: freshness(start_time, '6 hours', silver.cdr.start_time)
SELECT
    r.cdr_id,
    d.customer_key,
    r.customer_id,
    local_date(r.start_time) AS date,
    local_hour(r.start_time) AS hour,
    r.billing_period,
    r.first_cell_id,
    r.plan_id,
    r.record_type,
    r.service,
    r.zone,
    r.band,
    r.roaming,
    r.start_time,
    r.duration_s,
    r.volume_bytes,
    r.billable_units,
    r.allowance_units_used,
    r.chargeable_units,
    r.charge,
    r.rating_status,
    r.reason_code,
    r._local_date
FROM gold.rated_cdr r
LEFT JOIN gold.dim_customer d
  ON d.customer_id = r.customer_id
 AND d.valid_from <= r.start_time
 AND (d.valid_to IS NULL OR r.start_time < d.valid_to)
WHERE r.start_time >= $refreshed_from
