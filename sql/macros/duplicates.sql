{#
  duplicate_ctes(source, key): the CTEs that find E005 duplicates among a bronze table's rows,
  for the silver record models. Expects a CTE `raw` before it (this run's rows, fields already
  passed through raw_field, with _batch_id, _row_number, _ingested_at) and the $since bind.
  Defines repeated_keys, repeated_here (a later copy within this run) and seen_before (a copy
  already in older bronze), each giving the (_batch_id, _row_number) of the duplicate rows.
  source: the bronze table; key: the columns that identify a record (mediation.md).
#}
{% macro duplicate_ctes(source, key) -%}
-- Duplicates: a row whose key an earlier row of this run has, or an older, already mediated one.
-- Only keys that occur more than once are ranked (a window over every row would be slow); they
-- are found by key_hash (cheaper than grouping the text): a collision only ranks a row alone.
-- Staged (@stage): its exact row count lets the join below build from it instead of
-- repartitioning every wide row (the optimizer cannot estimate a filtered window).
repeated_keys AS (
    SELECT key_hash({{ key | join(", ") }}) AS key
    FROM raw
    GROUP BY key_hash({{ key | join(", ") }})
    HAVING count(*) > 1
),
repeated_here AS (
    SELECT _batch_id, _row_number
    FROM (
        SELECT r._batch_id, r._row_number, row_number() OVER (
            PARTITION BY {% for k in key %}r.{{ k }}{% if not loop.last %}, {% endif %}{% endfor %}
            ORDER BY r._ingested_at, r._batch_id, r._row_number
        ) AS copy
        FROM repeated_keys k
        JOIN raw r ON k.key = key_hash({% for k in key %}r.{{ k }}{% if not loop.last %}, {% endif %}{% endfor %})
    ) AS numbered
    WHERE copy > 1
),
seen_before AS (
    SELECT r._batch_id, r._row_number
    FROM raw r
    WHERE EXISTS (
        SELECT 1 FROM {{ source }} o
        WHERE o._ingested_at <= $since
{%- for k in key %}
          AND raw_field(o.{{ k }}) = r.{{ k }}
{%- endfor %}
    )
),
{%- endmacro %}
