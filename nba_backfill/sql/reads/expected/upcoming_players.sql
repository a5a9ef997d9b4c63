-- expected upcoming_players
-- One row = one player upcoming_player_game_context must hold (day, entity = player_lookup):
-- the gamebook's active and DNP players of the expected games on [@start_date, @end_date], the
-- latest of those loads of each (game, player) deciding his team (the status filter comes
-- first, as in the platform's processor), on either team of the game. The same selection as the
-- model's `gamebook` and `roster` (nba_analytics/upcoming_player_game_context.sql); a date
-- whose table differs from it is incomplete (grain_dates).
WITH gamebook AS (
  SELECT game_id, game_date, player_lookup, team_abbr, player_status
  FROM nba_raw.nbac_gamebook_player_stats
  WHERE game_date BETWEEN @start_date AND @end_date
    AND player_lookup IS NOT NULL
    AND LOWER(player_status) IN ('active', 'dnp')
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_id, player_lookup
    ORDER BY processed_at DESC NULLS LAST, minutes DESC, team_abbr, player_status
  ) = 1
)

SELECT DISTINCT g.game_date AS day, p.player_lookup AS entity
FROM nba_backfill_views.games AS g
INNER JOIN gamebook AS p
  ON p.game_id = g.game_id
  AND p.game_date = g.game_date
  AND p.team_abbr IN (g.home_team_abbr, g.away_team_abbr)
