-- read key_counts
-- One row: the audited table's rows on [@start_date, @end_date] (`n`), the rows the null_keys
-- audit returns (`null_keys`) and the surplus rows of the keys the duplicate_keys audit returns
-- (`duplicate_keys`: a key held by c rows counts c - 1). One query job for the gate's key
-- checks. An audit the table does not run (catalog `audits`) counts nothing.
-- Slots: :this_table, :date_column (catalog), :null_keys, :duplicate_keys (the audits).
SELECT
  (SELECT COUNT(*) FROM :this_table WHERE :date_column BETWEEN @start_date AND @end_date) AS n,
  (SELECT COUNT(*) FROM :null_keys) AS null_keys,
  (SELECT COALESCE(SUM(copies - 1), 0) FROM :duplicate_keys) AS duplicate_keys
