-- Usage per billing period, service and roaming flag up to the end of each local day of the
-- period: a row for every day from the group's first CDR in the period to the period's last day,
-- running totals of gold.service_usage_daily. gold.report_usage_by_service reads a period's last
-- day, a few rows, where summing the daily counts read every day of the month so far.
-- Incremental from a day, as gold.customer_usage_to_date: the days from the earliest CDR
-- gold.rated_cdr rated since the last run on are replaced, carried on from the stored day before.
-- A total stays null while every daily figure it sums is (billable units of unrated CDRs only).
-- @materialized: incremental
-- @partition_by: day
-- @replace_where: day >= $from_day
-- @changed_since: rated_since = system.rated_cdr_changes._rated_at
-- @bind: from_day = SELECT local_date(min(first_start)) FROM system.rated_cdr_changes WHERE _rated_at > $rated_since
-- @bind: carried_day = SELECT CAST($from_day - INTERVAL '1 day' AS DATE)
-- @test: unique(billing_period, day, service, roaming)
-- @test: not_null(billing_period, day, service, roaming, cdrs)
{% set measures = ["cdrs", "billable_units", "charged_amount"] %}
WITH daily AS (
    -- The days replaced, from the daily counts (a few rows a day).
    SELECT day, CAST(billing_period AS VARCHAR) AS billing_period, service, roaming, cdrs, billable_units, charged_amount
    FROM gold.service_usage_daily
    WHERE day >= $from_day
),
{% if is_incremental %}
carried AS (
    -- The running totals of the day before, when it is in the same period.
    SELECT CAST(billing_period AS VARCHAR) AS billing_period, service, roaming, cdrs, billable_units, charged_amount
    FROM gold.service_usage_to_date
    WHERE day = $carried_day
      AND billing_period = to_char($from_day, '%Y-%m')
),
{% endif %}
starts AS (
    SELECT billing_period, service, roaming, min(day) AS first_day
    FROM (
        SELECT billing_period, service, roaming, day FROM daily
        {% if is_incremental %}
        UNION ALL
        SELECT billing_period, service, roaming, CAST($from_day AS DATE) FROM carried
        {% endif %}
    ) s
    GROUP BY billing_period, service, roaming
),
days AS (
    -- Every day from the first one to the period's last.
    SELECT
        billing_period,
        service,
        roaming,
        unnest(range(first_day, CAST(CAST(billing_period || '-01' AS DATE) + INTERVAL '1 month' AS DATE), INTERVAL '1 day')) AS day
    FROM starts
)
SELECT
    d.day,
    d.billing_period,
    d.service,
    d.roaming,
    {% for m in measures %}
    {% set type = "DECIMAL(18, 4)" if m == "charged_amount" else "BIGINT" %}
    {% set running = "sum(n." ~ m ~ ") OVER (PARTITION BY d.billing_period, d.service, d.roaming ORDER BY d.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)" %}
    {% if is_incremental %}
    CAST(CASE WHEN c.{{ m }} IS NULL THEN {{ running }} ELSE c.{{ m }} + coalesce({{ running }}, 0) END AS {{ type }}) AS {{ m }}{{ "," if not loop.last }}
    {% else %}
    CAST({{ running }} AS {{ type }}) AS {{ m }}{{ "," if not loop.last }}
    {% endif %}
    {% endfor %}
FROM days d
LEFT JOIN daily n
  ON n.billing_period = d.billing_period
 AND n.service = d.service
 AND n.roaming = d.roaming
 AND n.day = d.day
{% if is_incremental %}
LEFT JOIN carried c
  ON c.billing_period = d.billing_period
 AND c.service = d.service
 AND c.roaming = d.roaming
{% endif %}
