-- One row per bronze.data_cdr row, checked on its own (see silver.voice_record): the first reject
-- reason in the spec's priority (E005, E008, E002, E001, E003), or null.
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
        raw_field(pgw_address) AS pgw_address,
        raw_field(charging_id) AS charging_id,
        raw_field(record_sequence_number) AS record_sequence_number,
        raw_field(served_imsi) AS served_imsi,
        raw_field(served_msisdn) AS served_msisdn,
        raw_field(served_imei) AS served_imei,
        raw_field(rat_type) AS rat_type,
        raw_field(record_opening_time) AS record_opening_time,
        raw_field(duration_s) AS duration_s,
        raw_field(cause_for_rec_closing) AS cause_for_rec_closing,
        raw_field(uplink_bytes) AS uplink_bytes,
        raw_field(downlink_bytes) AS downlink_bytes,
        raw_field(cell_id) AS cell_id,
        raw_field(visited_mccmnc) AS visited_mccmnc,
        _batch_id,
        _row_number,
        _ingested_at,
        -- The row exactly as received, turned into JSON only if it is rejected.
        named_struct(
            'pgw_address', pgw_address, 'charging_id', charging_id, 'record_sequence_number', record_sequence_number,
            'served_imsi', served_imsi, 'served_msisdn', served_msisdn, 'served_imei', served_imei, 'apn', apn,
            'rat_type', rat_type, 'record_opening_time', record_opening_time, 'duration_s', duration_s,
            'cause_for_rec_closing', cause_for_rec_closing, 'uplink_bytes', uplink_bytes,
            'downlink_bytes', downlink_bytes, 'lac', lac, 'cell_id', cell_id, 'visited_mccmnc', visited_mccmnc,
            '_batch_id', _batch_id, '_source', _source, '_row_number', _row_number, '_ingested_at', _ingested_at
        ) AS bronze_row
    FROM bronze.data_cdr
    WHERE _ingested_at > $since
),
{% from "macros/duplicates.sql" import duplicate_ctes %}
{{ duplicate_ctes("bronze.data_cdr", ["pgw_address", "charging_id", "record_sequence_number"]) }}
typed AS (
    SELECT
        r.*,
        r.seen_row IS NOT NULL OR h._row_number IS NOT NULL AS duplicate,
        parse_count(r.record_sequence_number) AS seq,
        parse_count(r.duration_s) AS duration,
        parse_count(r.uplink_bytes) AS uplink,
        parse_count(r.downlink_bytes) AS downlink,
        parse_timestamp_utc(r.record_opening_time) AS opened_ts,
        normalize_msisdn(r.served_msisdn) AS served_normalized
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
        SELECT _batch_id, _row_number, served_imsi, parse_timestamp_utc(record_opening_time) AS event_ts
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
            WHEN t.seq IS NULL OR t.duration IS NULL OR t.uplink IS NULL OR t.downlink IS NULL THEN 'E008'
            WHEN t.opened_ts IS NULL THEN 'E002'
            WHEN t.opened_ts > t._ingested_at + INTERVAL '15 minutes' THEN 'E002'
            WHEN t.served_msisdn = '' AND o.msisdn IS NULL THEN 'E001'
            WHEN t.served_msisdn <> '' AND (t.served_normalized IS NULL OR NOT starts_with(t.served_normalized, '+212')) THEN 'E003'
        END AS reject_code
    FROM imsi_owner o
    RIGHT JOIN typed t ON o._batch_id = t._batch_id AND o._row_number = t._row_number
)
SELECT
    'data_cdr' AS source_table,
    c._batch_id,
    c._row_number,
    c._ingested_at,
    now() AS mediated_at,
    'D:' || c.pgw_address || ':' || c.charging_id AS cdr_id,
    c.seq,
    'DATA' AS record_type,
    'DATA' AS service,
    c.served AS served_msisdn,
    CAST(NULL AS VARCHAR) AS other_party,
    nullif(c.served_imsi, '') AS imsi,
    nullif(c.served_imei, '') AS imei,
    -- A time rejected as wrong (E002, e.g. a month ahead) is left out: as file statistics it would
    -- keep every file of the table in silver.cdr's windowed scans.
    CASE WHEN c.reject_code = 'E002' THEN NULL ELSE c.opened_ts END AS start_time,
    CASE WHEN c.reject_code = 'E002' THEN NULL ELSE add_seconds(c.opened_ts, c.duration) END AS end_time,
    c.duration AS duration_s,
    c.uplink AS uplink_bytes,
    c.downlink AS downlink_bytes,
    nullif(c.cell_id, '') AS cell_id,
    rat_generation(c.rat_type) AS rat,
    nullif(c.visited_mccmnc, '') AS visited_mccmnc,
    parse_count(c.cause_for_rec_closing) AS termination_cause,
    c.cause_for_rec_closing IN ('0', '4') AS final_cause,
    true AS answered,
    c.reject_code,
    -- Only for rejected rows: a CASE evaluated on every row copies the rows left for each branch.
    CASE WHEN c.reject_code IS NOT NULL THEN c.reject_code || ': ' || CASE c.reject_code
        WHEN 'E005' THEN 'duplicate of an earlier data_cdr row with pgw_address ''' || c.pgw_address || ''', charging_id ''' || c.charging_id || ''', record_sequence_number ''' || c.record_sequence_number || ''''
        WHEN 'E008' THEN CASE
            WHEN c.seq IS NULL THEN 'record_sequence_number ''' || c.record_sequence_number || ''' is not a non-negative integer'
            WHEN c.duration IS NULL THEN 'duration_s ''' || c.duration_s || ''' is not a non-negative integer'
            WHEN c.uplink IS NULL THEN 'uplink_bytes ''' || c.uplink_bytes || ''' is not a non-negative integer'
            ELSE 'downlink_bytes ''' || c.downlink_bytes || ''' is not a non-negative integer' END
        WHEN 'E002' THEN CASE
            WHEN c.record_opening_time = '' THEN 'record_opening_time is missing'
            WHEN c.opened_ts IS NULL THEN 'record_opening_time ''' || c.record_opening_time || ''' does not parse as a timestamp with a UTC offset'
            ELSE 'record_opening_time ''' || c.record_opening_time || ''' is more than 15 minutes after _ingested_at ' || CAST(c._ingested_at AS VARCHAR) END
        WHEN 'E001' THEN 'served_msisdn is empty and no subscriber has served_imsi ''' || c.served_imsi || ''' at the session time'
        WHEN 'E003' THEN 'served_msisdn ''' || c.served_msisdn || ''' is not a Moroccan E.164 number'
    END END AS reject_reason,
    CASE WHEN c.reject_code IS NOT NULL THEN to_json(c.bronze_row) END AS record_json
FROM checked c
