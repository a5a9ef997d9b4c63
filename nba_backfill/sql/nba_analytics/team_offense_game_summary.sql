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
WITH games AS (
  -- Production's gate over the latest version of each schedule game (nba_backfill/views/).
  SELECT
    CONCAT(FORMAT_DATE('%Y%m%d', game_date), '_', away_team_tricode, '_', home_team_tricode)
      AS game_id,
    game_date,
    season_year,
    home_team_tricode AS home_team_abbr,
    away_team_tricode AS away_team_abbr
  FROM nba_backfill_views.expected_games
  WHERE game_date BETWEEN @start_date AND @end_date
),

-- One row per (game_id, team_abbr): the latest load wins, as in production's processor.
-- minutes is the team's "MMM:SS" player-minutes ("265:00" after one overtime).
box AS (
  SELECT
    game_id,
    game_date,
    team_abbr,
    points,
    fg_made AS field_goals_made,
    fg_attempted AS field_goals_attempted,
    three_pt_made AS three_pointers_made,
    three_pt_attempted AS three_pointers_attempted,
    ft_made AS free_throws_made,
    ft_attempted AS free_throws_attempted,
    offensive_rebounds,
    defensive_rebounds,
    assists,
    steals,
    blocks,
    turnovers,
    personal_fouls,
    SAFE_CAST(SPLIT(TRIM(minutes), ':')[SAFE_OFFSET(0)] AS INT64) AS minutes
  FROM nba_raw.nbac_team_boxscore
  WHERE game_date BETWEEN @start_date AND @end_date
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_id, team_abbr
    ORDER BY processed_at DESC, points DESC
  ) = 1
),

-- Field-goal attempts of the event-level play-by-play (shot_type 2PT / 3PT; free throws and
-- other events are not shots), one row per (game_id, event_id). Zones as production's shot-zone
-- analyzer classifies them: 3PT = three, 2PT within 8 ft = paint, farther = mid_range.
-- player_1 is the shooter; player_2 the assister of a made shot and player_3 the blocker of a
-- missed one (NBA.com's play-by-play convention).
pbp AS (
  SELECT
    game_id,
    player_1_team_abbr AS team_abbr,
    player_1_lookup AS player_lookup,
    CASE
      WHEN shot_type = '3PT' THEN 'three'
      WHEN shot_distance <= 8.0 THEN 'paint'
      WHEN shot_distance > 8.0 THEN 'mid_range'
    END AS shot_zone,
    COALESCE(shot_made, FALSE) AS shot_made,
    COALESCE(shot_made AND player_2_lookup IS NOT NULL, FALSE) AS assisted,
    COALESCE(NOT shot_made AND player_3_lookup IS NOT NULL, FALSE) AS blocked
  FROM nba_raw.nbac_play_by_play
  WHERE game_date BETWEEN @start_date AND @end_date
    AND shot_type IN ('2PT', '3PT')
  QUALIFY ROW_NUMBER() OVER (PARTITION BY game_id, event_id ORDER BY processed_at DESC) = 1
),

pbp_games AS (
  SELECT DISTINCT game_id
  FROM pbp
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
  FROM pbp
  GROUP BY game_id, team_abbr
),

offense AS (
  SELECT
    g.game_id,
    g.game_date,
    g.season_year,
    b.team_abbr,
    IF(b.team_abbr = g.home_team_abbr, g.away_team_abbr, g.home_team_abbr) AS opponent_team_abbr,
    b.team_abbr = g.home_team_abbr AS home_game,
    b.points,
    o.points AS opponent_points,
    b.field_goals_made,
    b.field_goals_attempted,
    b.three_pointers_made,
    b.three_pointers_attempted,
    b.free_throws_made,
    b.free_throws_attempted,
    b.offensive_rebounds,
    b.defensive_rebounds,
    b.assists,
    b.turnovers,
    b.personal_fouls,
    b.minutes,
    b.field_goals_attempted + 0.44 * b.free_throws_attempted + b.turnovers
      - b.offensive_rebounds AS possessions,
    pg.game_id IS NOT NULL AS has_pbp,
    z.paint_attempts,
    z.paint_makes,
    z.mid_range_attempts,
    z.mid_range_makes,
    z.three_zone_attempts,
    z.three_zone_makes
  FROM games AS g
  INNER JOIN box AS b
    ON b.game_id = g.game_id
    AND b.game_date = g.game_date
    AND b.team_abbr IN (g.home_team_abbr, g.away_team_abbr)
  -- win_flag is REQUIRED in production: a team row needs its opponent's box score.
  INNER JOIN box AS o
    ON o.game_id = b.game_id
    AND o.game_date = b.game_date
    AND o.team_abbr = IF(b.team_abbr = g.home_team_abbr, g.away_team_abbr, g.home_team_abbr)
  LEFT JOIN pbp_games AS pg
    ON pg.game_id = g.game_id
  LEFT JOIN zones AS z
    ON z.game_id = g.game_id
    AND z.team_abbr = b.team_abbr
  -- win_flag is REQUIRED: a team row is not written when its or its opponent's points are unknown
  -- (the date stays incomplete and is planned again).
  WHERE b.points IS NOT NULL AND o.points IS NOT NULL
  -- One row per key even if a source holds duplicates (deterministic: lowest game_id wins).
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY g.game_date, b.team_abbr
    ORDER BY g.game_id, b.points DESC, o.points DESC
  ) = 1
)

SELECT
  CAST(game_id AS STRING) AS game_id,
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
  CAST(has_pbp AS BOOL) AS shot_zones_available
FROM offense
