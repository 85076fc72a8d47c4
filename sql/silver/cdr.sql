-- One row per logical event (a whole call, an SMS, a whole data session): the valid records of
-- silver.cdr_record stitched by cdr_id. Each run re-stitches every event that received a record,
-- so late partial records replace the row instead of adding one. Warnings in quality_flags:
-- W001 zero duration or volume, W002 incomplete partial set, W003 unknown RAT.
-- Stitch window: an event's records start within 2 days of each other (generated sessions last
-- at most 6 hours), so a run reads only the records, and rewrites only the events, that start
-- from 2 days before its earliest new record (docs/mediation.md); --full-refresh reads them all.
-- @materialized: incremental
-- @unique_key: cdr_id
-- @watermark: _mediated_at
-- @bind: records_from = SELECT min(start_time) - INTERVAL '2 days' FROM silver.cdr_record WHERE mediated_at > $since AND reject_code IS NULL
-- @bind: records_from_date = SELECT CAST($records_from AS DATE)
-- Events still incomplete (W002) are stored apart from complete ones (_incomplete, a partition):
-- records arriving for a stored event almost always complete an incomplete one, so the merge reads
-- and rewrites the incomplete files of the window (0.3-0.5% of its rows) and leaves the complete
-- ones alone; it rewrote every day of the window to update 1.5K of 4M rows. A record for a stored
-- complete event (a partial joining a whole call, a record past a final one) is found by
-- complete_from, and the complete files from its day are merged too.
-- @bind: earlier_from = SELECT coalesce(CAST(min(start_time) AS DATE), DATE '9999-12-31') FROM touched_records WHERE mediated_at <= $since
-- @bind: complete_from = SELECT day FROM stored_complete
-- @target_filter: _start_date >= $records_from_date AND start_time >= $records_from AND (_incomplete = true OR _start_date >= $complete_from)
-- @partition_by: _start_date, _incomplete
-- @set: datafusion.optimizer.join_reordering = false
-- @stage: touched_records, sets
-- @no_dictionary: cdr_id, other_party, start_time, end_time, uplink_bytes, downlink_bytes, volume_bytes, _ingested_at
-- @no_statistics: other_party, imsi, imei, first_cell_id, last_cell_id, visited_mccmnc
-- @test: unique(cdr_id)
-- @test: not_null(cdr_id, record_type, service, served_msisdn, start_time, end_time, rat, roaming, answered, quality_flags, source_record_count)
-- @test: accepted_values(service, 'VOICE', 'SMS', 'DATA')
-- @test: accepted_values(record_type, 'VOICE_MO', 'VOICE_MT', 'SMS_MO', 'SMS_MT', 'DATA')
-- @test: accepted_values(rat, '2G', '3G', '4G', '5G', 'UNKNOWN')
-- @test: expression(end_time >= start_time)
-- @test: relationships(customer_id, silver.subscriber.customer_id)
WITH touched AS (
    -- Valid records mediated since the newest one this table holds: exact, as each run stamps its
    -- time. A rejected record (a re-sent duplicate) changes no event: its stored row stays.
    SELECT DISTINCT cdr_id FROM silver.cdr_record WHERE mediated_at > $since AND reject_code IS NULL
),
-- A later run's records: only the touched events' (staged: the single- and multi-record branches
-- and `sets` read them, and DataFusion would scan the stitch window for each). On a full build
-- $since is the beginning of time and this is empty.
touched_records AS (
    -- The hash table is built from the touched keys. DataFusion's join reordering, misled by its
    -- row estimates (the touched keys look like all of them), built it from all of
    -- silver.cdr_record instead: 8 GB and 12 s for a run with nothing new. Hence @set above.
    SELECT r.*
    FROM touched t
    RIGHT SEMI JOIN silver.cdr_record r ON r.cdr_id = t.cdr_id
    WHERE r.reject_code IS NULL AND $since <> arrow_cast(0, 'Timestamp(µs, "UTC")')
      AND r.start_time >= $records_from
),
-- The day of the earliest stored complete event that received a record (complete_from, above):
-- one column of the complete files is read, from the day of the earliest record the touched
-- events had before (earlier_from: a stored event starts at one of its records), and the keys
-- of those events (about 1.5K a day) probed.
{% if is_incremental %}
stored_complete AS (
    -- None: a day no file has, so the merge's file pruning drops every complete file (it keeps
    -- them all for a null bound).
    SELECT coalesce(min(c._start_date), DATE '9999-12-31') AS day
    FROM (SELECT DISTINCT cdr_id FROM touched_records WHERE mediated_at <= $since) o
    RIGHT SEMI JOIN silver.cdr c ON c.cdr_id = o.cdr_id
    WHERE NOT c._incomplete AND c._start_date >= $earlier_from
),
{% else %}
stored_complete AS (SELECT CAST(NULL AS DATE) AS day),
{% endif %}
records AS (
    -- A full build takes every valid record (no lookup); a later run only the touched events'.
    -- Once $since is bound one branch folds to nothing.
    SELECT * FROM silver.cdr_record
    WHERE reject_code IS NULL AND $since = arrow_cast(0, 'Timestamp(µs, "UTC")')
    UNION ALL
    SELECT * FROM touched_records
),
-- Most events are one record: only the others need the (costlier) stitching. Events are split by
-- key_hash(cdr_id), an integer (grouping and joining on it is far cheaper than on the text): a
-- collision only sends a one-record event down the multi-record path, which stitches it alike.
-- RIGHT SEMI/ANTI build on the small side; an outer join filtered on IS NULL once lost rows to a
-- DataFusion 55 filter-pushdown bug. Staged (@stage): both branches read it, and DataFusion would
-- compute it for each.
sets AS (
    SELECT key_hash(cdr_id) AS set_hash FROM records GROUP BY key_hash(cdr_id) HAVING count(*) > 1
),
-- The multi-record rows go through three sorts. Their text is copied out (arrow_cast to Utf8):
-- as read, each value is a view into the decoded Parquet pages of all 9.8M records, which the
-- sorts would keep alive (peak memory 3.3 -> 2.0 GB on 10M CDRs); only what stitching uses is kept.
multi AS (
    SELECT
        arrow_cast(r._batch_id, 'Utf8') AS _batch_id, r._row_number, r._ingested_at, r.mediated_at,
        arrow_cast(r.cdr_id, 'Utf8') AS cdr_id, r.seq,
        arrow_cast(r.record_type, 'Utf8') AS record_type, arrow_cast(r.service, 'Utf8') AS service,
        arrow_cast(r.served_msisdn, 'Utf8') AS served_msisdn, arrow_cast(r.other_party, 'Utf8') AS other_party,
        arrow_cast(r.imsi, 'Utf8') AS imsi, arrow_cast(r.imei, 'Utf8') AS imei,
        r.start_time, r.end_time, r.duration_s, r.uplink_bytes, r.downlink_bytes,
        arrow_cast(r.cell_id, 'Utf8') AS cell_id, arrow_cast(r.rat, 'Utf8') AS rat,
        arrow_cast(r.visited_mccmnc, 'Utf8') AS visited_mccmnc,
        r.termination_cause, r.final_cause, r.answered
    FROM sets m RIGHT SEMI JOIN records r ON key_hash(r.cdr_id) = m.set_hash
),
single AS (
    SELECT r.* FROM sets m RIGHT ANTI JOIN records r ON key_hash(r.cdr_id) = m.set_hash
),
-- "lowest" is the lowest sequence number that arrived, "highest" the highest (ties: arrival order),
-- each the first row of its event in that order. lag over one ordered stream, not row_number per
-- event: DataFusion's window is slow with hundreds of thousands of tiny partitions.
ranked AS (
    SELECT
        *,
        cdr_id IS DISTINCT FROM lag(cdr_id) OVER (ORDER BY cdr_id, seq NULLS FIRST, _ingested_at, _batch_id, _row_number) AS is_lowest,
        cdr_id IS DISTINCT FROM lag(cdr_id) OVER (ORDER BY cdr_id, seq DESC NULLS LAST, _ingested_at, _batch_id, _row_number) AS is_highest,
        cdr_id IS DISTINCT FROM lag(cdr_id) OVER (ORDER BY cdr_id, _ingested_at DESC, _batch_id DESC, _row_number DESC) AS is_newest
    FROM multi
),
stitched_sets AS (
    SELECT
        cdr_id,
        max(CASE WHEN is_lowest THEN record_type END) AS record_type,
        max(CASE WHEN is_lowest THEN service END) AS service,
        max(CASE WHEN is_lowest THEN served_msisdn END) AS served_msisdn,
        max(CASE WHEN is_lowest THEN other_party END) AS other_party,
        max(CASE WHEN is_lowest THEN imsi END) AS imsi,
        max(CASE WHEN is_lowest THEN imei END) AS imei,
        max(CASE WHEN is_lowest THEN start_time END) AS lowest_start,
        min(start_time) AS earliest_start,
        max(CASE WHEN is_highest THEN end_time END) AS highest_end,
        sum(duration_s) AS duration_s,
        sum(uplink_bytes) AS uplink_bytes,
        sum(downlink_bytes) AS downlink_bytes,
        max(CASE WHEN is_lowest THEN cell_id END) AS first_cell_id,
        max(CASE WHEN is_highest THEN cell_id END) AS last_cell_id,
        max(CASE WHEN is_lowest THEN rat END) AS rat,
        max(CASE WHEN is_lowest THEN visited_mccmnc END) AS visited_mccmnc,
        max(CASE WHEN is_highest THEN termination_cause END) AS termination_cause,
        bool_or(is_highest AND final_cause) AS final_cause,
        bool_or(is_lowest AND answered) AS lowest_answered,
        bool_and(answered) AS all_answered,
        count(*) AS source_record_count,
        count(seq) AS numbered,
        min(seq) AS min_seq,
        max(seq) AS max_seq,
        max(CASE WHEN is_newest THEN _batch_id END) AS _batch_id,
        max(_ingested_at) AS _ingested_at,
        max(mediated_at) AS _mediated_at
    FROM ranked
    GROUP BY cdr_id
),
stitched AS (
    SELECT
        cdr_id, record_type, service, served_msisdn, other_party, imsi, imei,
        start_time AS lowest_start, start_time AS earliest_start, end_time AS highest_end,
        duration_s, uplink_bytes, downlink_bytes, cell_id AS first_cell_id, cell_id AS last_cell_id,
        rat, visited_mccmnc, termination_cause, final_cause, answered AS lowest_answered, answered AS all_answered,
        CAST(1 AS BIGINT) AS source_record_count, CAST(CASE WHEN seq IS NULL THEN 0 ELSE 1 END AS BIGINT) AS numbered,
        seq AS min_seq, seq AS max_seq, _batch_id, _ingested_at, mediated_at AS _mediated_at
    FROM single
    UNION ALL
    SELECT * FROM stitched_sets
),
shaped AS (
    SELECT
        *,
        CASE service WHEN 'DATA' THEN earliest_start ELSE lowest_start END AS start_time,
        -- A whole call or an SMS alone is complete; partials must run 1..n and end with a final cause.
        (source_record_count = 1 AND numbered = 0)
            OR (numbered = source_record_count AND min_seq = 1 AND max_seq = source_record_count AND final_cause) AS complete,
        uplink_bytes + downlink_bytes AS volume_bytes
    FROM stitched
)
SELECT
    s.cdr_id,
    s.record_type,
    s.service,
    s.served_msisdn,
    s.other_party,
    s.imsi,
    s.imei,
    s.start_time,
    CASE s.service
        WHEN 'VOICE' THEN s.highest_end
        WHEN 'DATA' THEN add_seconds(s.earliest_start, s.duration_s)
        ELSE s.start_time
    END AS end_time,
    s.duration_s,
    s.uplink_bytes,
    s.downlink_bytes,
    s.volume_bytes,
    s.first_cell_id,
    s.last_cell_id,
    s.rat,
    coalesce(s.visited_mccmnc, '') NOT IN ('', '60401') AS roaming,
    s.visited_mccmnc,
    s.termination_cause,
    CASE s.service
        WHEN 'VOICE' THEN s.lowest_answered AND coalesce(s.termination_cause, -1) <> 3
        ELSE s.all_answered
    END AS answered,
    o.customer_id,
    s.source_record_count,
    concat_ws(',',
        CASE WHEN (s.service = 'VOICE' AND s.duration_s = 0) OR (s.service = 'DATA' AND s.volume_bytes = 0) THEN 'W001' END,
        CASE WHEN NOT s.complete THEN 'W002' END,
        CASE WHEN s.rat = 'UNKNOWN' THEN 'W003' END
    ) AS quality_flags,
    s._batch_id,
    s._ingested_at,
    s._mediated_at,
    -- The partitions: the UTC date of start_time (a run rewrites only the days its events fall
    -- in) and whether the event is incomplete (W002: the rows later records update).
    CAST(s.start_time AS DATE) AS _start_date,
    NOT s.complete AS _incomplete
FROM silver.msisdn_owner o
RIGHT JOIN shaped s
  ON o.msisdn = s.served_msisdn
 AND o.owned_from <= s.start_time
 AND (o.owned_to IS NULL OR s.start_time < o.owned_to)
