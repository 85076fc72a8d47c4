-- One row per bronze.sms_cdr row, checked on its own (see silver.voice_record): the first reject
-- reason in the spec's priority (E005, E009, E002, E001, E003, E004), or null.
-- A stored row has its bronze row's _ingested_at: only rows past $since can share a key with this
-- run's, so the key check and the merge read only their files, not every record of history.
-- @materialized: incremental
-- @unique_key: _batch_id, _row_number
-- @on_existing_key: keep
-- @no_dictionary: _row_number, _ingested_at, cdr_id, other_party, start_time, end_time, uplink_bytes, downlink_bytes
-- @no_statistics: source_table, cdr_id, record_type, service, served_msisdn, other_party, imsi, imei, cell_id, rat, visited_mccmnc, reject_reason, record_json
-- @watermark: _ingested_at
-- @stage: repeated_here
-- @lookback: 2 days
-- @target_filter: _ingested_at > $since
WITH raw AS (
    SELECT
        raw_field(record_type) AS record_type,
        raw_field(recording_entity) AS recording_entity,
        raw_field(message_reference) AS message_reference,
        raw_field(served_imsi) AS served_imsi,
        raw_field(served_msisdn) AS served_msisdn,
        raw_field(other_party) AS other_party,
        raw_field(other_party_ton) AS other_party_ton,
        raw_field(event_time) AS event_time,
        raw_field(sms_result) AS sms_result,
        raw_field(cell_id) AS cell_id,
        raw_field(visited_mccmnc) AS visited_mccmnc,
        _batch_id,
        _row_number,
        _ingested_at,
        -- The row exactly as received, turned into JSON only if it is rejected.
        named_struct(
            'record_type', record_type, 'recording_entity', recording_entity, 'message_reference', message_reference,
            'served_imsi', served_imsi, 'served_msisdn', served_msisdn, 'other_party', other_party,
            'other_party_ton', other_party_ton, 'event_time', event_time, 'sms_result', sms_result, 'lac', lac,
            'cell_id', cell_id, 'visited_mccmnc', visited_mccmnc, '_batch_id', _batch_id, '_source', _source,
            '_row_number', _row_number, '_ingested_at', _ingested_at
        ) AS bronze_row
    FROM bronze.sms_cdr
    WHERE _ingested_at > $since
),
{% from "macros/duplicates.sql" import duplicate_ctes %}
{{ duplicate_ctes("bronze.sms_cdr", ["recording_entity", "message_reference", "record_type"]) }}
typed AS (
    SELECT
        r.*,
        r.seen_row IS NOT NULL OR h._row_number IS NOT NULL AS duplicate,
        parse_timestamp_utc(r.event_time) AS event_ts,
        normalize_msisdn(r.served_msisdn) AS served_normalized,
        normalize_msisdn(r.other_party, r.other_party_ton) AS other_normalized
    -- Small sets first: a hash join builds its table from the left side.
    FROM repeated_here h
    RIGHT JOIN (
        SELECT r.*, s._row_number AS seen_row
        FROM seen_before s
        RIGHT JOIN raw r ON s._batch_id = r._batch_id AND s._row_number = r._row_number
    ) AS r ON h._batch_id = r._batch_id AND h._row_number = r._row_number
),
-- served_msisdn empty: the subscriber version with that IMSI at the event time, whatever its status.
imsi_owner AS (
    SELECT e._batch_id, e._row_number, first_value(s.msisdn ORDER BY s.customer_id) AS msisdn
    FROM silver.subscriber s
    JOIN (
        SELECT _batch_id, _row_number, served_imsi, parse_timestamp_utc(event_time) AS event_ts
        FROM raw
        WHERE served_msisdn = ''
    ) AS e
      ON s.imsi = e.served_imsi
     AND s.valid_from <= e.event_ts
     AND (s.valid_to IS NULL OR e.event_ts < s.valid_to)
    GROUP BY e._batch_id, e._row_number
),
checked AS (
    SELECT
        t.*,
        CASE WHEN t.served_msisdn = '' THEN o.msisdn ELSE t.served_normalized END AS served,
        CASE
            WHEN t.duplicate THEN 'E005'
            WHEN t.record_type NOT IN ('SMS_MO', 'SMS_MT') THEN 'E009'
            WHEN t.event_ts IS NULL THEN 'E002'
            WHEN t.event_ts > t._ingested_at + INTERVAL '15 minutes' THEN 'E002'
            WHEN t.served_msisdn = '' AND o.msisdn IS NULL THEN 'E001'
            WHEN t.served_msisdn <> '' AND (t.served_normalized IS NULL OR NOT starts_with(t.served_normalized, '+212')) THEN 'E003'
            WHEN t.other_normalized IS NULL THEN 'E003'
            WHEN t.other_normalized = CASE WHEN t.served_msisdn = '' THEN o.msisdn ELSE t.served_normalized END THEN 'E004'
        END AS reject_code
    FROM imsi_owner o
    RIGHT JOIN typed t ON o._batch_id = t._batch_id AND o._row_number = t._row_number
)
SELECT
    'sms_cdr' AS source_table,
    c._batch_id,
    c._row_number,
    c._ingested_at,
    now() AS mediated_at,
    'S:' || c.recording_entity || ':' || c.message_reference || ':' || c.record_type AS cdr_id,
    CAST(NULL AS BIGINT) AS seq,
    CASE WHEN c.record_type IN ('SMS_MO', 'SMS_MT') THEN c.record_type END AS record_type,
    'SMS' AS service,
    c.served AS served_msisdn,
    c.other_normalized AS other_party,
    nullif(c.served_imsi, '') AS imsi,
    CAST(NULL AS VARCHAR) AS imei,
    -- A time rejected as wrong (E002, e.g. a month ahead) is left out: as file statistics it would
    -- keep every file of the table in silver.cdr's windowed scans.
    CASE WHEN c.reject_code = 'E002' THEN NULL ELSE c.event_ts END AS start_time,
    CASE WHEN c.reject_code = 'E002' THEN NULL ELSE c.event_ts END AS end_time,
    CAST(NULL AS BIGINT) AS duration_s,
    CAST(NULL AS BIGINT) AS uplink_bytes,
    CAST(NULL AS BIGINT) AS downlink_bytes,
    nullif(c.cell_id, '') AS cell_id,
    coalesce(rat_generation(cell.technology), 'UNKNOWN') AS rat,
    nullif(c.visited_mccmnc, '') AS visited_mccmnc,
    CAST(NULL AS BIGINT) AS termination_cause,
    true AS final_cause,
    c.sms_result = '0' AS answered,
    c.reject_code,
    -- Only for rejected rows: a CASE evaluated on every row copies the rows left for each branch.
    CASE WHEN c.reject_code IS NOT NULL THEN c.reject_code || ': ' || CASE c.reject_code
        WHEN 'E005' THEN 'duplicate of an earlier sms_cdr row with recording_entity ''' || c.recording_entity || ''', message_reference ''' || c.message_reference || ''', record_type ''' || c.record_type || ''''
        WHEN 'E009' THEN 'unknown record_type ''' || c.record_type || ''' (expected SMS_MO or SMS_MT)'
        WHEN 'E002' THEN CASE
            WHEN c.event_time = '' THEN 'event_time is missing'
            WHEN c.event_ts IS NULL THEN 'event_time ''' || c.event_time || ''' does not parse as a timestamp with a UTC offset'
            ELSE 'event_time ''' || c.event_time || ''' is more than 15 minutes after _ingested_at ' || CAST(c._ingested_at AS VARCHAR) END
        WHEN 'E001' THEN 'served_msisdn is empty and no subscriber has served_imsi ''' || c.served_imsi || ''' at the event time'
        WHEN 'E003' THEN CASE WHEN c.served_msisdn <> '' AND (c.served_normalized IS NULL OR NOT starts_with(c.served_normalized, '+212'))
            THEN 'served_msisdn ''' || c.served_msisdn || ''' is not a Moroccan E.164 number'
            ELSE 'other_party ''' || c.other_party || ''' is not a phone number' END
        WHEN 'E004' THEN 'self SMS: other_party ''' || c.other_party || ''' is served_msisdn ' || c.served
    END END AS reject_reason,
    CASE WHEN c.reject_code IS NOT NULL THEN to_json(c.bronze_row) END AS record_json
FROM bronze.cell cell
RIGHT JOIN checked c ON cell.cell_id = c.cell_id
