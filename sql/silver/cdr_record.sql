-- Every mediated bronze event row, voice, SMS and data, in one shape: what silver.cdr stitches
-- (reject_code null) and silver.cdr_rejected keeps (reject_code set).
-- @materialized: view
SELECT * FROM silver.voice_record
UNION ALL
SELECT * FROM silver.sms_record
UNION ALL
SELECT * FROM silver.data_record
