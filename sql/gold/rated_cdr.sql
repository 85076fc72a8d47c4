-- Every silver CDR priced (rating.md): zone by longest destination prefix, PEAK/OFFPEAK band in
-- local time, billable units of the rate's increment scheme, the plan's allowances consumed in
-- (start_time, cdr_id) order per customer and billing period, the charge rounded up to 4 decimals.
-- Incremental from a local day: a CDR's rating depends only on CDRs before it (allowances run in
-- start order), on the CRM and on the tariff. A run re-rates every CDR from the local day of the
-- earliest start among the CDRs mediated since its last commit, or from the effective day of a
-- CRM version received since if earlier (changed_from), and replaces the stored rows from there
-- on; what the allowances used before that day is read from gold.customer_usage_to_date (prior:
-- one row per customer, whatever the day of the month). So a daily run re-rates the days late
-- records reach, and reads neither the month to date nor its own stored rows. A changed tariff
-- or plan table rebuilds it all (E007 rows re-rated once the rate arrives). _rated_at is when a
-- row was last rated.
-- @materialized: incremental
-- @partition_by: billing_period, _local_date
-- @replace_where: start_time >= $rerate_from
-- @changed_since: cdr_since = silver.cdr._mediated_at
-- @changed_since: crm_since = bronze.crm_customer._ingested_at
-- @rebuild_on_change: bronze.tariff_rate, bronze.tariff_destination, bronze.plan
-- @bind: changed_from = SELECT t FROM changed_from
-- @bind: kept_through = SELECT through FROM kept
-- @bind: rerate_from = SELECT CASE WHEN u.t < c.t THEN u.t ELSE c.t END FROM changed_from c CROSS JOIN unkept u
-- @bind: prior_day = SELECT CAST(local_date($rerate_from) - INTERVAL '1 day' AS DATE)
-- @no_dictionary: cdr_id, start_time, volume_bytes
-- @test: unique(cdr_id)
-- @test: not_null(cdr_id, billing_period, record_type, service, band, roaming, start_time, allowance_units_used, chargeable_units, charge, rating_status)
-- @test: accepted_values(rating_status, 'RATED', 'ZERO', 'UNRATED')
-- @test: accepted_values(reason_code, 'E006', 'E007')
-- @test: expression(charge >= 0)
-- @test: expression(allowance_units_used + chargeable_units = CASE WHEN rating_status = 'RATED' THEN billable_units ELSE 0 END)
{% from "macros/rating.sql" import allowance_of %}
WITH received AS (
    -- CRM versions received since the last run, from the local day they take effect.
    SELECT
        trim(customer_id) AS customer_id,
        local_day_start(CAST(trim(effective_from) AS DATE)) AS effective
    FROM bronze.crm_customer
    WHERE _ingested_at > $crm_since
),
crm_cuts AS (
    -- A version changes its customer's CDRs from when it takes effect, and the allowances of the
    -- period (the plan at the customer's first active moment) only when the customer was never
    -- active in the period before it: then its CDRs are re-rated from the period's start, if it
    -- was on record there at all (a customer with no version before has no CDRs before).
    SELECT
        CASE
            WHEN count(s.customer_id) > 0 AND NOT bool_or(s.status = 'active') THEN r.period_start
            ELSE r.effective
        END AS cut
    FROM (
        SELECT
            customer_id,
            effective,
            local_day_start(CAST(billing_period(effective) || '-01' AS DATE)) AS period_start
        FROM received
    ) r
    LEFT JOIN silver.subscriber s
      ON s.customer_id = r.customer_id
     AND s.valid_from < r.effective
     AND (s.valid_to IS NULL OR s.valid_to > r.period_start)
    GROUP BY r.customer_id, r.effective, r.period_start
),
changed_from AS (
    -- The local day of the earliest change; null when nothing changed: then the run commits
    -- nothing.
    SELECT local_day_start(local_date(min(t))) AS t
    FROM (
        SELECT min(start_time) AS t FROM silver.cdr WHERE _mediated_at > $cdr_since
        UNION ALL
        SELECT min(cut) AS t FROM crm_cuts
    ) cuts
),
{% if is_incremental %}
kept AS (
    -- gold.customer_usage_to_date's totals of the day before were kept when gold.rated_cdr's
    -- newest rows were rated at _rated_through (none kept: every stored row is newer).
    SELECT CASE
        WHEN $changed_from IS NOT NULL
            THEN coalesce(max(_rated_through), arrow_cast(to_timestamp_micros(0), 'Timestamp(µs, "UTC")'))
    END AS through
    FROM gold.customer_usage_to_date
    WHERE day = CAST(local_date($changed_from) - INTERVAL '1 day' AS DATE)
),
unkept AS (
    -- Rows rated after that (a run that stopped before keeping their totals): re-rated again, from
    -- their day, with the totals of the day before it, kept before they were rated.
    SELECT local_day_start(local_date(min(start_time))) AS t
    FROM gold.rated_cdr
    WHERE _rated_at > $kept_through
),
{% else %}
kept AS (SELECT arrow_cast(NULL, 'Timestamp(µs, "UTC")') AS through),
unkept AS (SELECT arrow_cast(NULL, 'Timestamp(µs, "UTC")') AS t),
{% endif %}
rerated_periods AS (
    SELECT DISTINCT billing_period(start_time) AS billing_period
    FROM silver.cdr
    WHERE start_time >= $rerate_from
),
{% if is_incremental %}
prior AS (
    -- What each allowance had used before the re-rated CDRs: the running totals of the day
    -- before, in the same period (none on its first day). (A re-stitched CDR's start only moves
    -- earlier, so no CDR stored before the cut moves after it.)
    SELECT b.customer_id AS customer, b.billing_period, a.allowance,
        CASE a.allowance
            WHEN 'VOICE' THEN b.voice_allowance_units
            WHEN 'SMS' THEN b.sms_allowance_units
            WHEN 'DATA' THEN b.data_allowance_units
        END AS used
    FROM gold.customer_usage_to_date b
    CROSS JOIN (VALUES ('VOICE'), ('SMS'), ('DATA')) a(allowance)
    WHERE b.day = $prior_day
      AND b.billing_period = billing_period($rerate_from)
),
{% endif %}
cdr AS (
    -- The subscriber found at mediation, or found now if it arrived since.
    SELECT c.*, coalesce(c.customer_id, o.customer_id) AS customer
    FROM silver.cdr c
    -- The key is null for a CDR with a subscriber: it probes nothing (a join on the number with
    -- the condition in the filter found every CDR's owners, then checked each).
    LEFT JOIN silver.msisdn_owner o
      ON o.msisdn = CASE WHEN c.customer_id IS NULL THEN c.served_msisdn END
     AND o.owned_from <= c.start_time
     AND (o.owned_to IS NULL OR c.start_time < o.owned_to)
    -- A literal (@bind): the scan skips the files of older days.
    WHERE c.start_time >= $rerate_from
),
classified AS (
    SELECT
        cdr.*,
        s.plan_id,
        billing_period(cdr.start_time) AS billing_period,
        time_band(cdr.start_time) AS band,
        CASE WHEN cdr.roaming THEN 'ROAMING' WHEN cdr.service = 'DATA' THEN 'HOME' ELSE destination_zone(cdr.other_party) END AS zone,
        -- Roaming rates are per record type; home rates per service.
        CASE WHEN cdr.roaming THEN cdr.record_type ELSE cdr.service END AS rate_service
    FROM cdr
    LEFT JOIN silver.subscriber s
      ON s.customer_id = cdr.customer
     AND s.valid_from <= cdr.start_time
     AND (s.valid_to IS NULL OR cdr.start_time < s.valid_to)
),
priced AS (
    -- The rate row for the exact band, else the one for ANY.
    SELECT
        c.*,
        coalesce(exact.zone, any_band.zone) IS NOT NULL AS has_rate,
        coalesce(exact.connect_fee, any_band.connect_fee) AS connect_fee,
        coalesce(exact.rate, any_band.rate) AS rate,
        coalesce(exact.first_s, any_band.first_s) AS first_s,
        coalesce(exact.next_s, any_band.next_s) AS next_s,
        coalesce(exact.min_charge, any_band.min_charge) AS min_charge
    FROM classified c
    LEFT JOIN bronze.tariff_rate exact ON exact.zone = c.zone AND exact.service = c.rate_service AND exact.band = c.band
    LEFT JOIN bronze.tariff_rate any_band ON any_band.zone = c.zone AND any_band.service = c.rate_service AND any_band.band = 'ANY'
),
statused AS (
    SELECT
        *,
        CASE service
            WHEN 'VOICE' THEN billable_units(duration_s, first_s, next_s)
            WHEN 'SMS' THEN 1
            WHEN 'DATA' THEN (volume_bytes + 1048575) / 1048576
        END AS billable_units,
        CASE
            WHEN customer IS NULL THEN 'UNRATED'
            WHEN (NOT roaming AND record_type IN ('VOICE_MT', 'SMS_MT')) OR (roaming AND record_type = 'SMS_MT')
                OR NOT answered OR quality_flags LIKE '%W001%' THEN 'ZERO'
            WHEN NOT has_rate THEN 'UNRATED'
            ELSE 'RATED'
        END AS rating_status,
        CASE WHEN customer IS NULL THEN 'E006' END AS missing_subscriber
    FROM priced
),
allowance_kind AS (
    SELECT
        *,
        -- Which allowance a RATED home CDR may use (rule 7); null for none.
        CASE
            WHEN rating_status <> 'RATED' OR roaming THEN NULL
            ELSE {{ allowance_of("record_type", "zone") }}
        END AS allowance
    FROM statused
),
period_plan AS (
    -- The plan active at the customer's first active moment in the period gives the allowances.
    -- Computed for every customer and billing period of the CDRs (it does not depend on which CDRs
    -- a customer has): reading the rated rows here would compute all of the above twice.
    SELECT
        p.customer,
        p.billing_period,
        first_value(s.plan_id ORDER BY greatest(s.valid_from, p.period_start), s.version) AS allowance_plan
    FROM (
        SELECT
            c.customer_id AS customer,
            m.billing_period,
            local_day_start(CAST(m.billing_period || '-01' AS DATE)) AS period_start,
            local_day_start(CAST(m.billing_period || '-01' AS DATE) + INTERVAL '1 month') AS period_end
        FROM (SELECT DISTINCT customer_id FROM silver.subscriber) c
        CROSS JOIN rerated_periods m
    ) p
    JOIN silver.subscriber s
      ON s.customer_id = p.customer
     AND s.status = 'active'
     AND s.valid_from < p.period_end
     AND (s.valid_to IS NULL OR (s.valid_to > p.period_start AND s.valid_to > s.valid_from))
    GROUP BY p.customer, p.billing_period
),
running AS (
    -- What the CDRs before each one used of its allowance in this run, computed before the
    -- plan and prior lookups join their columns: the sort behind it carries fewer columns.
    SELECT
        *,
        coalesce(sum(billable_units) OVER (
            PARTITION BY customer, billing_period, allowance
            ORDER BY start_time, cdr_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ), 0) AS used_in_run
    FROM allowance_kind
),
consumed AS (
    SELECT
        a.*,
        CASE a.allowance
            WHEN 'VOICE' THEN plan.voice_allowance_s
            WHEN 'SMS' THEN plan.sms_allowance
            WHEN 'DATA' THEN plan.data_allowance_mb
        END AS allowance_total,
        {% if is_incremental %}coalesce(pr.used, 0) + {% endif %}a.used_in_run AS used_before
    FROM running a
    LEFT JOIN period_plan pp ON pp.customer = a.customer AND pp.billing_period = a.billing_period
    LEFT JOIN bronze.plan plan ON plan.plan_id = pp.allowance_plan
    {% if is_incremental %}
    LEFT JOIN prior pr ON pr.customer = a.customer AND pr.billing_period = a.billing_period AND pr.allowance = a.allowance
    {% endif %}
),
covered AS (
    SELECT
        *,
        CASE
            WHEN rating_status <> 'RATED' THEN 0
            WHEN allowance IS NULL THEN 0
            ELSE least(billable_units, greatest(0, coalesce(allowance_total, 0) - used_before))
        END AS allowance_units_used
    FROM consumed
),
charged AS (
    SELECT
        *,
        CASE WHEN rating_status = 'RATED' THEN billable_units - allowance_units_used ELSE 0 END AS chargeable_units
    FROM covered
)
SELECT
    cdr_id,
    customer AS customer_id,
    billing_period,
    plan_id,
    record_type,
    service,
    zone,
    band,
    roaming,
    start_time,
    -- For the star schema (gold.fact_cdr) and KPIs, so they need not join silver.cdr again.
    first_cell_id,
    duration_s,
    volume_bytes,
    billable_units,
    allowance_units_used,
    chargeable_units,
    CASE
        WHEN rating_status <> 'RATED' THEN CAST(0 AS DECIMAL(18, 4))
        WHEN service = 'VOICE' THEN round_up(
            CASE
                WHEN chargeable_units > 0
                    THEN greatest(connect_fee + CAST(chargeable_units AS DECIMAL(38, 12)) * rate / CAST(60 AS DECIMAL(38, 0)), min_charge)
                ELSE connect_fee
            END, 4)
        ELSE round_up(CAST(chargeable_units AS DECIMAL(18, 0)) * rate, 4)
    END AS charge,
    rating_status,
    CASE
        WHEN rating_status <> 'UNRATED' THEN NULL
        WHEN missing_subscriber IS NOT NULL THEN missing_subscriber
        ELSE 'E007'
    END AS reason_code,
    -- The local day: a run replaces whole days (its cut is a local day's start), so a day's
    -- files are removed whole, never copied in part.
    local_date(start_time) AS _local_date,
    arrow_cast(now(), 'Timestamp(µs, "UTC")') AS _rated_at
FROM charged
