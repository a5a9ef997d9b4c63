-- audit usage_rate (ML readiness)
-- One row = one player-game on [@start_date, @end_date] where the player played but has no
-- usage_rate: the feature store cannot use it. Played = minutes > 0, or active with points
-- but minutes that did not parse (minutes_played NULL: the unparsed_minutes audit's rows) —
-- a player who scored played, so the share must not drop him from its denominator. Phase 4
-- validation passes when these rows are under 5 % of the player-games played
-- (catalog.USAGE_RATE_THRESHOLD).
-- Slots (filled from the catalog entry): :this_table, :date_column, :key_columns.
SELECT :date_column AS day, :key_columns, minutes_played
FROM :this_table
WHERE :date_column BETWEEN @start_date AND @end_date
  AND (minutes_played > 0 OR (is_active AND minutes_played IS NULL AND points > 0))
  AND usage_rate IS NULL
