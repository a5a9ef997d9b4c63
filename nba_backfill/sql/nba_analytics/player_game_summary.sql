-- nba_analytics.player_game_summary
-- One row = one player in one final game (key: game_date, player_lookup): the gamebook's
-- 'active' and 'dnp' players (inactive excluded) of the schedule's games on
-- [@start_date, @end_date]. DNP rows have minutes_played 0 and zero stats.
--   minutes_played = "MM:SS" parsed as MM + SS/60 (or a plain number of minutes), rounded
--                    to 1 decimal. A value that does not parse (NULL, "", "-", seconds
--                    >= 60, "1:2:3", …) is NULL for an active player, never 0: production's
--                    _parse_minutes_to_decimal returns None; the unparsed_minutes audit
--                    reports those rows.
--   usage_rate     = 100 * (FGA + 0.44*FTA + TOV) * 48
--                    / (minutes_played * (team FGA + 0.44*team FTA + team TOV)),
--                    team totals from team_offense_game_summary; NULL when the team row is
--                    missing, minutes_played is 0 or NULL, or the result exceeds 100
--   ts_pct  = PTS / (2 * (FGA + 0.44*FTA));  efg_pct = (FGM + 0.5*3PM) / FGA (NULL on 0 shots)
--   starter_flag = minutes_played > 20 (FALSE when minutes_played is NULL: REQUIRED)
--   points_line = the current line: the latest snapshot, ties broken by the alphabetically
--   first bookmaker. over_under_result = 'OVER' when points >= line else 'UNDER', and
--   margin = points - line; both NULL without a line, and NULL for players who did not
--   play (minutes_played = 0): sportsbooks void those bets, so they are not outcomes.
-- Zone columns come from the play-by-play: NULL when the game has none (partial history).
-- win_flag: the team's gamebook points beat the opponent's. is_active / is_dnp from the status.
-- Follows data_processors/analytics/player_game_summary/player_game_summary_processor.py of
-- the platform (formulas, columns; margin = points - line as production names it).
WITH gamebook AS (
  SELECT
    *,
    LOWER(player_status) AS status,
    SPLIT(REPLACE(TRIM(minutes), ' ', ''), ':') AS minute_parts,
    REPLACE(TRIM(minutes), ' ', '') AS minutes_text
  FROM nba_raw.nbac_gamebook_player_stats
  WHERE game_date BETWEEN @start_date AND @end_date
    AND player_lookup IS NOT NULL  -- the key is REQUIRED in production's output
    AND LOWER(player_status) IN ('active', 'dnp')
  -- One row per (game_id, player_lookup): the latest load wins, as in production's processor.
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_id, player_lookup
    ORDER BY processed_at DESC NULLS LAST, minutes DESC, team_abbr, player_status
  ) = 1
),

