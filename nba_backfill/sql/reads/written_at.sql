-- read written_at
-- One row = one date of the table on [@start_date, @end_date] that has rows: when its rows were
-- written, first and last (the table's written column: processed_at, or created_at). What the
-- stale rule compares (readiness.stale_dates): a date written before one of its inputs' dates
-- was rewritten holds values computed without the rewrite.
-- Slots (filled from the catalog entry): :this_table, :date_column, :written_column.
SELECT :date_column AS day, MIN(:written_column) AS first_written,
  MAX(:written_column) AS last_written
FROM :this_table
WHERE :date_column BETWEEN @start_date AND @end_date
GROUP BY :date_column
