-- Who owns each MSISDN when: non-overlapping intervals per msisdn with the active subscriber
-- version covering them (the lowest customer_id when several do, as mediation.md says). A CDR
-- finds its customer with one equality join and a range check.
-- @materialized: table
-- @test: not_null(msisdn, owned_from, customer_id)
-- @test: unique(msisdn, owned_from)
WITH active AS (
    SELECT msisdn, customer_id, valid_from, valid_to
    FROM silver.subscriber
    WHERE status = 'active' AND (valid_to IS NULL OR valid_to > valid_from)
),
bounds AS (
    SELECT msisdn, valid_from AS t FROM active
    UNION
    SELECT msisdn, valid_to AS t FROM active WHERE valid_to IS NOT NULL
),
pieces AS (
    SELECT msisdn, t AS owned_from, lead(t) OVER (PARTITION BY msisdn ORDER BY t) AS owned_to
    FROM bounds
)
SELECT p.msisdn, p.owned_from, p.owned_to, min(a.customer_id) AS customer_id
FROM pieces p
JOIN active a
  ON a.msisdn = p.msisdn
 AND a.valid_from <= p.owned_from
 AND (a.valid_to IS NULL OR p.owned_from < a.valid_to)
GROUP BY p.msisdn, p.owned_from, p.owned_to
