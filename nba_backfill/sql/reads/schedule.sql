-- read schedule
-- One row = one game date on [@start_date, @end_date] with expected games: how many
-- (production's gate: final, regular season or playoffs, latest version of each game).
SELECT game_date, COUNT(*) AS games
FROM nba_backfill_views.expected_games
WHERE game_date BETWEEN @start_date AND @end_date
GROUP BY game_date
