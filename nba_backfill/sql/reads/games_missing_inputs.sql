-- read games_missing_inputs
-- One row = one expected game on [@start_date, @end_date] whose box scores or gamebook never
-- arrived (nba_backfill_views.games_missing_inputs), with its NBA.com id, teams and date.
SELECT nba_game_id, game_id, game_date, away_team_abbr, home_team_abbr
FROM nba_backfill_views.games_missing_inputs
ORDER BY game_date, nba_game_id
