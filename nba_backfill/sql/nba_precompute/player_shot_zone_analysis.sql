-- nba_precompute.player_shot_zone_analysis
-- One row = one player with a game on analysis_date (a non-bootstrap game date; the player list
-- is upcoming_player_game_context of that date): where he shot from in his last 10 and last 20
-- games played (minutes > 0) strictly before the date, same season, at most 90 days back.
-- Rates are percent of his field-goal attempts by zone (production's unit); pcts are makes /
-- attempts; attempts per game over the last 10. Follows data_processors/precompute/
-- player_shot_zone_analysis/player_shot_zone_analysis_processor.py of the platform.
-- Players with fewer games than the minimum get no row: the minimum ramps from 3 games on the
-- first non-bootstrap day (day 14) to 10 three weeks later (LEAST(10, 3 + (day - 14) DIV 3)).
-- Counting from the opener instead would ask ~8 games on days 15-16, which many teams have not
-- played yet: those dates would have no rows at all and stay unfillable.
-- Per column group, the processor path it follows (player_shot_zone_analysis_processor.py):
--   zone rates / pcts / attempts per game, primary zone: _calculate_zone_metrics_static
--   assisted_rate_last_10 / unassisted_rate_last_10: Σ assisted (unassisted) FGM / Σ FGM of the
--     last 10 × 100, NULL unless every zone has data in the sample (a non-NULL attempts count
--     in some game), he took a shot and made one: _calculate_zone_metrics_static
--   sample_quality_10 / _20: excellent at the window (10 / 20 games), good >= 70 % of it, limited
--     >= 50 %, else insufficient: _determine_sample_quality_static
--   data_quality_tier: high at production's minimum games (LEAST(3 + day DIV 3, 9) on days
--     0..21 of the season, then 10), medium >= 7, else low (_determine_quality_tier_static with
--     _get_dynamic_min_games); early_season_flag: that minimum below 10, i.e. day <= 21;
--     player_position, calculation_notes, insufficient_data_reason: NULL, as the processor
--     writes them (_process_single_player_worker)
--   completeness and circuit breaker: the processor in backfill mode (its backfill jobs), which
--     skips the checker: expected = actual = his games loaded (the last 20), 100 %, none
--     missing, production-ready, no issues; no circuit breaker (0 attempts, inactive, NULL
--     times), not bootstrap, no season boundary, 'processed_successfully'
--     (calculate_precompute)
WITH analysis_days AS (
  -- Dates past the season's bootstrap (nba_backfill/views/analysis_days.sql).
  SELECT
    game_date AS analysis_date,
    season_year,
    -- FLOOR, not DIV: sqlglot drops the parentheses of DIV(a - b, c) when writing DuckDB.
    LEAST(10, 3 + CAST(FLOOR((days_since_opener - 14) / 3) AS INT64)) AS min_games,
    -- production's own minimum (_get_dynamic_min_games), for the quality tier and flag
    IF(
      days_since_opener <= 21, LEAST(3 + CAST(FLOOR(days_since_opener / 3) AS INT64), 9), 10
    ) AS production_min_games
  FROM nba_backfill_views.analysis_days
),
players AS (
  SELECT
    u.game_date AS analysis_date,
    u.player_lookup,
    u.team_abbr,
    d.season_year,
    d.min_games,
    d.production_min_games
  FROM nba_analytics.upcoming_player_game_context AS u
  JOIN analysis_days AS d ON d.analysis_date = u.game_date
  WHERE u.game_date BETWEEN @start_date AND @end_date
),
history AS (
  SELECT
    p.analysis_date,
    p.player_lookup,
    COALESCE(g.paint_attempts, 0) AS paint_att,
    COALESCE(g.paint_makes, 0) AS paint_made,
    COALESCE(g.mid_range_attempts, 0) AS mid_att,
    COALESCE(g.mid_range_makes, 0) AS mid_made,
    COALESCE(g.three_attempts_pbp, 0) AS three_att,
    COALESCE(g.three_makes_pbp, 0) AS three_made,
    -- a zone has data in a game when its attempts count is there (production's notna)
    g.paint_attempts IS NOT NULL AS has_paint,
    g.mid_range_attempts IS NOT NULL AS has_mid,
    g.three_attempts_pbp IS NOT NULL AS has_three,
    COALESCE(g.fg_makes, 0) AS fg_made,
    COALESCE(g.assisted_fg_makes, 0) AS assisted_made,
    COALESCE(g.unassisted_fg_makes, 0) AS unassisted_made,
    ROW_NUMBER() OVER (
      PARTITION BY p.analysis_date, p.player_lookup ORDER BY g.game_date DESC
    ) AS rn
  FROM players AS p
  JOIN nba_analytics.player_game_summary AS g
    ON g.player_lookup = p.player_lookup
    AND g.season_year = p.season_year
    AND g.game_date BETWEEN DATE_SUB(p.analysis_date, INTERVAL 90 DAY)
      AND DATE_SUB(p.analysis_date, INTERVAL 1 DAY)
  WHERE g.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 90 DAY)
    AND DATE_SUB(@end_date, INTERVAL 1 DAY)
    AND g.minutes_played > 0
),
windows AS (
  SELECT
    analysis_date,
    player_lookup,
    COUNTIF(rn <= 10) AS games_10,
    COUNT(*) AS games_20,
    SUM(IF(rn <= 10, paint_att, 0)) AS paint_att_10,
    SUM(IF(rn <= 10, paint_made, 0)) AS paint_made_10,
    SUM(IF(rn <= 10, mid_att, 0)) AS mid_att_10,
    SUM(IF(rn <= 10, mid_made, 0)) AS mid_made_10,
    SUM(IF(rn <= 10, three_att, 0)) AS three_att_10,
    SUM(IF(rn <= 10, three_made, 0)) AS three_made_10,
    SUM(paint_att) AS paint_att_20,
    SUM(paint_made) AS paint_made_20,
    SUM(mid_att) AS mid_att_20,
    SUM(three_att) AS three_att_20,
    COUNTIF(rn <= 10 AND has_paint) > 0 AND COUNTIF(rn <= 10 AND has_mid) > 0
      AND COUNTIF(rn <= 10 AND has_three) > 0 AS zones_complete_10,
    SUM(IF(rn <= 10, fg_made, 0)) AS fg_made_10,
    SUM(IF(rn <= 10, assisted_made, 0)) AS assisted_made_10,
    SUM(IF(rn <= 10, unassisted_made, 0)) AS unassisted_made_10
  FROM history
  WHERE rn <= 20
  GROUP BY analysis_date, player_lookup
),
rates AS (
  SELECT
    p.analysis_date,
    p.player_lookup,
    w.games_10,
    w.games_20,
    w.paint_att_10 + w.mid_att_10 + w.three_att_10 AS shots_10,
    SAFE_DIVIDE(w.paint_att_10, w.paint_att_10 + w.mid_att_10 + w.three_att_10) AS paint_rate_10,
    SAFE_DIVIDE(w.mid_att_10, w.paint_att_10 + w.mid_att_10 + w.three_att_10) AS mid_rate_10,
    SAFE_DIVIDE(w.three_att_10, w.paint_att_10 + w.mid_att_10 + w.three_att_10) AS three_rate_10,
    SAFE_DIVIDE(w.paint_made_10, w.paint_att_10) AS paint_pct_10,
    SAFE_DIVIDE(w.mid_made_10, w.mid_att_10) AS mid_pct_10,
    SAFE_DIVIDE(w.three_made_10, w.three_att_10) AS three_pct_10,
    SAFE_DIVIDE(w.paint_att_20, w.paint_att_20 + w.mid_att_20 + w.three_att_20) AS paint_rate_20,
    SAFE_DIVIDE(w.paint_made_20, w.paint_att_20) AS paint_pct_20,
    SAFE_DIVIDE(w.paint_att_10, w.games_10) AS paint_apg_10,
    SAFE_DIVIDE(w.mid_att_10, w.games_10) AS mid_apg_10,
    SAFE_DIVIDE(w.three_att_10, w.games_10) AS three_apg_10,
    IF(
      w.zones_complete_10 AND w.paint_att_10 + w.mid_att_10 + w.three_att_10 > 0,
      SAFE_DIVIDE(100 * w.assisted_made_10, w.fg_made_10),
      NULL
    ) AS assisted_rate_10,
    IF(
      w.zones_complete_10 AND w.paint_att_10 + w.mid_att_10 + w.three_att_10 > 0,
      SAFE_DIVIDE(100 * w.unassisted_made_10, w.fg_made_10),
      NULL
    ) AS unassisted_rate_10,
    p.production_min_games
  FROM players AS p
  JOIN windows AS w ON w.analysis_date = p.analysis_date AND w.player_lookup = p.player_lookup
  WHERE w.games_10 >= p.min_games
)
SELECT
  CAST(analysis_date AS DATE) AS analysis_date,
  CAST(player_lookup AS STRING) AS player_lookup,
  CAST(games_10 AS INT64) AS games_in_sample_10,
  CAST(games_20 AS INT64) AS games_in_sample_20,
  CAST(shots_10 AS INT64) AS total_shots_last_10,  -- field-goal attempts, all zones
  -- rates in percent of his attempts (production's unit), pcts as fractions
  CAST(100 * paint_rate_10 AS FLOAT64) AS paint_rate_last_10,
  CAST(100 * mid_rate_10 AS FLOAT64) AS mid_range_rate_last_10,
  CAST(100 * three_rate_10 AS FLOAT64) AS three_pt_rate_last_10,
  CAST(paint_pct_10 AS FLOAT64) AS paint_pct_last_10,
  CAST(mid_pct_10 AS FLOAT64) AS mid_range_pct_last_10,
  CAST(three_pct_10 AS FLOAT64) AS three_pt_pct_last_10,
  CAST(paint_apg_10 AS FLOAT64) AS paint_attempts_per_game,
  CAST(mid_apg_10 AS FLOAT64) AS mid_range_attempts_per_game,
  CAST(three_apg_10 AS FLOAT64) AS three_pt_attempts_per_game,
  CAST(100 * paint_rate_20 AS FLOAT64) AS paint_rate_last_20,
  CAST(paint_pct_20 AS FLOAT64) AS paint_pct_last_20,
  -- zone with the largest share of attempts in the last 10 (ties: paint, mid_range, three);
  -- NULL when he took no shot
  CAST(
    CASE
      WHEN shots_10 = 0 THEN NULL
      WHEN paint_rate_10 >= mid_rate_10 AND paint_rate_10 >= three_rate_10 THEN 'paint'
      WHEN mid_rate_10 >= three_rate_10 THEN 'mid_range'
      ELSE 'three'
    END AS STRING
  ) AS primary_scoring_zone,
  CAST(assisted_rate_10 AS FLOAT64) AS assisted_rate_last_10,
  CAST(unassisted_rate_10 AS FLOAT64) AS unassisted_rate_last_10,
  CAST(
    CASE
      WHEN games_10 >= 10 THEN 'excellent'
      WHEN games_10 >= 7 THEN 'good'
      WHEN games_10 >= 5 THEN 'limited'
      ELSE 'insufficient'
    END AS STRING
  ) AS sample_quality_10,
  CAST(
    CASE
      WHEN games_20 >= 20 THEN 'excellent'
      WHEN games_20 >= 14 THEN 'good'
      WHEN games_20 >= 10 THEN 'limited'
      ELSE 'insufficient'
    END AS STRING
  ) AS sample_quality_20,
  CAST(
    CASE
      WHEN games_10 >= production_min_games THEN 'high'
      WHEN games_10 >= 7 THEN 'medium'
      ELSE 'low'
    END AS STRING
  ) AS data_quality_tier,
  CAST(production_min_games < 10 AS BOOL) AS early_season_flag,
  CAST(NULL AS STRING) AS player_position,
  CAST(NULL AS STRING) AS calculation_notes,
  CAST(NULL AS STRING) AS insufficient_data_reason,
  -- backfill mode's completeness stub and circuit breaker (header)
  CAST(games_20 AS INT64) AS expected_games_count,
  CAST(games_20 AS INT64) AS actual_games_count,
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
FROM rates
