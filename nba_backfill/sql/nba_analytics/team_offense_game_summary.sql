-- nba_analytics.team_offense_game_summary
-- One row = one team's offense in one final game (key: game_date, team_abbr), for the games of
-- the schedule on [@start_date, @end_date] that have a team boxscore row for that team.
--   possessions      = FGA + 0.44 * FTA + TOV - OREB
--   offensive_rating = 100 * PTS / possessions
--   pace             = possessions * 48 / (team player-minutes / 5)
--   overtime_periods = (team player-minutes - 240) / 25
--   ts_pct           = PTS / (2 * (FGA + 0.44 * FTA))
-- Follows data_processors/analytics/team_offense_game_summary/
-- team_offense_game_summary_processor.py of the platform (formulas, columns).
-- Result columns (win_flag, margin_of_victory) compare with the opponent's boxscore row: a team
-- whose opponent has no boxscore row is not written (win_flag is REQUIRED). Zone columns count
-- the team's field-goal attempts in the play-by-play: NULL when the game has no play-by-play at all (history is partial), 0 when the
-- game has some but none in that zone for the team.
-- Column groups beyond the box score, each following
-- data_processors/analytics/team_offense_game_summary/team_offense_game_summary_processor.py
-- (calculate_analytics, _extract_shot_zones):
--   nba_game_id            the team boxscore's NBA.com id (_extract_from_nbac_team_boxscore).
--   points_in_paint_scored 2 points per made paint field goal of the play-by-play (its
--                          points_value sum), NULL / 0 as the zone counts.
--   quality (quality_tier, quality_score, data_quality_tier, data_sources, quality_issues,
--            primary_source_used, processed_with_issues, shot_zones_source)
--                          build_quality_columns_with_legacy over the 'team_boxscores' fallback
--                          chain's primary source (shared/config/data_sources/
--                          fallback_config.yaml: nbac_team_boxscore, tier gold, score 100, no
--                          issues); a team with no field goal in the play-by-play adds the row
--                          issue 'shot_zones_unavailable' (= processed_with_issues);
--                          shot_zones_source 'nbac_pbp' where the game has play-by-play.
--   quality_used_fallback / quality_reconstructed (schemas/bigquery/analytics/
--            source_coverage_quality_columns.sql: a fallback source / reconstructed data was
--            used): FALSE, the model reads the primary boxscore only.
--   is_partial_game_data / game_status_at_processing / game_completeness_pct (the table's
--            schema: partial-game detection): a backfill writes final games with both teams'
--            boxscores only -> FALSE (the schema's default), 'final', 100.
--   players_inactive       the team's gamebook players with status 'inactive' (latest load
--                          per player), NULL when the gamebook has no line for the team.
WITH pbp_games AS (
  SELECT DISTINCT game_id
  FROM nba_backfill_views.shots AS pbp
),

zones AS (
  SELECT
    game_id,
    team_abbr,
    COUNTIF(shot_zone = 'paint') AS paint_attempts,
    COUNTIF(shot_zone = 'paint' AND shot_made) AS paint_makes,
    COUNTIF(shot_zone = 'mid_range') AS mid_range_attempts,
    COUNTIF(shot_zone = 'mid_range' AND shot_made) AS mid_range_makes,
    COUNTIF(shot_zone = 'three') AS three_zone_attempts,
    COUNTIF(shot_zone = 'three' AND shot_made) AS three_zone_makes
  FROM nba_backfill_views.shots AS pbp
  GROUP BY game_id, team_abbr
),

-- The gamebook's latest line per player (a scraper that ran twice counts once).
gamebook AS (
  SELECT
    game_id,
    team_abbr,
    COUNTIF(status = 'inactive') AS players_inactive
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

offense AS (
  SELECT
    t.game_id,
    t.nba_game_id,
    t.game_date,
    t.season_year,
    t.team_abbr,
    t.opponent_team_abbr,
    t.home_game,
    t.points,
    t.opp_points AS opponent_points,
    t.field_goals_made,
    t.field_goals_attempted,
    t.three_pointers_made,
    t.three_pointers_attempted,
    t.free_throws_made,
    t.free_throws_attempted,
    t.offensive_rebounds,
    t.defensive_rebounds,
    t.assists,
    t.turnovers,
    t.personal_fouls,
    t.minutes,
    t.field_goals_attempted + 0.44 * t.free_throws_attempted + t.turnovers
      - t.offensive_rebounds AS possessions,
    pg.game_id IS NOT NULL AS has_pbp,
    z.paint_attempts,
    z.paint_makes,
    z.mid_range_attempts,
    z.mid_range_makes,
    z.three_zone_attempts,
    z.three_zone_makes,
    z.game_id IS NOT NULL AS has_team_shots,
    gb.players_inactive
  FROM nba_backfill_views.team_games AS t
  LEFT JOIN pbp_games AS pg
    ON pg.game_id = t.game_id
  LEFT JOIN zones AS z
    ON z.game_id = t.game_id
    AND z.team_abbr = t.team_abbr
  LEFT JOIN gamebook AS gb
    ON gb.game_id = t.game_id
    AND gb.team_abbr = t.team_abbr
  -- win_flag is REQUIRED: a team row is not written when its or its opponent's points are unknown
  -- (the date stays incomplete and is planned again).
  WHERE t.points IS NOT NULL AND t.opp_points IS NOT NULL
  -- One row per key even if a source holds duplicates (deterministic: lowest game_id wins).
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY t.game_date, t.team_abbr
    ORDER BY t.game_id, t.points DESC, t.opp_points DESC
  ) = 1
)

