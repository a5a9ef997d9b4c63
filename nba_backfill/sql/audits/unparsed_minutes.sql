-- audit unparsed_minutes (a data problem of the gamebook)
-- One row = one active player-game on [@start_date, @end_date] without minutes_played: the
-- gamebook's minutes did not parse ("", "-", NULL, "12:75", …). The model writes NULL rather
-- than a plausible number (production's _parse_minutes_to_decimal returns None), so the row
-- is kept and reported here; validation lists the dates. No rows = pass.
-- Slots (filled from the catalog entry): :this_table, :date_column, :key_columns.
SELECT :date_column AS day, :key_columns, points
FROM :this_table
WHERE :date_column BETWEEN @start_date AND @end_date
  AND is_active
  AND minutes_played IS NULL
