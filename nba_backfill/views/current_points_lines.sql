-- nba_backfill_views.current_points_lines
-- One row = one player's current points line for his game on a date in [@start_date,
-- @end_date]: the latest snapshot wins (then bookmaker, then the lower line: deterministic),
-- with the bookmaker that gave it.
SELECT game_date, player_lookup, points_line, bookmaker
FROM nba_backfill_views.player_points_props
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY game_date, player_lookup
  ORDER BY snapshot_timestamp DESC, bookmaker, points_line
) = 1
