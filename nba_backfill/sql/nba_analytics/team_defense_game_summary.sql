-- nba_analytics.team_defense_game_summary
-- One row = one team's defense in one final game (key: game_date, defending_team_abbr): what
-- its opponent scored and shot, for the games of the schedule on [@start_date, @end_date] that
-- have boxscore rows for both teams (the opponent's offense is the defense's input).
--   defensive_rating = 100 * opp PTS / (opp FGA + 0.44 * opp FTA - opp OREB + opp TOV)
--   opponent_pace    = the opponent's possessions (not per 48 minutes)
--   opponent_ts_pct  = opp PTS / (2 * (opp FGA + 0.44 * opp FTA))
-- Follows data_processors/analytics/team_defense_game_summary/
-- team_defense_game_summary_processor.py of the platform (formulas, columns).
-- turnovers_forced = the opponent's turnovers; steals, defensive_rebounds and fouls_committed
-- are the defending team's own boxscore totals; win_flag / margin_of_victory / overtime_periods
-- are the defending team's result. blocks_<zone> count the opponent's blocked shots
-- by zone in the play-by-play, and opp_<zone>_* its attempts / makes there: NULL when the game
-- has no play-by-play (history is partial), 0 when it has some but none in that zone.
-- Column groups beyond the box score, each following
-- data_processors/analytics/team_defense_game_summary/team_defense_game_summary_processor.py
-- (_process_single_team_defense, _extract_shot_zone_stats, _try_gamebook_defensive_actions):
--   points_in_paint_allowed / mid_range_points_allowed  2 points per made opponent field goal
--            in the zone (play-by-play; NULL / 0 as the zone counts);
--   three_pt_points_allowed  3 x the opponent's boxscore three-point makes.
--   quality (quality_tier, quality_score, data_quality_tier, data_sources, quality_issues,
--            primary_source_used, processed_with_issues)
--            build_quality_columns_with_legacy over the 'team_boxscores' fallback chain's
--            primary source (shared/config/data_sources/fallback_config.yaml:
--            nbac_team_boxscore, tier gold, score 100, no issues). primary_source_used adds
--            '+nbac_gamebook' where the gamebook gives the defending team's defensive actions
--            (at least 5 active players); missing actions are filled with 0, so
--            'missing_defensive_actions' never fires: no row issue, processed_with_issues FALSE.
--   quality_used_fallback / quality_reconstructed (schemas/bigquery/analytics/
--            source_coverage_quality_columns.sql): FALSE, the model reads the primary sources.
--   players_inactive  the team's gamebook players with status 'inactive' (latest load per
--            player), NULL when the gamebook has no line for the team.
--   source_* (tracked, contract/derivation.yaml) the processor's get_dependencies: the team
--            boxscore, the gamebook and Ball Don't Lie's box scores (its dependency check
--            tracks that fallback even though the processor does not read it).
WITH pbp_games AS (
  SELECT DISTINCT game_id
  FROM nba_backfill_views.shots AS pbp
),

-- Shots by the shooting team; the defense reads its opponent's row.
zones AS (
  SELECT
    game_id,
    team_abbr AS shooting_team_abbr,
    COUNTIF(shot_zone = 'paint') AS paint_attempts,
    COUNTIF(shot_zone = 'paint' AND shot_made) AS paint_makes,
    COUNTIF(shot_zone = 'mid_range') AS mid_range_attempts,
    COUNTIF(shot_zone = 'mid_range' AND shot_made) AS mid_range_makes,
    COUNTIF(shot_zone = 'paint' AND blocked) AS blocked_paint,
    COUNTIF(shot_zone = 'mid_range' AND blocked) AS blocked_mid_range,
    COUNTIF(shot_zone = 'three' AND blocked) AS blocked_three
  FROM nba_backfill_views.shots AS pbp
  GROUP BY game_id, team_abbr
),

-- The gamebook's latest line per player (a scraper that ran twice counts once).
gamebook AS (
  SELECT
    game_id,
    team_abbr,
    COUNTIF(status = 'inactive') AS players_inactive,
    COUNTIF(status = 'active') AS active_players
  FROM (
    SELECT game_id, team_abbr, LOWER(player_status) AS status
    FROM nba_raw.nbac_gamebook_player_stats
    WHERE game_date BETWEEN @start_date AND @end_date
    QUALIFY ROW_NUMBER() OVER (
      PARTITION BY game_id, player_lookup
      ORDER BY processed_at DESC, team_abbr, player_status
    ) = 1
  )
  GROUP BY game_id, team_abbr
),

