-- nba_backfill_views.games
-- One row = one expected game (nba_backfill_views.expected_games) on [@start_date, @end_date],
-- keyed as the platform's analytics tables key games: game_id = YYYYMMDD_AWAY_HOME (tricodes).
SELECT
  CONCAT(FORMAT_DATE('%Y%m%d', game_date), '_', away_team_tricode, '_', home_team_tricode)
    AS game_id,
  game_date,
  season_year,
  home_team_tricode AS home_team_abbr,
  away_team_tricode AS away_team_abbr
FROM nba_backfill_views.expected_games
WHERE game_date BETWEEN @start_date AND @end_date
