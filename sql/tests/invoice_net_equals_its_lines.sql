-- Quality gate: every invoice's net_amount is the sum of its lines, total = net + VAT, and
-- VAT is 20% of the net rounded half-up. Returns the invoices where that fails.
-- In a run, only the billing periods whose invoices may have changed since the test last passed
-- (macros/periods.sql, billing_changes); `cdrlake test` and a full refresh check every period.
-- @bind: first_period = SELECT min(billing_period) FROM changed_periods
-- @bind: last_period = SELECT max(billing_period) FROM changed_periods
{% from "macros/periods.sql" import billing_changes, in_changed %}
WITH {{ billing_changes("$last_passed", "$last_passed", "$last_passed") }}
SELECT i.invoice_number, i.net_amount, l.lines_total, i.vat_amount, i.total_amount
FROM gold.invoice i
LEFT JOIN (
    SELECT invoice_number, sum(amount) AS lines_total, count(*) AS lines
    FROM gold.invoice_line
    WHERE {{ in_changed("billing_period") }}
    GROUP BY invoice_number
) l
  ON l.invoice_number = i.invoice_number
WHERE {{ in_changed("i.billing_period") }}
  AND (l.lines_total IS NULL
   OR i.net_amount <> l.lines_total
   OR i.line_count <> l.lines
   OR i.total_amount <> i.net_amount + i.vat_amount
   OR i.vat_amount <> round_half_up(i.net_amount * CAST(0.20 AS DECIMAL(3, 2)), 2))
