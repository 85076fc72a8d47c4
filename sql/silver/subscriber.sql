-- Subscription versions from the CRM: each applies from 00:00 local time on its effective date
-- until the next version of the same customer (valid_to exclusive, null = current). Versions with
-- the same effective date: the later ingested wins, the earlier gets an empty interval.
-- @materialized: table
-- @test: not_null(customer_id, msisdn, valid_from, status)
-- @test: unique(customer_id, version)
-- @test: accepted_values(status, 'active', 'terminated')
-- @test: expression(valid_to IS NULL OR valid_to >= valid_from)
WITH versions AS (
    SELECT
        trim(customer_id) AS customer_id,
        trim(msisdn) AS msisdn,
        trim(imsi) AS imsi,
        trim(plan_id) AS plan_id,
        trim(status) AS status,
        trim(segment) AS segment,
        trim(city) AS city,
        trim(region) AS region,
        trim(first_name) AS first_name,
        trim(last_name) AS last_name,
        trim(national_id) AS national_id,
        CAST(trim(effective_from) AS DATE) AS effective_from,
        _ingested_at,
        _batch_id,
        _row_number
    FROM bronze.crm_customer
),
ordered AS (
    SELECT
        *,
        row_number() OVER (PARTITION BY customer_id ORDER BY effective_from, _ingested_at, _batch_id, _row_number) AS version
    FROM versions
)
SELECT
    customer_id,
    msisdn,
    imsi,
    plan_id,
    status,
    segment,
    city,
    region,
    first_value(effective_from) OVER (PARTITION BY customer_id ORDER BY version) AS activation_date,
    local_day_start(effective_from) AS valid_from,
    lead(local_day_start(effective_from)) OVER (PARTITION BY customer_id ORDER BY version) AS valid_to,
    first_name,
    last_name,
    national_id,
    version,
    effective_from
FROM ordered
