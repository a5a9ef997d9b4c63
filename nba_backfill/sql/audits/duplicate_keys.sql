-- audit duplicate_keys
-- One row = one key of the audited table on [@start_date, @end_date] held by more than one row:
-- its date (`day`: the date column is one of the key columns, catalog), the key columns and
-- `copies`, how many rows hold it (a NULL key column groups like a value, so repeated NULL keys
-- count here too). No rows = pass; the rows beyond the first of each key (SUM(copies - 1)) are
-- the surplus the gate reports, per date.
-- Slots (filled from the catalog entry): :this_table, :date_column, :key_columns.
SELECT :date_column AS day, :key_columns, COUNT(*) AS copies
FROM :this_table
WHERE :date_column BETWEEN @start_date AND @end_date
GROUP BY :key_columns
HAVING COUNT(*) > 1