players AS (
  SELECT
    g.game_id,
    g.game_date,
    g.season_year,
    p.player_lookup,
    p.player_name,
    p.team_abbr,
    IF(p.team_abbr = g.home_team_abbr, g.away_team_abbr, g.home_team_abbr) AS opponent_team_abbr,
    p.team_abbr = g.home_team_abbr AS home_game,
    p.status AS player_status,
    -- Tenths of a minute from whole seconds: the .5 cases are exact, so rounding (half away
    -- from zero) agrees across engines.
    -- "MM:SS" with seconds 0..59, or a plain number of minutes; anything else is NULL.
    IF(
      p.status = 'dnp',
      0,
      ROUND(
        IF(
          REGEXP_CONTAINS(p.minutes_text, r'^[0-9]+:[0-9]+$'),
          IF(
            SAFE_CAST(p.minute_parts[SAFE_OFFSET(1)] AS INT64) < 60,
            SAFE_CAST(p.minute_parts[SAFE_OFFSET(0)] AS INT64) * 60
            + SAFE_CAST(p.minute_parts[SAFE_OFFSET(1)] AS INT64),
            NULL
          ),
          SAFE_CAST(p.minutes_text AS FLOAT64) * 60
        ) / 6
      )
    ) / 10 AS minutes,
    IF(p.status = 'dnp', 0, COALESCE(p.points, 0)) AS points,
    IF(p.status = 'dnp', 0, COALESCE(p.field_goals_made, 0)) AS fg_makes,
    IF(p.status = 'dnp', 0, COALESCE(p.field_goals_attempted, 0)) AS fg_attempts,
    IF(p.status = 'dnp', 0, COALESCE(p.three_pointers_made, 0)) AS three_pt_makes,
    IF(p.status = 'dnp', 0, COALESCE(p.three_pointers_attempted, 0)) AS three_pt_attempts,
    IF(p.status = 'dnp', 0, COALESCE(p.free_throws_made, 0)) AS ft_makes,
    IF(p.status = 'dnp', 0, COALESCE(p.free_throws_attempted, 0)) AS ft_attempts,
    IF(p.status = 'dnp', 0, COALESCE(p.offensive_rebounds, 0)) AS offensive_rebounds,
    IF(p.status = 'dnp', 0, COALESCE(p.defensive_rebounds, 0)) AS defensive_rebounds,
    IF(p.status = 'dnp', 0, COALESCE(p.total_rebounds, 0)) AS total_rebounds,
    IF(p.status = 'dnp', 0, COALESCE(p.assists, 0)) AS assists,
    IF(p.status = 'dnp', 0, COALESCE(p.steals, 0)) AS steals,
    IF(p.status = 'dnp', 0, COALESCE(p.blocks, 0)) AS blocks,
    IF(p.status = 'dnp', 0, COALESCE(p.turnovers, 0)) AS turnovers,
    IF(p.status = 'dnp', 0, COALESCE(p.personal_fouls, 0)) AS personal_fouls,
    IF(p.status = 'dnp', 0, COALESCE(p.plus_minus, 0)) AS plus_minus
  FROM nba_backfill_views.games AS g
  INNER JOIN gamebook AS p
    ON p.game_id = g.game_id
    AND p.game_date = g.game_date
    AND p.team_abbr IN (g.home_team_abbr, g.away_team_abbr)
),

-- Each team's points in the game, summed from its gamebook rows: win_flag (REQUIRED) needs no
-- other table.
team_points AS (
  SELECT game_id, team_abbr, SUM(points) AS points
  FROM players
  GROUP BY game_id, team_abbr
),

team_totals AS (
  SELECT game_date, team_abbr, fg_attempts, ft_attempts, turnovers
  FROM nba_analytics.team_offense_game_summary
  WHERE game_date BETWEEN @start_date AND @end_date
),

pbp_games AS (
  SELECT DISTINCT game_id
  FROM nba_backfill_views.shots AS pbp
),

zones AS (
  SELECT
    game_id,
    player_lookup,
    COUNTIF(shot_zone = 'paint') AS paint_attempts,
    COUNTIF(shot_zone = 'paint' AND shot_made) AS paint_makes,
    COUNTIF(shot_zone = 'mid_range') AS mid_range_attempts,
    COUNTIF(shot_zone = 'mid_range' AND shot_made) AS mid_range_makes,
    COUNTIF(shot_zone = 'three') AS three_zone_attempts,
    COUNTIF(shot_zone = 'three' AND shot_made) AS three_zone_makes,
    COUNTIF(shot_made AND assisted) AS assisted_fg_makes,
    COUNTIF(shot_made AND NOT assisted) AS unassisted_fg_makes
  FROM nba_backfill_views.shots AS pbp
  GROUP BY game_id, player_lookup
),

joined AS (
  SELECT
    p.*,
    SAFE_DIVIDE(
      100 * (p.fg_attempts + 0.44 * p.ft_attempts + p.turnovers) * 48,
      p.minutes * (t.fg_attempts + 0.44 * t.ft_attempts + t.turnovers)
    ) AS raw_usage_rate,
    pg.game_id IS NOT NULL AS has_pbp,
    z.paint_attempts,
    z.paint_makes,
    z.mid_range_attempts,
    z.mid_range_makes,
    z.three_zone_attempts,
    z.three_zone_makes,
    z.assisted_fg_makes,
    z.unassisted_fg_makes,
    tp.points > op.points AS win_flag,
    l.points_line,
    p.minutes > 0 AND l.points_line IS NOT NULL AS graded
  FROM players AS p
  LEFT JOIN team_totals AS t
    ON t.game_date = p.game_date
    AND t.team_abbr = p.team_abbr
  LEFT JOIN pbp_games AS pg
    ON pg.game_id = p.game_id
  LEFT JOIN zones AS z
    ON z.game_id = p.game_id
    AND z.player_lookup = p.player_lookup
  LEFT JOIN nba_backfill_views.current_points_lines AS l
    ON l.game_date = p.game_date
    AND l.player_lookup = p.player_lookup
  LEFT JOIN team_points AS tp
    ON tp.game_id = p.game_id
    AND tp.team_abbr = p.team_abbr
  LEFT JOIN team_points AS op
    ON op.game_id = p.game_id
    AND op.team_abbr = p.opponent_team_abbr
  WHERE TRUE
  -- One row per key even if the gamebook lists a player twice: most minutes, then game_id.
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY p.game_date, p.player_lookup
    ORDER BY p.minutes DESC NULLS LAST, p.game_id, p.team_abbr, p.player_status
  ) = 1
)

