-- nba_precompute.team_defense_zone_analysis
-- One row = one team playing on analysis_date (a non-bootstrap game date): what its defense
-- allowed by shot zone over its last 15 games strictly before that date (same season, at most 60
-- days back), each compared with the league: all teams' last-15 samples of the same date pooled.
-- "vs_league_avg" columns are team minus league in percentage points: positive = the defense
-- allows more than average. Follows data_processors/precompute/team_defense_zone_analysis/
-- team_defense_zone_analysis_processor.py of the platform (units, columns).
-- Teams without a prior game this season get no row. Nothing is written on bootstrap days
-- (opener + 0..13, opener = the season's first game date in the schedule).
-- Per column group, the processor path it follows (team_defense_zone_analysis_processor.py):
--   zone pcts / attempts / vs league, defensive rating, pace, strongest / weakest:
--     _calculate_zone_defense, _identify_strengths_weaknesses
--   opponent_points_per_game (Σ points_allowed / games), *_blocks_per_game (Σ blocks_<zone> /
--     games; a game without play-by-play adds 0, as pandas' sum skips NULL): _calculate_zone_defense
--   data_quality_tier (high >= 15 games, medium >= 10, low), calculation_notes ('No paint
--     attempts; No mid-range attempts; No three-point attempts' for the zones without an
--     attempt, NULL when none): _determine_quality_tier, _calculate_zone_defense
--   early_season_flag / insufficient_data_reason: NULL, as the processor's regular rows leave
--     them (it sets them only on its early-season placeholder rows, written on bootstrap days,
--     where nothing is written here)
--   completeness and circuit breaker: the processor in backfill mode (its backfill jobs), which
--     skips the checker: expected = actual = 15 (min_games_required), 100 %, none missing,
--     production-ready, no issues; no circuit breaker (0 attempts, inactive, NULL times), not
--     bootstrap, no season boundary, 'processed_successfully' (calculate_precompute,
--     _process_single_team)
WITH analysis_days AS (
  -- Dates past the season's bootstrap (nba_backfill/views/analysis_days.sql).
  SELECT game_date AS analysis_date, season_year
  FROM nba_backfill_views.analysis_days
),
history AS (
  -- Every team's games before each analysis date, newest first (all teams, not only the ones
  -- playing: the league average needs them all).
  SELECT
    d.analysis_date,
    t.defending_team_abbr AS team_abbr,
    t.opp_paint_attempts,
    t.opp_paint_makes,
    t.opp_mid_range_attempts,
    t.opp_mid_range_makes,
    t.opp_three_pt_attempts,
    t.opp_three_pt_makes,
    t.defensive_rating,
    t.opponent_pace,
    t.points_allowed,
    t.blocks_paint,
    t.blocks_mid_range,
    t.blocks_three_pt,
    ROW_NUMBER() OVER (
      PARTITION BY d.analysis_date, t.defending_team_abbr ORDER BY t.game_date DESC
    ) AS rn
  FROM analysis_days AS d
  JOIN nba_analytics.team_defense_game_summary AS t
    ON t.season_year = d.season_year
    AND t.game_date BETWEEN DATE_SUB(d.analysis_date, INTERVAL 60 DAY)
      AND DATE_SUB(d.analysis_date, INTERVAL 1 DAY)
  WHERE t.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 60 DAY)
    AND DATE_SUB(@end_date, INTERVAL 1 DAY)
),
team_window AS (
  SELECT
    analysis_date,
    team_abbr,
    COUNT(*) AS games,
    SUM(opp_paint_attempts) AS paint_att,
    SUM(opp_paint_makes) AS paint_made,
    COUNT(opp_paint_attempts) AS paint_games,
    SUM(opp_mid_range_attempts) AS mid_att,
    SUM(opp_mid_range_makes) AS mid_made,
    COUNT(opp_mid_range_attempts) AS mid_games,
    SUM(opp_three_pt_attempts) AS three_att,
    SUM(opp_three_pt_makes) AS three_made,
    COUNT(opp_three_pt_attempts) AS three_games,
    AVG(CAST(defensive_rating AS NUMERIC(38, 9))) AS defensive_rating,
    SUM(CAST(opponent_pace AS NUMERIC(38, 9))) AS pace_sum,
    COUNT(opponent_pace) AS pace_games,
    COALESCE(SUM(points_allowed), 0) AS points_allowed,
    COALESCE(SUM(blocks_paint), 0) AS paint_blocks,
    COALESCE(SUM(blocks_mid_range), 0) AS mid_blocks,
    COALESCE(SUM(blocks_three_pt), 0) AS three_blocks
  FROM history
  WHERE rn <= 15
  GROUP BY analysis_date, team_abbr
),
team_rates AS (
  SELECT
    analysis_date,
    team_abbr,
    games,
    defensive_rating,
    SAFE_DIVIDE(paint_made, paint_att) AS paint_pct,
    SAFE_DIVIDE(mid_made, mid_att) AS mid_pct,
    SAFE_DIVIDE(three_made, three_att) AS three_pct,
    SAFE_DIVIDE(paint_att, paint_games) AS paint_apg,
    SAFE_DIVIDE(mid_att, mid_games) AS mid_apg,
    SAFE_DIVIDE(three_att, three_games) AS three_apg,
    SAFE_DIVIDE(pace_sum, pace_games) AS pace,
    SAFE_DIVIDE(points_allowed, games) AS points_pg,
    SAFE_DIVIDE(paint_blocks, games) AS paint_blocks_pg,
    SAFE_DIVIDE(mid_blocks, games) AS mid_blocks_pg,
    SAFE_DIVIDE(three_blocks, games) AS three_blocks_pg,
    -- the processor's notes: zones without an attempt in the sample
    NULLIF(
      ARRAY_TO_STRING(
        [
          IF(COALESCE(paint_att, 0) = 0, 'No paint attempts', NULL),
          IF(COALESCE(mid_att, 0) = 0, 'No mid-range attempts', NULL),
          IF(COALESCE(three_att, 0) = 0, 'No three-point attempts', NULL)
        ],
        '; '
      ),
      ''
    ) AS notes
  FROM team_window
),
league AS (
  -- Pooled over every team's last-15 sample on the date (game-weighted).
  SELECT
    analysis_date,
    SAFE_DIVIDE(SUM(paint_made), SUM(paint_att)) AS paint_pct,
    SAFE_DIVIDE(SUM(mid_made), SUM(mid_att)) AS mid_pct,
    SAFE_DIVIDE(SUM(three_made), SUM(three_att)) AS three_pct,
    SAFE_DIVIDE(SUM(paint_att), SUM(paint_games)) AS paint_apg,
    SAFE_DIVIDE(SUM(mid_att), SUM(mid_games)) AS mid_apg,
    SAFE_DIVIDE(SUM(three_att), SUM(three_games)) AS three_apg,
    SAFE_DIVIDE(SUM(pace_sum), SUM(pace_games)) AS pace
  FROM team_window
  GROUP BY analysis_date
),
teams_today AS (
  SELECT u.game_date AS analysis_date, u.team_abbr
  FROM nba_analytics.upcoming_team_game_context AS u
  JOIN analysis_days AS d ON d.analysis_date = u.game_date
  WHERE u.game_date BETWEEN @start_date AND @end_date
),
compared AS (
  SELECT
    tt.analysis_date,
    tt.team_abbr,
    r.games,
    r.defensive_rating,
    r.pace,
    r.paint_pct,
    r.mid_pct,
    r.three_pct,
    r.paint_apg,
    r.mid_apg,
    r.three_apg,
    r.points_pg,
    r.paint_blocks_pg,
    r.mid_blocks_pg,
    r.three_blocks_pg,
    r.notes,
    r.paint_pct - l.paint_pct AS paint_vs,
    r.mid_pct - l.mid_pct AS mid_vs,
    r.three_pct - l.three_pct AS three_vs
  FROM teams_today AS tt
  JOIN team_rates AS r ON r.analysis_date = tt.analysis_date AND r.team_abbr = tt.team_abbr
  JOIN league AS l ON l.analysis_date = tt.analysis_date
)
SELECT
  CAST(analysis_date AS DATE) AS analysis_date,
  CAST(team_abbr AS STRING) AS team_abbr,
  CAST(games AS INT64) AS games_in_sample,  -- prior games used (at most 15)
  -- opponent field-goal % by zone (makes / attempts) over the sample
  CAST(paint_pct AS FLOAT64) AS paint_pct_allowed_last_15,
  CAST(mid_pct AS FLOAT64) AS mid_range_pct_allowed_last_15,
  CAST(three_pct AS FLOAT64) AS three_pt_pct_allowed_last_15,
  -- opponent attempts per game by zone
  CAST(paint_apg AS FLOAT64) AS paint_attempts_allowed_per_game,
  CAST(mid_apg AS FLOAT64) AS mid_range_attempts_allowed_per_game,
  CAST(three_apg AS FLOAT64) AS three_pt_attempts_allowed_per_game,
  -- team minus league in percentage points (production's unit: (pct - league pct) * 100)
  CAST(100 * paint_vs AS FLOAT64) AS paint_defense_vs_league_avg,
  CAST(100 * mid_vs AS FLOAT64) AS mid_range_defense_vs_league_avg,
  CAST(100 * three_vs AS FLOAT64) AS three_pt_defense_vs_league_avg,
  CAST(defensive_rating AS FLOAT64) AS defensive_rating_last_15,  -- mean per game
  CAST(pace AS FLOAT64) AS opponent_pace,  -- mean opponent possessions per game
  -- zone allowing the lowest / highest % relative to the league (ties: paint, mid_range, three)
  CAST(
    CASE
      WHEN paint_vs IS NULL AND mid_vs IS NULL AND three_vs IS NULL THEN NULL
      WHEN COALESCE(paint_vs, 99) <= COALESCE(mid_vs, 99)
        AND COALESCE(paint_vs, 99) <= COALESCE(three_vs, 99) THEN 'paint'
      WHEN COALESCE(mid_vs, 99) <= COALESCE(three_vs, 99) THEN 'mid_range'
      ELSE 'three'
    END AS STRING
  ) AS strongest_zone,
  CAST(
    CASE
      WHEN paint_vs IS NULL AND mid_vs IS NULL AND three_vs IS NULL THEN NULL
      WHEN COALESCE(paint_vs, -99) >= COALESCE(mid_vs, -99)
        AND COALESCE(paint_vs, -99) >= COALESCE(three_vs, -99) THEN 'paint'
      WHEN COALESCE(mid_vs, -99) >= COALESCE(three_vs, -99) THEN 'mid_range'
      ELSE 'three'
    END AS STRING
  ) AS weakest_zone,
  CAST(points_pg AS FLOAT64) AS opponent_points_per_game,
  CAST(paint_blocks_pg AS FLOAT64) AS paint_blocks_per_game,
  CAST(mid_blocks_pg AS FLOAT64) AS mid_range_blocks_per_game,
  CAST(three_blocks_pg AS FLOAT64) AS three_pt_blocks_per_game,
  CAST(CASE WHEN games >= 15 THEN 'high' WHEN games >= 10 THEN 'medium' ELSE 'low' END AS STRING)
    AS data_quality_tier,
  CAST(notes AS STRING) AS calculation_notes,
  CAST(NULL AS BOOL) AS early_season_flag,
  CAST(NULL AS STRING) AS insufficient_data_reason,
  -- backfill mode's completeness stub and circuit breaker (header)
  CAST(15 AS INT64) AS expected_games_count,
  CAST(15 AS INT64) AS actual_games_count,
  CAST(100.0 AS FLOAT64) AS completeness_percentage,
  CAST(0 AS INT64) AS missing_games_count,
  CAST(TRUE AS BOOL) AS is_production_ready,
  CAST([] AS ARRAY<STRING>) AS data_quality_issues,
  CAST(NULL AS TIMESTAMP) AS last_reprocess_attempt_at,
  CAST(0 AS INT64) AS reprocess_attempt_count,
  CAST(FALSE AS BOOL) AS circuit_breaker_active,
  CAST(NULL AS TIMESTAMP) AS circuit_breaker_until,
  CAST(FALSE AS BOOL) AS manual_override_required,
  CAST(FALSE AS BOOL) AS season_boundary_detected,
  CAST(FALSE AS BOOL) AS backfill_bootstrap_mode,
  CAST('processed_successfully' AS STRING) AS processing_decision_reason
FROM compared
