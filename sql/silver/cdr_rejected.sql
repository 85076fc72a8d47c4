-- One row per rejected bronze event row, with its reason code, a reason naming the field and
-- value, and the row as received. A rejection is final: later runs only add rows.
-- @materialized: incremental
-- @unique_key: source_table, _batch_id, _row_number
-- @on_existing_key: keep
-- @watermark: rejected_at
-- A bronze row is mediated once: one mediated after $since has no stored rejection yet.
-- @target_filter: rejected_at > $since
-- @test: unique(source_table, _batch_id, _row_number)
-- @test: not_null(source_table, _batch_id, _row_number, reason_code, reason, record_json, rejected_at)
-- @test: accepted_values(reason_code, 'E001', 'E002', 'E003', 'E004', 'E005', 'E008', 'E009')
-- @test: accepted_values(source_table, 'voice_cdr', 'sms_cdr', 'data_cdr')
SELECT
    source_table,
    _batch_id,
    _row_number,
    reject_code AS reason_code,
    reject_reason AS reason,
    record_json,
    mediated_at AS rejected_at,
    _ingested_at
FROM silver.cdr_record
WHERE reject_code IS NOT NULL AND mediated_at > $since