defense AS (
  SELECT
    t.game_id,
    t.game_date,
    t.season_year,
    t.team_abbr AS defending_team_abbr,
    t.opponent_team_abbr,
    t.home_game,
    t.opp_points AS points_allowed,
    t.opp_field_goals_made AS opp_fg_makes,
    t.opp_field_goals_attempted AS opp_fg_attempts,
    t.opp_three_pointers_made AS opp_three_pt_makes,
    t.opp_three_pointers_attempted AS opp_three_pt_attempts,
    t.opp_free_throws_made AS opp_ft_makes,
    t.opp_free_throws_attempted AS opp_ft_attempts,
    t.opp_offensive_rebounds + t.opp_defensive_rebounds AS opp_rebounds,
    t.opp_assists AS opp_assists,
    t.opp_turnovers AS opp_turnovers,
    t.points AS points_scored,
    t.personal_fouls AS fouls_committed,
    t.minutes AS team_minutes,
    t.steals,
    t.defensive_rebounds,
    t.blocks,
    t.opp_field_goals_attempted + 0.44 * t.opp_free_throws_attempted - t.opp_offensive_rebounds
      + t.opp_turnovers AS opp_possessions,
    pg.game_id IS NOT NULL AS has_pbp,
    z.paint_attempts,
    z.paint_makes,
    z.mid_range_attempts,
    z.mid_range_makes,
    z.blocked_paint,
    z.blocked_mid_range,
    z.blocked_three,
    gb.players_inactive,
    COALESCE(gb.active_players >= 5, FALSE) AS gamebook_actions
  FROM nba_backfill_views.team_games AS t
  LEFT JOIN pbp_games AS pg
    ON pg.game_id = t.game_id
  LEFT JOIN zones AS z
    ON z.game_id = t.game_id
    AND z.shooting_team_abbr = t.opponent_team_abbr
  LEFT JOIN gamebook AS gb
    ON gb.game_id = t.game_id
    AND gb.team_abbr = t.team_abbr
  WHERE TRUE
  -- One row per key even if a source holds duplicates (deterministic: lowest game_id wins).
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY t.game_date, t.team_abbr
    ORDER BY t.game_id, t.opp_points DESC, t.steals DESC
  ) = 1
)

SELECT
  CAST(game_id AS STRING) AS game_id,
  CAST(game_date AS DATE) AS game_date,
  CAST(season_year AS INT64) AS season_year,
  CAST(defending_team_abbr AS STRING) AS defending_team_abbr,
  CAST(opponent_team_abbr AS STRING) AS opponent_team_abbr,
  CAST(home_game AS BOOL) AS home_game,
  CAST(points_scored > points_allowed AS BOOL) AS win_flag,
  CAST(points_scored - points_allowed AS INT64) AS margin_of_victory,
  -- ROUND first: CAST(FLOAT64 AS INT64) rounds in BigQuery but truncates in other engines.
  CAST(GREATEST(ROUND((team_minutes - 240) / 25), 0) AS INT64) AS overtime_periods,
  CAST(points_allowed AS INT64) AS points_allowed,
  CAST(opp_fg_makes AS INT64) AS opp_fg_makes,
  CAST(opp_fg_attempts AS INT64) AS opp_fg_attempts,
  CAST(opp_three_pt_makes AS INT64) AS opp_three_pt_makes,
  CAST(opp_three_pt_attempts AS INT64) AS opp_three_pt_attempts,
  CAST(opp_ft_makes AS INT64) AS opp_ft_makes,
  CAST(opp_ft_attempts AS INT64) AS opp_ft_attempts,
  CAST(opp_rebounds AS INT64) AS opp_rebounds,
  CAST(opp_assists AS INT64) AS opp_assists,
  CAST(opp_turnovers AS INT64) AS turnovers_forced,
  CAST(fouls_committed AS INT64) AS fouls_committed,
  CAST(steals AS INT64) AS steals,
  CAST(defensive_rebounds AS INT64) AS defensive_rebounds,
  CAST(IF(has_pbp, COALESCE(blocked_paint, 0), NULL) AS INT64) AS blocks_paint,
  CAST(IF(has_pbp, COALESCE(blocked_mid_range, 0), NULL) AS INT64) AS blocks_mid_range,
  CAST(IF(has_pbp, COALESCE(blocked_three, 0), NULL) AS INT64) AS blocks_three_pt,
  CAST(IF(has_pbp, COALESCE(paint_attempts, 0), NULL) AS INT64) AS opp_paint_attempts,
  CAST(IF(has_pbp, COALESCE(paint_makes, 0), NULL) AS INT64) AS opp_paint_makes,
  CAST(IF(has_pbp, COALESCE(mid_range_attempts, 0), NULL) AS INT64) AS opp_mid_range_attempts,
  CAST(IF(has_pbp, COALESCE(mid_range_makes, 0), NULL) AS INT64) AS opp_mid_range_makes,
  CAST(SAFE_DIVIDE(100 * points_allowed, opp_possessions) AS FLOAT64) AS defensive_rating,
  CAST(opp_possessions AS FLOAT64) AS opponent_pace,
  CAST(SAFE_DIVIDE(points_allowed, 2 * (opp_fg_attempts + 0.44 * opp_ft_attempts)) AS FLOAT64)
    AS opponent_ts_pct,
  CAST(IF(has_pbp, 2 * COALESCE(paint_makes, 0), NULL) AS INT64) AS points_in_paint_allowed,
  CAST(IF(has_pbp, 2 * COALESCE(mid_range_makes, 0), NULL) AS INT64) AS mid_range_points_allowed,
  CAST(3 * opp_three_pt_makes AS INT64) AS three_pt_points_allowed,
  CAST(players_inactive AS INT64) AS players_inactive,
  CAST('gold' AS STRING) AS quality_tier,
  CAST('gold' AS STRING) AS data_quality_tier,
  CAST(100 AS FLOAT64) AS quality_score,
  CAST([] AS ARRAY<STRING>) AS quality_issues,
  CAST(['nbac_team_boxscore'] AS ARRAY<STRING>) AS data_sources,
  CAST(
    IF(gamebook_actions, 'nbac_team_boxscore+nbac_gamebook', 'nbac_team_boxscore') AS STRING
  ) AS primary_source_used,
  CAST(FALSE AS BOOL) AS processed_with_issues,
  CAST(FALSE AS BOOL) AS quality_used_fallback,
  CAST(FALSE AS BOOL) AS quality_reconstructed
FROM defense
