-- Network KPIs per home cell and hour (analytics.md). A CDR counts at its first cell (CDRs carry
-- no handover history) and in the hour it starts; erlangs spread each answered call's seconds
-- over the hours it overlaps. Local hours and UTC hours share their boundaries (Morocco's
-- offsets are whole hours), so hour_start is the UTC instant and date/hour its local reading.
-- Incremental: a run recomputes only the hours that CDRs mediated or probes ingested since its
-- last commit start in or overlap (late records re-open their hours), and replaces those hours.
-- @materialized: incremental
-- @replace_on: hour_start FROM changed_hours
-- @changed_since: cdr_since = silver.cdr._mediated_at
-- @changed_since: probe_since = bronze.network_probe._ingested_at
-- @bind: first_hour = SELECT first_hour FROM span
-- @bind: end_hour = SELECT end_hour FROM span
-- @stage: changed_hours
-- @test: unique(cell_id, hour_start)
-- @test: not_null(cell_id, hour_start, date, hour, voice_calls, dropped_calls, dropped_call_rate, erlangs, utilization_pct, data_mb)
-- @test: expression(utilization_pct >= 0 AND utilization_pct <= 100)
-- @test: expression(dropped_call_rate >= 0 AND dropped_call_rate <= 1)
WITH changed_cdr AS (
    SELECT start_time, end_time FROM silver.cdr WHERE _mediated_at > $cdr_since AND NOT roaming
),
changed_hours AS (
    -- Every hour a new or re-stitched CDR starts in, or spans (erlangs), and every probed hour.
    SELECT DISTINCT add_seconds(date_trunc('hour', start_time), h * 3600) AS hour_start
    FROM (
        SELECT
            start_time,
            unnest(range(0, CAST((date_part('epoch', date_trunc('hour', greatest(end_time, start_time))) - date_part('epoch', date_trunc('hour', start_time))) / 3600 AS BIGINT) + 1)) AS h
        FROM changed_cdr
    ) spans
    UNION
    SELECT DISTINCT date_trunc('hour', parse_timestamp_utc(probe_time)) AS hour_start
    FROM bronze.network_probe
    WHERE _ingested_at > $probe_since AND parse_timestamp_utc(probe_time) IS NOT NULL
),
span AS (
    SELECT min(hour_start) AS first_hour, add_seconds(max(hour_start), 3600) AS end_hour FROM changed_hours
),
home_cdr AS (
    -- The CDRs that start in or overlap the changed span: all a changed hour's figures need.
    SELECT c.first_cell_id AS cell_id, c.service, c.start_time, c.end_time, c.answered, c.termination_cause, c.volume_bytes
    FROM silver.cdr c
    JOIN bronze.cell cell ON cell.cell_id = c.first_cell_id
    -- Literal bounds (@bind), so the scan skips other days' files; end_time OR start_time is
    -- greatest(end_time, start_time) in a form file statistics can prune by.
    WHERE NOT c.roaming AND c.start_time < $end_hour AND (c.end_time >= $first_hour OR c.start_time >= $first_hour)
),
started AS (
    SELECT
        cell_id,
        date_trunc('hour', start_time) AS hour_start,
        count(*) FILTER (WHERE service = 'VOICE') AS voice_calls,
        count(*) FILTER (WHERE service = 'VOICE' AND answered) AS answered_calls,
        count(*) FILTER (WHERE service = 'VOICE' AND termination_cause = 4) AS dropped_calls,
        coalesce(sum(volume_bytes) FILTER (WHERE service = 'DATA'), 0) AS data_bytes
    FROM home_cdr
    GROUP BY cell_id, date_trunc('hour', start_time)
),
call_hours AS (
    -- One row per answered call and hour it overlaps.
    SELECT cell_id, start_time, end_time, add_seconds(date_trunc('hour', start_time), h * 3600) AS hour_start
    FROM (
        SELECT
            cell_id, start_time, end_time,
            unnest(range(0, CAST((date_part('epoch', date_trunc('hour', end_time)) - date_part('epoch', date_trunc('hour', start_time))) / 3600 AS BIGINT) + 1)) AS h
        FROM home_cdr
        WHERE service = 'VOICE' AND answered AND end_time > start_time
    ) t
),
load AS (
    SELECT
        cell_id,
        hour_start,
        sum(
            date_part('epoch', least(end_time, add_seconds(hour_start, 3600)))
            - date_part('epoch', greatest(start_time, hour_start))
        ) / 3600.0 AS erlangs
    FROM call_hours
    GROUP BY cell_id, hour_start
),
probes AS (
    SELECT
        cell_id,
        date_trunc('hour', probed_at) AS hour_start,
        avg(prb_utilization_pct) AS avg_prb_utilization_pct,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_latency_ms
    FROM (
        SELECT
            trim(cell_id) AS cell_id,
            parse_timestamp_utc(probe_time) AS probed_at,
            TRY_CAST(prb_utilization_pct AS DOUBLE) AS prb_utilization_pct,
            TRY_CAST(latency_ms AS DOUBLE) AS latency_ms
        FROM bronze.network_probe
        -- A probe is delivered after its time: those ingested before the span cannot be in it.
        WHERE _ingested_at >= $first_hour
    ) typed
    WHERE probed_at IS NOT NULL
    GROUP BY cell_id, date_trunc('hour', probed_at)
),
cell_hours AS (
    SELECT cell_id, hour_start FROM started
    UNION
    SELECT cell_id, hour_start FROM load
    UNION
    SELECT cell_id, hour_start FROM probes
)
SELECT
    h.cell_id,
    h.hour_start,
    local_date(h.hour_start) AS date,
    local_hour(h.hour_start) AS hour,
    coalesce(s.voice_calls, 0) AS voice_calls,
    coalesce(s.dropped_calls, 0) AS dropped_calls,
    CASE WHEN coalesce(s.answered_calls, 0) = 0 THEN 0.0 ELSE CAST(s.dropped_calls AS DOUBLE) / s.answered_calls END AS dropped_call_rate,
    coalesce(l.erlangs, 0.0) AS erlangs,
    least(100.0, 100.0 * coalesce(l.erlangs, 0.0) / cell.capacity_erlang) AS utilization_pct,
    round(coalesce(s.data_bytes, 0) / 1048576.0, 3) AS data_mb,
    p.avg_prb_utilization_pct,
    p.p95_latency_ms
FROM cell_hours h
JOIN changed_hours c ON c.hour_start = h.hour_start
JOIN bronze.cell cell ON cell.cell_id = h.cell_id
LEFT JOIN started s ON s.cell_id = h.cell_id AND s.hour_start = h.hour_start
LEFT JOIN load l ON l.cell_id = h.cell_id AND l.hour_start = h.hour_start
LEFT JOIN probes p ON p.cell_id = h.cell_id AND p.hour_start = h.hour_start