SELECT
  CAST(game_id AS STRING) AS game_id,
  CAST(nba_game_id AS STRING) AS nba_game_id,
  CAST(game_date AS DATE) AS game_date,
  CAST(season_year AS INT64) AS season_year,
  CAST(team_abbr AS STRING) AS team_abbr,
  CAST(opponent_team_abbr AS STRING) AS opponent_team_abbr,
  CAST(home_game AS BOOL) AS home_game,
  CAST(points > opponent_points AS BOOL) AS win_flag,
  CAST(points - opponent_points AS INT64) AS margin_of_victory,
  CAST(points AS INT64) AS points_scored,
  CAST(field_goals_made AS INT64) AS fg_makes,
  CAST(field_goals_attempted AS INT64) AS fg_attempts,
  CAST(three_pointers_made AS INT64) AS three_pt_makes,
  CAST(three_pointers_attempted AS INT64) AS three_pt_attempts,
  CAST(free_throws_made AS INT64) AS ft_makes,
  CAST(free_throws_attempted AS INT64) AS ft_attempts,
  CAST(offensive_rebounds + defensive_rebounds AS INT64) AS rebounds,
  CAST(assists AS INT64) AS assists,
  CAST(turnovers AS INT64) AS turnovers,
  CAST(personal_fouls AS INT64) AS personal_fouls,
  -- ROUND first: CAST(FLOAT64 AS INT64) rounds in BigQuery but truncates in other engines.
  CAST(GREATEST(ROUND((minutes - 240) / 25), 0) AS INT64) AS overtime_periods,
  -- Production stores possessions as INT64; the ratings use the unrounded estimate.
  CAST(ROUND(possessions) AS INT64) AS possessions,
  CAST(SAFE_DIVIDE(100 * points, possessions) AS FLOAT64) AS offensive_rating,
  CAST(SAFE_DIVIDE(possessions * 48, minutes / 5) AS FLOAT64) AS pace,
  CAST(SAFE_DIVIDE(points, 2 * (field_goals_attempted + 0.44 * free_throws_attempted)) AS FLOAT64)
    AS ts_pct,
  CAST(IF(has_pbp, COALESCE(paint_attempts, 0), NULL) AS INT64) AS team_paint_attempts,
  CAST(IF(has_pbp, COALESCE(paint_makes, 0), NULL) AS INT64) AS team_paint_makes,
  CAST(IF(has_pbp, COALESCE(mid_range_attempts, 0), NULL) AS INT64) AS team_mid_range_attempts,
  CAST(IF(has_pbp, COALESCE(mid_range_makes, 0), NULL) AS INT64) AS team_mid_range_makes,
  CAST(IF(has_pbp, 2 * COALESCE(paint_makes, 0), NULL) AS INT64) AS points_in_paint_scored,
  CAST(has_pbp AS BOOL) AS shot_zones_available,
  CAST(IF(has_pbp, 'nbac_pbp', NULL) AS STRING) AS shot_zones_source,
  CAST(players_inactive AS INT64) AS players_inactive,
  CAST('gold' AS STRING) AS quality_tier,
  CAST('gold' AS STRING) AS data_quality_tier,
  CAST(100 AS FLOAT64) AS quality_score,
  CAST(IF(has_team_shots, [], ['shot_zones_unavailable']) AS ARRAY<STRING>) AS quality_issues,
  CAST(['nbac_team_boxscore'] AS ARRAY<STRING>) AS data_sources,
  CAST('nbac_team_boxscore' AS STRING) AS primary_source_used,
  CAST(NOT has_team_shots AS BOOL) AS processed_with_issues,
  CAST(FALSE AS BOOL) AS quality_used_fallback,
  CAST(FALSE AS BOOL) AS quality_reconstructed,
  CAST(FALSE AS BOOL) AS is_partial_game_data,
  CAST('final' AS STRING) AS game_status_at_processing,
  CAST(100 AS FLOAT64) AS game_completeness_pct
FROM offense
