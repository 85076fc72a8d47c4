-- Customer dimension, SCD type 2 (analytics.md): one row per silver.subscriber version, keyed by
-- a stable surrogate of customer_id and valid_from. No raw PII: the MSISDN is masked and the name
-- is an HMAC token under the configured key. A version superseded on its own effective day has
-- an empty validity interval, holds at no moment, and would share the surviving version's key:
-- it is left out.
-- @materialized: table
-- @test: unique(customer_key)
-- @test: not_null(customer_key, customer_id, valid_from, is_current)
-- @test: expression(valid_to IS NULL OR valid_to > valid_from)
-- @test: expression(is_current = (valid_to IS NULL))
SELECT
    surrogate_key(customer_id || '|' || to_char(valid_from, '%Y-%m-%dT%H:%M:%SZ')) AS customer_key,
    customer_id,
    mask_msisdn(msisdn) AS msisdn_masked,
    hmac_token(first_name || ' ' || last_name) AS name_token,
    segment,
    city,
    region,
    plan_id,
    status,
    valid_from,
    valid_to,
    valid_to IS NULL AS is_current,
    activation_date,
    version
FROM silver.subscriber
WHERE valid_to IS NULL OR valid_to > valid_from
