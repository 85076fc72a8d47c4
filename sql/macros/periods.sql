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
