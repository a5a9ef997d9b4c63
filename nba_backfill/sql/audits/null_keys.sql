-- audit null_keys
-- One row = one row of the audited table on [@start_date, @end_date] with a NULL in a key
-- column: its date and its key columns. No rows = pass.
-- Slots (filled from the catalog entry): :this_table, :date_column, :key_columns,
-- :any_key_is_null (the key columns' IS NULL tests joined with OR).
SELECT :date_column AS day, :key_columns
FROM :this_table
WHERE :date_column BETWEEN @start_date AND @end_date
  AND (:any_key_is_null)
