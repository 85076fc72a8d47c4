{#
  last_day(period): the last local day (DATE) of a billing period ('YYYY-MM' text).
#}
{% macro last_day(period) -%}
CAST(CAST({{ period }} || '-01' AS DATE) + INTERVAL '1 month' - INTERVAL '1 day' AS DATE)
{%- endmacro %}

{#
  on_last_day(day, period, first, last): `day` is the last day of `period`, for the periods from
  `first` to `last` (bound literals). The two first periods' and the last one's days are listed,
  so the scan of a table partitioned by day reads those partitions only in the usual case (a run
  changes the current period, the next, and at a month's start the previous); the days between
  are a range.
#}
{% macro on_last_day(day, period, first, last) -%}
{% set second = "to_char(CAST(" ~ first ~ " || '-01' AS DATE) + INTERVAL '1 month', '%Y-%m')" -%}
{{ day }} = {{ last_day(period) }}
AND (
    {{ day }} IN ({{ last_day(first) }}, {{ last_day(second) }}, {{ last_day(last) }})
    OR ({{ day }} > {{ last_day(second) }} AND {{ day }} < {{ last_day(last) }})
)
{%- endmacro %}

{#
  rerated_periods(since): the billing periods gold.rated_cdr re-rated CDRs of since `since`
  (system.rated_cdr_changes), each with the period after it: a late record moves a call's start
  at most into the period before, which may leave the later one without it. One text column,
  billing_period, with repeats.
#}
{% macro rerated_periods(since="$rated_since") -%}
SELECT unnest(make_array(billing_period, to_char(CAST(billing_period || '-01' AS DATE) + INTERVAL '1 month', '%Y-%m'))) AS billing_period
    FROM system.rated_cdr_changes
    WHERE _rated_at > {{ since }}
{%- endmacro %}

{#
  billing_changes(): the CTEs `raw_changed_periods` and `changed_periods` of the billing models,
  which are incremental by billing period (`@replace_on: billing_period FROM changed_periods`).
  A period's invoices change only when one of these did since the model last committed:
  - gold.rated_cdr re-rated CDRs of it, or of the period before (a late record moves a call's
    start at most into the period before: `@changed_since: rated_since`);
  - it was closed (`@changed_since: closed_since`);
  - subscription versions were delivered taking effect in it or before (`@changed_since:
    crm_since`), which changes its active days, plans and loyalty discounts.
  With anything changed, every open period is recomputed as well: an adjustment of a closed
  period rides on the customer's next open invoice, which a change elsewhere can move.
  Nothing changed: no period, and the model commits nothing. A singular test checking the
  invoices passes `$last_passed` for the three marks: the periods changed since it last passed.
  With @bind first_period and last_period from changed_periods, `in_changed(column)` keeps the
  rows of those periods, by literal bounds first so that a scan skips the other periods' files.
  A parameter takes one type: the tables partitioned by billing_period read it dictionary-encoded,
  the issued tables (not partitioned) as text, so their filters name binds of their own
  (`in_changed(column, "$first_issued", "$last_issued")`, the same queries).
#}
{% macro billing_changes(rated_since="$rated_since", closed_since="$closed_since", crm_since="$crm_since") -%}
raw_changed_periods AS (
    SELECT DISTINCT billing_period FROM (
        {{ rerated_periods(rated_since) }}
        UNION ALL
        SELECT CAST(billing_period AS VARCHAR) AS billing_period
        FROM system.period_close
        WHERE action = 'close' AND at > {{ closed_since }}
        UNION ALL
        SELECT CAST(billing_period AS VARCHAR) AS billing_period
        FROM gold.billing_period
        WHERE billing_period >= (
            SELECT to_char(min(TRY_CAST(trim(effective_from) AS DATE)), '%Y-%m')
            FROM bronze.crm_customer
            WHERE _ingested_at > {{ crm_since }}
        )
    ) AS changed
),
changed_periods AS (
    SELECT billing_period FROM raw_changed_periods
    UNION
    SELECT CAST(billing_period AS VARCHAR) FROM gold.billing_period
    WHERE status = 'OPEN' AND (SELECT count(*) FROM raw_changed_periods) > 0
)
{%- endmacro %}

{% macro in_changed(column, first="$first_period", last="$last_period") -%}
{{ column }} BETWEEN {{ first }} AND {{ last }} AND {{ column }} IN (SELECT billing_period FROM changed_periods)
{%- endmacro %}