SELECT
  CAST(game_id AS STRING) AS game_id,
  CAST(game_date AS DATE) AS game_date,
  CAST(season_year AS INT64) AS season_year,
  CAST(player_lookup AS STRING) AS player_lookup,
  CAST(player_name AS STRING) AS player_full_name,
  CAST(team_abbr AS STRING) AS team_abbr,
  CAST(opponent_team_abbr AS STRING) AS opponent_team_abbr,
  CAST(player_status AS STRING) AS player_status,
  CAST(player_status = 'active' AS BOOL) AS is_active,
  CAST(player_status = 'dnp' AS BOOL) AS is_dnp,
  CAST(COALESCE(win_flag, FALSE) AS BOOL) AS win_flag,
  CAST(minutes AS NUMERIC(5, 1)) AS minutes_played,
  CAST(points AS INT64) AS points,
  CAST(fg_makes AS INT64) AS fg_makes,
  CAST(fg_attempts AS INT64) AS fg_attempts,
  CAST(three_pt_makes AS INT64) AS three_pt_makes,
  CAST(three_pt_attempts AS INT64) AS three_pt_attempts,
  CAST(ft_makes AS INT64) AS ft_makes,
  CAST(ft_attempts AS INT64) AS ft_attempts,
  CAST(offensive_rebounds AS INT64) AS offensive_rebounds,
  CAST(defensive_rebounds AS INT64) AS defensive_rebounds,
  CAST(assists AS INT64) AS assists,
  CAST(steals AS INT64) AS steals,
  CAST(blocks AS INT64) AS blocks,
  CAST(turnovers AS INT64) AS turnovers,
  CAST(personal_fouls AS INT64) AS personal_fouls,
  CAST(plus_minus AS INT64) AS plus_minus,
  CAST(IF(raw_usage_rate > 100, NULL, raw_usage_rate) AS FLOAT64) AS usage_rate,
  CAST(SAFE_DIVIDE(points, 2 * (fg_attempts + 0.44 * ft_attempts)) AS FLOAT64) AS ts_pct,
  CAST(SAFE_DIVIDE(fg_makes + 0.5 * three_pt_makes, fg_attempts) AS FLOAT64) AS efg_pct,
  CAST(COALESCE(minutes > 20, FALSE) AS BOOL) AS starter_flag,
  CAST(has_pbp AS BOOL) AS has_complete_shot_zones,
  CAST(IF(has_pbp, COALESCE(paint_attempts, 0), NULL) AS INT64) AS paint_attempts,
  CAST(IF(has_pbp, COALESCE(paint_makes, 0), NULL) AS INT64) AS paint_makes,
  CAST(IF(has_pbp, COALESCE(mid_range_attempts, 0), NULL) AS INT64) AS mid_range_attempts,
  CAST(IF(has_pbp, COALESCE(mid_range_makes, 0), NULL) AS INT64) AS mid_range_makes,
  CAST(IF(has_pbp, COALESCE(three_zone_attempts, 0), NULL) AS INT64) AS three_attempts_pbp,
  CAST(IF(has_pbp, COALESCE(three_zone_makes, 0), NULL) AS INT64) AS three_makes_pbp,
  CAST(IF(has_pbp, COALESCE(assisted_fg_makes, 0), NULL) AS INT64) AS assisted_fg_makes,
  CAST(IF(has_pbp, COALESCE(unassisted_fg_makes, 0), NULL) AS INT64) AS unassisted_fg_makes,
  CAST(points_line AS FLOAT64) AS points_line,
  CAST(IF(graded, IF(points >= points_line, 'OVER', 'UNDER'), NULL) AS STRING)
    AS over_under_result,
  CAST(IF(graded, points - points_line, NULL) AS FLOAT64) AS margin
FROM joined
