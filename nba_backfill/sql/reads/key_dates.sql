-- read key_dates
-- One row = one date of the audited table on [@start_date, @end_date] where its key audits find
-- something: the rows the null_keys audit returns that date (`null_keys`) and the surplus rows
-- of the keys the duplicate_keys audit returns that date (`duplicate_keys`: c rows count c - 1).
-- Readiness counts such a date incomplete, so the planner re-plans it and the gate names it.
-- An audit the table does not run (catalog `audits`) counts nothing.
-- Slots: :null_keys, :duplicate_keys (the audits).
SELECT day, SUM(null_keys) AS null_keys, SUM(duplicate_keys) AS duplicate_keys
FROM (
  SELECT day, 1 AS null_keys, 0 AS duplicate_keys FROM :null_keys
  UNION ALL
  SELECT day, 0 AS null_keys, copies - 1 AS duplicate_keys FROM :duplicate_keys
) AS offending
GROUP BY day
