-- nba_backfill_views.game_spreads
-- One row = one game's latest spread (the home team's point; the latest snapshot, then
-- bookmaker, wins) on [@start_date, @end_date].
SELECT game_id, game_date, home_team_abbr, away_team_abbr, spread, bookmaker, snapshot_timestamp
FROM nba_backfill_views.game_line_points
WHERE spread IS NOT NULL
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY game_id, game_date
  ORDER BY snapshot_timestamp DESC, bookmaker, spread
) = 1
