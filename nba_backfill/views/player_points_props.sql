-- nba_backfill_views.player_points_props
-- One row = one player points line of one bookmaker at one snapshot on [@start_date,
-- @end_date]; a reloaded snapshot counts once (the latest load wins).
SELECT game_date, player_lookup, bookmaker, points_line, snapshot_timestamp
FROM nba_raw.odds_api_player_points_props
WHERE game_date BETWEEN @start_date AND @end_date
  AND points_line IS NOT NULL
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY game_id, player_lookup, bookmaker, snapshot_timestamp
  ORDER BY processed_at DESC, points_line
) = 1
