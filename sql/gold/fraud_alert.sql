-- Fraud alerts (analytics.md): one row per rule, customer and pattern occurrence. A pattern is
-- completed by one CDR (detected_at = its start); consecutive completing CDRs of the same number
-- continue the same occurrence, so a burst of 40 calls gives one VELOCITY alert, and a cloned SIM
-- seen at A, then far away at B, then back at A gives one IMPOSSIBLE_TRAVEL alert.
-- alert_id = rule || ':' || the first CDR of the occurrence. served_msisdn is masked like every
-- MSISDN in gold; the fraud team reaches the subscriber through customer_id.
-- Incremental and append-only: a run looks at the numbers with CDRs mediated since its last commit,
-- from their earliest such CDR on (with 72 hours before it as context: the 24-hour window of the
-- CDR before it), and adds the alerts it finds there. A published alert is never changed or
-- removed: a late CDR that moves where an occurrence starts adds an alert, it does not re-key one.
-- Join reordering is off (@set): from its estimates DataFusion built hash tables from the CDRs
-- (2 GB at 30M CDRs, held outside what spills); each join here is written small side first.
-- @materialized: incremental
-- @unique_key: alert_id
-- @on_existing_key: keep
-- @changed_since: cdr_since = silver.cdr._mediated_at
-- @bind: recent_from = SELECT min(changed_from) - INTERVAL '72 hours' FROM changed
-- @stage: changed
-- @set: datafusion.optimizer.join_reordering = false
-- @test: unique(alert_id)
-- @test: not_null(alert_id, rule, served_msisdn, detected_at, evidence, severity)
-- @test: accepted_values(rule, 'IMPOSSIBLE_TRAVEL', 'VELOCITY', 'IRSF')
-- @test: accepted_values(severity, 'HIGH', 'MEDIUM')
WITH changed AS (
    -- Numbers with CDRs mediated since the last run, and the earliest start among those CDRs.
    SELECT served_msisdn, min(start_time) AS changed_from
    FROM silver.cdr
    WHERE _mediated_at > $cdr_since
    GROUP BY served_msisdn
),
recent AS (
    -- Only the columns the rules read, their text copied out of the scanned Parquet pages: as
    -- read, each value is a view into its whole page, and the rules' sorts would hold every page
    -- alive (at 6M new CDRs a run, 14 GB of sort buffers: the run failed for memory).
    SELECT
        arrow_cast(c.cdr_id, 'Utf8') AS cdr_id,
        arrow_cast(c.served_msisdn, 'Utf8') AS served_msisdn,
        arrow_cast(c.customer_id, 'Utf8') AS customer_id,
        arrow_cast(c.record_type, 'Utf8') AS record_type,
        arrow_cast(c.other_party, 'Utf8') AS other_party,
        arrow_cast(c.first_cell_id, 'Utf8') AS first_cell_id,
        arrow_cast(c.last_cell_id, 'Utf8') AS last_cell_id,
        c.start_time,
        c.end_time,
        c.roaming
    -- RIGHT SEMI: the hash table is built from the changed numbers, not the CDRs.
    FROM changed ch
    RIGHT SEMI JOIN silver.cdr c
      ON ch.served_msisdn = c.served_msisdn
     AND c.start_time >= ch.changed_from - INTERVAL '72 hours'
    WHERE c.start_time >= $recent_from
),
home_first AS (
    -- Home CDRs with the coordinates of their first cell. The cell table first: it is the join's
    -- build side (join reordering is off, @set above).
    SELECT c.cdr_id, c.served_msisdn, c.customer_id, c.start_time, c.end_time, c.last_cell_id,
           f.latitude AS first_lat, f.longitude AS first_lon
    FROM bronze.cell f
    JOIN recent c ON f.cell_id = c.first_cell_id
    WHERE NOT c.roaming
),
home AS (
    -- And of their last.
    SELECT h.cdr_id, h.served_msisdn, h.customer_id, h.start_time, h.end_time, h.first_lat, h.first_lon,
           l.latitude AS last_lat, l.longitude AS last_lon
    FROM bronze.cell l
    JOIN home_first h ON l.cell_id = h.last_cell_id
),
moves AS (
    -- Each home CDR with the one before it: from where the previous one ended to where this starts.
    SELECT
        *,
        lag(cdr_id) OVER w AS prev_cdr_id,
        haversine_km(lag(last_lat) OVER w, lag(last_lon) OVER w, first_lat, first_lon) AS km,
        (CAST(start_time AS BIGINT) - CAST(lag(end_time) OVER w AS BIGINT)) / 1e6 AS gap_s
    FROM home
    WINDOW w AS (PARTITION BY served_msisdn ORDER BY start_time, cdr_id)
),
travel AS (
    SELECT
        *,
        -- A gap of 0 s (or overlapping CDRs) is an infinite speed.
        km > 50 AND (gap_s <= 0 OR km / (gap_s / 3600.0) > 500) AS impossible
    FROM moves
    WHERE prev_cdr_id IS NOT NULL
),
travel_runs AS (
    SELECT *, coalesce(lag(impossible) OVER (PARTITION BY served_msisdn ORDER BY start_time, cdr_id), false) AS continues
    FROM travel
),
impossible_travel AS (
    SELECT
        'IMPOSSIBLE_TRAVEL' AS rule,
        prev_cdr_id AS first_cdr_id,
        customer_id,
        served_msisdn,
        start_time AS detected_at,
        cdr_id AS detected_cdr_id,
        'cdrs ' || prev_cdr_id || ' then ' || cdr_id || ': ' || CAST(round(km, 1) AS VARCHAR) || ' km in '
            || CAST(greatest(gap_s, 0) AS VARCHAR) || ' s'
            || CASE WHEN gap_s > 0 THEN ' (' || CAST(round(km / (gap_s / 3600.0)) AS VARCHAR) || ' km/h)' ELSE ' (infinite speed)' END AS evidence,
        'HIGH' AS severity
    FROM travel_runs
    WHERE impossible AND NOT continues
),
voice_mo AS (
    SELECT cdr_id, served_msisdn, customer_id, start_time, destination_zone(other_party) AS zone
    FROM recent
    WHERE record_type = 'VOICE_MO'
),
velocity_windows AS (
    SELECT
        *,
        count(*) OVER w AS calls,
        first_value(cdr_id) OVER w AS window_first
    FROM voice_mo
    WINDOW w AS (PARTITION BY served_msisdn ORDER BY start_time RANGE BETWEEN INTERVAL '30 minutes' PRECEDING AND CURRENT ROW)
),
velocity_runs AS (
    SELECT *, coalesce(lag(calls > 25) OVER (PARTITION BY served_msisdn ORDER BY start_time, cdr_id), false) AS continues
    FROM velocity_windows
),
velocity AS (
    SELECT
        'VELOCITY' AS rule,
        window_first AS first_cdr_id,
        customer_id,
        served_msisdn,
        start_time AS detected_at,
        cdr_id AS detected_cdr_id,
        CAST(calls AS VARCHAR) || ' VOICE_MO calls in 30 minutes, cdrs ' || window_first || ' to ' || cdr_id AS evidence,
        'MEDIUM' AS severity
    FROM velocity_runs
    WHERE calls > 25 AND NOT continues
),
irsf_windows AS (
    SELECT
        *,
        count(*) OVER w AS calls,
        first_value(cdr_id) OVER w AS window_first
    FROM voice_mo
    WHERE zone = 'HIGH_RISK'
    WINDOW w AS (PARTITION BY served_msisdn ORDER BY start_time RANGE BETWEEN INTERVAL '24 hours' PRECEDING AND CURRENT ROW)
),
irsf_runs AS (
    SELECT *, coalesce(lag(calls >= 5) OVER (PARTITION BY served_msisdn ORDER BY start_time, cdr_id), false) AS continues
    FROM irsf_windows
),
irsf AS (
    SELECT
        'IRSF' AS rule,
        window_first AS first_cdr_id,
        customer_id,
        served_msisdn,
        start_time AS detected_at,
        cdr_id AS detected_cdr_id,
        CAST(calls AS VARCHAR) || ' VOICE_MO calls to HIGH_RISK destinations in 24 hours, cdrs ' || window_first || ' to ' || cdr_id AS evidence,
        'HIGH' AS severity
    FROM irsf_runs
    WHERE calls >= 5 AND NOT continues
),
alerts AS (
    SELECT * FROM impossible_travel
    UNION ALL
    SELECT * FROM velocity
    UNION ALL
    SELECT * FROM irsf
)
SELECT
    a.rule || ':' || a.first_cdr_id AS alert_id,
    a.rule,
    a.customer_id,
    mask_msisdn(a.served_msisdn) AS served_msisdn,
    a.detected_at,
    a.evidence,
    a.severity,
    a.first_cdr_id,
    a.detected_cdr_id
FROM alerts a
-- Earlier alerts of these numbers were found by earlier runs; the context alone is not enough
-- to find them again.
JOIN changed ch ON ch.served_msisdn = a.served_msisdn
WHERE a.detected_at >= ch.changed_from
