-- nba_precompute.player_composite_factors
-- One row = one player with a game on game_date (every upcoming_player_game_context row of a
-- non-bootstrap date): adjustment factors known before tip-off. Follows
-- data_processors/precompute/player_composite_factors/ of the platform (columns, ranges). The
-- four active scores below are this model's formulas from the inputs it has; production's
-- factors/*.py weigh other context columns (player_age, projected usage, pace differential).
--   fatigue_score 0..100 (100 = fully rested), stored rounded to an integer as production does:
--     100 - 20 on a back-to-back (days_rest = 1) - 5 after one day off (days_rest = 2)
--         - 5 per game beyond 2 in the last 7 days - 2 per game beyond 5 in the last 14 days
--         - 0.2 per minute beyond 80 in the last 7 days - 0.1 per minute beyond 180 in 14 days
--     (fatigue_score - 100) / 20, i.e. -5..0, is what enters the total (unrounded score).
--   shot_zone_mismatch_score -10..10: 200 x (player's share of shots in his primary zone, last 10)
--     x (opponent's % allowed in that zone minus the league's, last 15); positive = his zone is
--     where the opponent defends worse than the league. 0 when either side is missing.
--   pace_score -3..3: (opponent's mean opponent possessions, last 15, minus the mean of the
--     date's team_defense_zone_analysis rows) / 2.
--   usage_spike_score -3..3: 0.3 x (mean usage of his last 3 games - mean of his last 10), games
--     in the 30 days before the date with a usage rate; 0 with fewer than 5 such games.
--   total_composite_adjustment = fatigue part + mismatch + pace + usage spike (+ the deferred
--     factors' 0.0).
-- Every score is clamped to its range.
-- Per column group, the platform processor path it follows (player_composite_factors/):
--   universal_player_id: copied from the date's upcoming_player_game_context row
--     (_calculate_player_composite), NULL where that model does not fill it
--   referee_favorability / look_ahead_pressure / travel_impact / opponent_strength scores: 0.0,
--     production's deferred factors (factors/deferred_factors.py, calculation_version
--     'v1_4factors'); early_season_flag FALSE and insufficient_data_reason NULL: the processor's
--     early-season path (_is_early_season) is never called, the bootstrap dates have no rows
--   data_completeness_pct, missing_data_fields: _calculate_completeness: 5 checks (days_rest,
--     projected_usage_rate, pace_differential of the upcoming context row, the date's shot-zone
--     row, the opponent's zone-defense row), passed / 5 x 100 rounded to 1; the failed ones
--     joined with ', ', NULL when none
--   has_warnings, warning_details: _check_warnings: fatigue_score < 50, |mismatch| > 8,
--     |total| > 12, messages joined with '; ', NULL (has_warnings FALSE) when none
--   expected / actual / missing games, completeness_percentage, is_production_ready,
--     data_quality_issues, upstream_*_ready, all_upstreams_ready, season_boundary_detected,
--     backfill_bootstrap_mode: the processor in backfill mode (calculate_precompute and
--     _query_upstream_completeness under is_backfill_mode skip the checks: one game expected
--     and found (its shot-zone rows per player, one per date, else 1), 100 %, ready, every
--     upstream ready, no issues, no bootstrap or season boundary)
--   circuit breaker (_batch_check_circuit_breakers with no earlier attempt: count 0, inactive,
--     until / last attempt NULL), manual_override_required FALSE, processing_decision_reason
--     'processed_successfully': _calculate_player_composite's record
-- Inputs: same-date rows of both upcoming tables,
-- team_defense_zone_analysis and player_shot_zone_analysis; player_game_summary strictly before.
WITH analysis_days AS (
  -- Dates past the season's bootstrap (nba_backfill/views/analysis_days.sql).
  SELECT game_date
  FROM nba_backfill_views.analysis_days
),
team_context AS (
  SELECT game_date, team_abbr, opponent_team_abbr, days_since_last_game
  FROM nba_analytics.upcoming_team_game_context
  WHERE game_date BETWEEN @start_date AND @end_date
),
players AS (
  SELECT
    u.game_date,
    u.player_lookup,
    u.universal_player_id,
    u.team_abbr,
    u.game_id,
    COALESCE(u.opponent_team_abbr, tc.opponent_team_abbr) AS opponent_team_abbr,
    u.days_rest,
    u.projected_usage_rate,
    u.pace_differential,
    COALESCE(u.back_to_back, u.days_rest = 1, FALSE) AS back_to_back,
    COALESCE(u.games_in_last_7_days, 0) AS games_7,
    COALESCE(u.games_in_last_14_days, 0) AS games_14,
    COALESCE(u.minutes_in_last_7_days, 0) AS minutes_7,
    COALESCE(u.minutes_in_last_14_days, 0) AS minutes_14
  FROM nba_analytics.upcoming_player_game_context AS u
  JOIN analysis_days AS d ON d.game_date = u.game_date
  LEFT JOIN team_context AS tc ON tc.game_date = u.game_date AND tc.team_abbr = u.team_abbr
  WHERE u.game_date BETWEEN @start_date AND @end_date
),
zones AS (
  SELECT
    analysis_date,
    player_lookup,
    primary_scoring_zone,
    paint_rate_last_10,
    mid_range_rate_last_10,
    three_pt_rate_last_10
  FROM nba_precompute.player_shot_zone_analysis
  WHERE analysis_date BETWEEN @start_date AND @end_date
),
defense AS (
  SELECT
    analysis_date,
    team_abbr,
    paint_defense_vs_league_avg,
    mid_range_defense_vs_league_avg,
    three_pt_defense_vs_league_avg,
    -- Against the mean of the date's rows (production's table holds no league pace).
    opponent_pace - AVG(opponent_pace) OVER (PARTITION BY analysis_date)
      AS opponent_pace_vs_league_avg
  FROM nba_precompute.team_defense_zone_analysis
  WHERE analysis_date BETWEEN @start_date AND @end_date
),
usage_history AS (
  SELECT
    p.game_date,
    p.player_lookup,
    g.usage_rate,
    ROW_NUMBER() OVER (PARTITION BY p.game_date, p.player_lookup ORDER BY g.game_date DESC) AS rn
  FROM players AS p
  JOIN nba_analytics.player_game_summary AS g
    ON g.player_lookup = p.player_lookup
    AND g.game_date BETWEEN DATE_SUB(p.game_date, INTERVAL 30 DAY)
      AND DATE_SUB(p.game_date, INTERVAL 1 DAY)
  WHERE g.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 30 DAY)
    AND DATE_SUB(@end_date, INTERVAL 1 DAY)
    AND g.minutes_played > 0
    AND g.usage_rate IS NOT NULL
),
usage_form AS (
  SELECT
    game_date,
    player_lookup,
    COUNT(*) AS games,
    AVG(IF(rn <= 3, CAST(usage_rate AS NUMERIC(38, 9)), NULL)) AS usage_3,
    AVG(CAST(usage_rate AS NUMERIC(38, 9))) AS usage_10
  FROM usage_history
  WHERE rn <= 10
  GROUP BY game_date, player_lookup
),
raw_factors AS (
  SELECT
    p.game_date,
    p.player_lookup,
    p.universal_player_id,
    p.team_abbr,
    p.game_id,
    p.opponent_team_abbr,
    p.days_rest,
    p.back_to_back,
    p.projected_usage_rate,
    p.pace_differential,
    -- In tenths of a point, all integers (minutes are whole in upcoming_player_game_context):
    -- exact in every engine, so the integer score rounds the same everywhere.
    1000
      - (CASE WHEN p.back_to_back THEN 200 WHEN p.days_rest = 2 THEN 50 ELSE 0 END)
      - 50 * GREATEST(p.games_7 - 2, 0)
      - 20 * GREATEST(p.games_14 - 5, 0)
      - 2 * GREATEST(p.minutes_7 - 80, 0)
      - GREATEST(p.minutes_14 - 180, 0) AS fatigue_tenths,
    z.player_lookup IS NOT NULL AS has_shot_zone_data,
    df.team_abbr IS NOT NULL AS has_opponent_defense_data,
    z.primary_scoring_zone,
    -- Both inputs are in percent / percentage points (production's units): / 100 each.
    CASE z.primary_scoring_zone
      WHEN 'paint' THEN z.paint_rate_last_10 * df.paint_defense_vs_league_avg
      WHEN 'mid_range' THEN z.mid_range_rate_last_10 * df.mid_range_defense_vs_league_avg
      WHEN 'three' THEN z.three_pt_rate_last_10 * df.three_pt_defense_vs_league_avg
    END / 10000 AS zone_edge,
    df.opponent_pace_vs_league_avg AS pace_edge,
    COALESCE(uf.games, 0) AS usage_games,
    uf.usage_3,
    uf.usage_10
  FROM players AS p
  LEFT JOIN zones AS z
    ON z.analysis_date = p.game_date AND z.player_lookup = p.player_lookup
  LEFT JOIN defense AS df
    ON df.analysis_date = p.game_date AND df.team_abbr = p.opponent_team_abbr
  LEFT JOIN usage_form AS uf
    ON uf.game_date = p.game_date AND uf.player_lookup = p.player_lookup
),
factors AS (
  SELECT
    *,
    GREATEST(0, LEAST(1000, fatigue_tenths)) / 10 AS fatigue_score,
    GREATEST(-10.0, LEAST(10.0, COALESCE(200.0 * zone_edge, 0.0))) AS mismatch_score,
    GREATEST(-3.0, LEAST(3.0, COALESCE(pace_edge / 2.0, 0.0))) AS pace_score,
    IF(
      usage_games >= 5,
      GREATEST(-3.0, LEAST(3.0, COALESCE(0.3 * (usage_3 - usage_10), 0.0))),
      0.0
    ) AS usage_spike_score
  FROM raw_factors
),
checked AS (
  SELECT
    *,
    (fatigue_score - 100.0) / 20.0 + mismatch_score + pace_score + usage_spike_score AS total,
    -- production's _calculate_completeness: the checks that failed, in its order
    ARRAY_CONCAT(
      IF(days_rest IS NULL, ARRAY<STRING>['days_rest'], ARRAY<STRING>[]),
      IF(projected_usage_rate IS NULL, ARRAY<STRING>['projected_usage_rate'], ARRAY<STRING>[]),
      IF(pace_differential IS NULL, ARRAY<STRING>['pace_differential'], ARRAY<STRING>[]),
      IF(has_shot_zone_data, ARRAY<STRING>[], ARRAY<STRING>['player_shot_zone']),
      IF(has_opponent_defense_data, ARRAY<STRING>[], ARRAY<STRING>['team_defense_zone'])
    ) AS missing_checks
  FROM factors
),
warned AS (
  SELECT
    *,
    -- production's _check_warnings, on the stored (integer) fatigue score
    ARRAY_CONCAT(
      IF(
        ROUND(fatigue_score) < 50,
        ARRAY<STRING>['EXTREME_FATIGUE: Player showing severe fatigue'],
        ARRAY<STRING>[]
      ),
      IF(
        ABS(mismatch_score) > 8.0,
        ARRAY<STRING>['EXTREME_MATCHUP: Unusual zone mismatch'],
        ARRAY<STRING>[]
      ),
      IF(
        ABS(total) > 12.0,
        ARRAY<STRING>['EXTREME_ADJUSTMENT: Very large composite adjustment'],
        ARRAY<STRING>[]
      )
    ) AS warnings
  FROM checked
)
SELECT
  CAST(game_date AS DATE) AS game_date,
  CAST(game_date AS DATE) AS analysis_date,  -- a backfill analyses each date as of itself
  CAST(player_lookup AS STRING) AS player_lookup,
  -- the context row's registry id, as _calculate_player_composite copies it
  CAST(universal_player_id AS STRING) AS universal_player_id,
  CAST(game_id AS STRING) AS game_id,
  -- Production stores an integer score; the total uses the unrounded one.
  CAST(ROUND(fatigue_score) AS INT64) AS fatigue_score,
  CAST(mismatch_score AS FLOAT64) AS shot_zone_mismatch_score,
  CAST(pace_score AS FLOAT64) AS pace_score,
  CAST(usage_spike_score AS FLOAT64) AS usage_spike_score,
  -- production's deferred factors (v1_4factors): 0.0, and 0 in the total
  CAST(0.0 AS FLOAT64) AS referee_favorability_score,
  CAST(0.0 AS FLOAT64) AS look_ahead_pressure_score,
  CAST(0.0 AS FLOAT64) AS travel_impact_score,
  CAST(0.0 AS FLOAT64) AS opponent_strength_score,
  CAST(total AS FLOAT64) AS total_composite_adjustment,
  CAST('v1_4factors' AS STRING) AS calculation_version,
  CAST(FALSE AS BOOL) AS early_season_flag,
  CAST(NULL AS STRING) AS insufficient_data_reason,
  -- (5 - failed checks) / 5 x 100: a multiple of 20, exact
  CAST((5 - ARRAY_LENGTH(missing_checks)) * 20 AS FLOAT64) AS data_completeness_pct,
  CAST(NULLIF(ARRAY_TO_STRING(missing_checks, ', '), '') AS STRING) AS missing_data_fields,
  CAST(ARRAY_LENGTH(warnings) > 0 AS BOOL) AS has_warnings,
  CAST(NULLIF(ARRAY_TO_STRING(warnings, '; '), '') AS STRING) AS warning_details,
  -- the processor in backfill mode: checks skipped, stamped complete and ready
  CAST(1 AS INT64) AS expected_games_count,
  CAST(1 AS INT64) AS actual_games_count,
  CAST(100.0 AS FLOAT64) AS completeness_percentage,
  CAST(0 AS INT64) AS missing_games_count,
  CAST(TRUE AS BOOL) AS is_production_ready,
  CAST([] AS ARRAY<STRING>) AS data_quality_issues,
  CAST(TRUE AS BOOL) AS upstream_player_shot_ready,
  CAST(TRUE AS BOOL) AS upstream_team_defense_ready,
  CAST(TRUE AS BOOL) AS upstream_player_context_ready,
  CAST(TRUE AS BOOL) AS upstream_team_context_ready,
  CAST(TRUE AS BOOL) AS all_upstreams_ready,
  -- a first, successful processing: no earlier attempt in the circuit breaker's history
  CAST(NULL AS TIMESTAMP) AS last_reprocess_attempt_at,
  CAST(0 AS INT64) AS reprocess_attempt_count,
  CAST(FALSE AS BOOL) AS circuit_breaker_active,
  CAST(NULL AS TIMESTAMP) AS circuit_breaker_until,
  CAST(FALSE AS BOOL) AS manual_override_required,
  CAST(FALSE AS BOOL) AS season_boundary_detected,
  CAST(FALSE AS BOOL) AS backfill_bootstrap_mode,
  CAST('processed_successfully' AS STRING) AS processing_decision_reason
FROM warned
