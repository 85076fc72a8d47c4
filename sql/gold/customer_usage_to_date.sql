-- Each customer's usage in a billing period up to the end of each local day of it: a row for every
-- day from the customer's first CDR in the period to the period's last day, so what a customer had
-- used before any moment of the period is one row away. gold.rated_cdr reads the allowance units
-- used before the CDRs it re-rates from here; gold.customer_usage and gold.agg_customer_monthly
-- read a period's last day instead of every rated CDR of it. All figures are running totals over
-- the period; charges per service and home/roaming, so each reader sums what it shows.
-- Incremental from a day: the days from the earliest CDR gold.rated_cdr rated since the last run
-- on are replaced, carried on from the stored day before. _rated_through is the newest _rated_at
-- of gold.rated_cdr when a row was written: gold.rated_cdr re-rates again what it rated after that
-- (a run stopped between the two), so the totals it reads always match its stored rows.
-- @materialized: incremental
-- @partition_by: day
-- @replace_where: day >= $from_day
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @bind: from_day = SELECT local_date(min(first_start)) FROM system.rated_cdr_changes WHERE _rated_at > $rated_since
-- @bind: rated_through = SELECT max(_rated_at) FROM system.rated_cdr_changes WHERE _rated_at > $rated_since
-- @bind: carried_day = SELECT CAST($from_day - INTERVAL '1 day' AS DATE)
-- @test: unique(customer_id, billing_period, day)
-- @test: not_null(customer_id, billing_period, day, _rated_through)
-- @test: expression(cdrs = voice_cdrs + sms_cdrs + data_cdrs + roaming_voice_cdrs + roaming_sms_cdrs + roaming_data_cdrs)
{% from "macros/rating.sql" import allowance_of %}
{% set measures = [
    "voice_allowance_units", "sms_allowance_units", "data_allowance_units",
    "cdrs", "voice_cdrs", "sms_cdrs", "data_cdrs", "roaming_voice_cdrs", "roaming_sms_cdrs", "roaming_data_cdrs",
    "voice_seconds", "data_bytes",
    "voice_charge", "sms_charge", "data_charge", "roaming_voice_charge", "roaming_sms_charge", "roaming_data_charge",
] %}
WITH daily AS (
    -- Each customer's day, from the stored rated CDRs of the days replaced.
    SELECT
        customer_id,
        CAST(billing_period AS VARCHAR) AS billing_period,
        local_date(start_time) AS day,
        -- What the allowances count (gold.rated_cdr's rule): billable units of RATED home CDRs.
        sum(billable_units) FILTER (WHERE rating_status = 'RATED' AND NOT roaming AND {{ allowance_of("record_type", "zone") }} = 'VOICE') AS voice_allowance_units,
        sum(billable_units) FILTER (WHERE rating_status = 'RATED' AND NOT roaming AND {{ allowance_of("record_type", "zone") }} = 'SMS') AS sms_allowance_units,
        sum(billable_units) FILTER (WHERE rating_status = 'RATED' AND NOT roaming AND {{ allowance_of("record_type", "zone") }} = 'DATA') AS data_allowance_units,
        count(*) AS cdrs,
        count(*) FILTER (WHERE service = 'VOICE' AND NOT roaming) AS voice_cdrs,
        count(*) FILTER (WHERE service = 'SMS' AND NOT roaming) AS sms_cdrs,
        count(*) FILTER (WHERE service = 'DATA' AND NOT roaming) AS data_cdrs,
        count(*) FILTER (WHERE service = 'VOICE' AND roaming) AS roaming_voice_cdrs,
        count(*) FILTER (WHERE service = 'SMS' AND roaming) AS roaming_sms_cdrs,
        count(*) FILTER (WHERE service = 'DATA' AND roaming) AS roaming_data_cdrs,
        sum(duration_s) FILTER (WHERE service = 'VOICE') AS voice_seconds,
        sum(volume_bytes) FILTER (WHERE service = 'DATA') AS data_bytes,
        sum(charge) FILTER (WHERE service = 'VOICE' AND NOT roaming) AS voice_charge,
        sum(charge) FILTER (WHERE service = 'SMS' AND NOT roaming) AS sms_charge,
        sum(charge) FILTER (WHERE service = 'DATA' AND NOT roaming) AS data_charge,
        sum(charge) FILTER (WHERE service = 'VOICE' AND roaming) AS roaming_voice_charge,
        sum(charge) FILTER (WHERE service = 'SMS' AND roaming) AS roaming_sms_charge,
        sum(charge) FILTER (WHERE service = 'DATA' AND roaming) AS roaming_data_charge
    FROM gold.rated_cdr
    WHERE customer_id IS NOT NULL
      -- A literal (@bind): the scan skips the files of older days.
      AND start_time >= local_day_start($from_day)
    GROUP BY 1, 2, 3
),
{% if is_incremental %}
carried AS (
    -- The running totals of the day before, when it is in the same period.
    SELECT *
    FROM gold.customer_usage_to_date
    WHERE day = $carried_day
      AND billing_period = to_char($from_day, '%Y-%m')
),
{% endif %}
starts AS (
    SELECT customer_id, billing_period, min(day) AS first_day
    FROM (
        SELECT customer_id, billing_period, day FROM daily
        {% if is_incremental %}
        UNION ALL
        SELECT customer_id, billing_period, CAST($from_day AS DATE) FROM carried
        {% endif %}
    ) s
    GROUP BY customer_id, billing_period
),
days AS (
    -- Every day from the first one to the period's last.
    SELECT
        customer_id,
        billing_period,
        unnest(range(first_day, CAST(CAST(billing_period || '-01' AS DATE) + INTERVAL '1 month' AS DATE), INTERVAL '1 day')) AS day
    FROM starts
)
SELECT
    d.customer_id,
    d.billing_period,
    d.day,
    {% for m in measures %}
    {% set type = "DECIMAL(18, 4)" if "_charge" in m else "BIGINT" %}
    CAST({% if is_incremental %}coalesce(c.{{ m }}, 0) + {% endif %}sum(coalesce(n.{{ m }}, 0)) OVER (
        PARTITION BY d.customer_id, d.billing_period ORDER BY d.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS {{ type }}) AS {{ m }},
    {% endfor %}
    arrow_cast($rated_through, 'Timestamp(µs, "UTC")') AS _rated_through
FROM days d
LEFT JOIN daily n
  ON n.customer_id = d.customer_id
 AND n.billing_period = d.billing_period
 AND n.day = d.day
{% if is_incremental %}
LEFT JOIN carried c
  ON c.customer_id = d.customer_id
 AND c.billing_period = d.billing_period
{% endif %}
