-- nba_backfill_views.games_missing_inputs
-- One row = one expected game (nba_backfill_views.expected_games) on [@start_date, @end_date]
-- whose Phase 2 results never arrived: fewer than both teams' box scores, or no gamebook line
-- (a postponed game left "Final" in the schedule, a scraper that never ran). The team
-- summaries, player_game_summary and every table whose players come from the gamebook have
-- no row for it; readiness counts such a game out of those tables' completeness and reports
-- it as skipped (inputs missing) instead of re-planning its date on every run. It counts
-- again as soon as its box scores and gamebook arrive.
WITH games AS (
  SELECT
    game_id AS nba_game_id,
    CONCAT(FORMAT_DATE('%Y%m%d', game_date), '_', away_team_tricode, '_', home_team_tricode)
      AS game_id,
    game_date,
    away_team_tricode AS away_team_abbr,
    home_team_tricode AS home_team_abbr
  FROM nba_backfill_views.expected_games
  WHERE game_date BETWEEN @start_date AND @end_date
),

-- The box scores of the game's own two teams (a row under another tricode is no box score
-- of this game: the team summaries cannot use it).
boxes AS (
  SELECT g.game_id, g.game_date, COUNT(DISTINCT b.team_abbr) AS teams
  FROM games AS g
  JOIN nba_raw.nbac_team_boxscore AS b
    ON b.game_id = g.game_id
    AND b.game_date = g.game_date
    AND b.team_abbr IN (g.away_team_abbr, g.home_team_abbr)
  WHERE b.game_date BETWEEN @start_date AND @end_date
  GROUP BY g.game_id, g.game_date
),

gamebook AS (
  SELECT DISTINCT game_id, game_date
  FROM nba_raw.nbac_gamebook_player_stats
  WHERE game_date BETWEEN @start_date AND @end_date
)

SELECT g.nba_game_id, g.game_id, g.game_date, g.away_team_abbr, g.home_team_abbr
FROM games AS g
LEFT JOIN boxes AS b ON b.game_id = g.game_id AND b.game_date = g.game_date
LEFT JOIN gamebook AS p ON p.game_id = g.game_id AND p.game_date = g.game_date
WHERE COALESCE(b.teams, 0) < 2 OR p.game_id IS NULL
