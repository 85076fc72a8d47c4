-- Plan dimension: the tariff plans with their monthly fee and allowances.
-- @materialized: table
-- @test: unique(plan_id)
-- @test: not_null(plan_id, plan_name, monthly_fee)
SELECT
    plan_id,
    name AS plan_name,
    monthly_fee,
    voice_allowance_s,
    sms_allowance,
    data_allowance_mb
FROM bronze.plan
