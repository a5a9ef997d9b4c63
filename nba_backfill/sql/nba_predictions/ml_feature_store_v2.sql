-- nba_predictions.ml_feature_store_v2
-- One row = one player with a game on game_date (every upcoming_player_game_context row of a
-- non-bootstrap date): the model's feature vector, known before tip-off.
-- features[i] is named feature_names[i] (feature_version 'v2', 25 features, order fixed below).
-- An input that is NULL or has no source row takes the default after "->" (BigQuery arrays cannot
-- hold NULL); feature_quality_score = 100 x share of features taken from real inputs.
--  0 points_avg_last_5          player_daily_cache, else upcoming context        -> 10
--  1 points_avg_last_10         player_daily_cache, else upcoming context        -> 10
--  2 points_avg_season          player_daily_cache                               -> 10
--  3 points_std_last_10         player_daily_cache                               -> 5
--  4 games_in_last_7_days       upcoming context                                 -> 0
--  5 fatigue_score              player_composite_factors                         -> 100
--  6 shot_zone_mismatch_score   player_composite_factors (zone + defense data)   -> 0
--  7 pace_score                 player_composite_factors (opponent defense data) -> 0
--  8 usage_spike_score          player_composite_factors (>= 5 usage games)      -> 0
--  9 rest_advantage             upcoming player and team context (as production) -> 0
-- 10 minutes_avg_last_10        player_daily_cache                               -> 20
-- 11 usage_rate_last_10         player_daily_cache, else upcoming context        -> 20
-- 12 ts_pct_last_10             player_daily_cache                               -> 0.55
-- 13 opponent_def_rating        team_defense_zone_analysis of the opponent       -> 112
-- 14 opponent_pace              team_defense_zone_analysis of the opponent       -> 100
-- 15 home_away                  upcoming context (1 = home)                      -> 0
-- 16 back_to_back               upcoming context (1 = yes)                       -> 0
-- 17 days_rest                  upcoming context, capped at 7                    -> 7
-- 18 pct_paint                  player_shot_zone_analysis (share, last 10)       -> 0.40
-- 19 pct_mid_range              player_shot_zone_analysis                        -> 0.20
-- 20 pct_three                  player_shot_zone_analysis                        -> 0.40
-- 21 game_spread                upcoming context (lines are partial)             -> 0
-- 22 game_total                 upcoming context                                 -> 220
-- 23 team_pace                  player_daily_cache (team, last 10)               -> 100
-- 24 team_off_rating            player_daily_cache (team, last 10)               -> 112
-- is_training_ready = feature_quality_score >= 80. It deliberately does not look at whether the
-- player then played (that is the label, joined at training time): no same-date outcome leaks in.
WITH season_openers AS (
  -- Each season's first regular-season game date (nba_backfill/views/season_openers.sql: the
  -- schedule read 366 days back, longer than a season, so every date's season is in view).
  SELECT season_year, opener_date
  FROM nba_backfill_views.season_openers
),
analysis_days AS (
  SELECT DISTINCT s.game_date
  FROM nba_backfill_views.expected_games AS s
  JOIN season_openers AS o ON o.season_year = s.season_year
  WHERE s.game_date BETWEEN @start_date AND @end_date
    AND DATE_DIFF(s.game_date, o.opener_date, DAY) >= 14
),
players AS (
  SELECT u.*
  FROM nba_analytics.upcoming_player_game_context AS u
  JOIN analysis_days AS d ON d.game_date = u.game_date
  WHERE u.game_date BETWEEN @start_date AND @end_date
),
cache AS (
  SELECT *
  FROM nba_precompute.player_daily_cache
  WHERE cache_date BETWEEN @start_date AND @end_date
),
factors AS (
  SELECT *
  FROM nba_precompute.player_composite_factors
  WHERE game_date BETWEEN @start_date AND @end_date
),
zones AS (
  SELECT *
  FROM nba_precompute.player_shot_zone_analysis
  WHERE analysis_date BETWEEN @start_date AND @end_date
),
defense AS (
  SELECT *
  FROM nba_precompute.team_defense_zone_analysis
  WHERE analysis_date BETWEEN @start_date AND @end_date
),
team_context AS (
  SELECT game_date, team_abbr, days_since_last_game
  FROM nba_analytics.upcoming_team_game_context
  WHERE game_date BETWEEN @start_date AND @end_date
),
raw_features AS (
  -- Each feature from its source; NULL = no real input (the default applies below).
  SELECT
    p.game_date,
    p.player_lookup,
    p.team_abbr,
    p.game_id,
    p.opponent_team_abbr,
    -- Features read from a Phase 4 row (production's quality scorer counts them per source):
    -- 9 from player_daily_cache, 4 from player_composite_factors, 2 from the opponent's
    -- team_defense_zone_analysis, 3 from player_shot_zone_analysis.
    IF(c.player_lookup IS NULL, 0, 9) + IF(f.player_lookup IS NULL, 0, 4)
      + IF(df.team_abbr IS NULL, 0, 2) + IF(z.player_lookup IS NULL, 0, 3) AS phase4_inputs,
    CAST(COALESCE(c.points_avg_last_5, p.points_avg_last_5) AS FLOAT64) AS f00,
    CAST(COALESCE(c.points_avg_last_10, p.points_avg_last_10) AS FLOAT64) AS f01,
    CAST(c.points_avg_season AS FLOAT64) AS f02,
    CAST(c.points_std_last_10 AS FLOAT64) AS f03,
    CAST(p.games_in_last_7_days AS FLOAT64) AS f04,
    CAST(f.fatigue_score AS FLOAT64) AS f05,
    -- A composite score that fell back to its default is not a real input.
    CAST(IF(STRPOS(COALESCE(f.missing_data_fields, ''), 'shot_zone') > 0
            OR STRPOS(COALESCE(f.missing_data_fields, ''), 'opponent_defense') > 0,
            NULL, f.shot_zone_mismatch_score) AS FLOAT64) AS f06,
    CAST(IF(STRPOS(COALESCE(f.missing_data_fields, ''), 'opponent_defense') > 0,
            NULL, f.pace_score) AS FLOAT64) AS f07,
    CAST(IF(STRPOS(COALESCE(f.missing_data_fields, ''), 'usage_history') > 0,
            NULL, f.usage_spike_score) AS FLOAT64) AS f08,
    -- His days of rest minus the opponent team's, each capped at 4 (unknown = 4), -2..2.
    CAST(GREATEST(-2, LEAST(2, LEAST(COALESCE(p.days_rest, 4), 4)
      - LEAST(COALESCE(otc.days_since_last_game, 4), 4))) AS FLOAT64) AS f09,
    CAST(c.minutes_avg_last_10 AS FLOAT64) AS f10,
    CAST(COALESCE(c.usage_rate_last_10, p.avg_usage_rate_last_7_games) AS FLOAT64) AS f11,
    CAST(c.ts_pct_last_10 AS FLOAT64) AS f12,
    CAST(df.defensive_rating_last_15 AS FLOAT64) AS f13,
    CAST(df.opponent_pace AS FLOAT64) AS f14,
    CAST(CASE WHEN p.home_game THEN 1.0 WHEN NOT p.home_game THEN 0.0 END AS FLOAT64) AS f15,
    CAST(CASE WHEN p.back_to_back THEN 1.0 WHEN NOT p.back_to_back THEN 0.0 END AS FLOAT64)
      AS f16,
    CAST(LEAST(p.days_rest, 7) AS FLOAT64) AS f17,
    -- Shares (0..1) from player_shot_zone_analysis's percents.
    CAST(z.paint_rate_last_10 / 100 AS FLOAT64) AS f18,
    CAST(z.mid_range_rate_last_10 / 100 AS FLOAT64) AS f19,
    CAST(z.three_pt_rate_last_10 / 100 AS FLOAT64) AS f20,
    CAST(p.game_spread AS FLOAT64) AS f21,
    CAST(p.game_total AS FLOAT64) AS f22,
    CAST(c.team_pace_last_10 AS FLOAT64) AS f23,
    CAST(c.team_off_rating_last_10 AS FLOAT64) AS f24
  FROM players AS p
  LEFT JOIN cache AS c ON c.cache_date = p.game_date AND c.player_lookup = p.player_lookup
  LEFT JOIN factors AS f ON f.game_date = p.game_date AND f.player_lookup = p.player_lookup
  LEFT JOIN zones AS z ON z.analysis_date = p.game_date AND z.player_lookup = p.player_lookup
  LEFT JOIN defense AS df
    ON df.analysis_date = p.game_date AND df.team_abbr = p.opponent_team_abbr
  LEFT JOIN team_context AS otc
    ON otc.game_date = p.game_date AND otc.team_abbr = p.opponent_team_abbr
),
vectors AS (
  SELECT
    game_date,
    player_lookup,
    team_abbr,
    game_id,
    opponent_team_abbr,
    phase4_inputs,
    ARRAY<FLOAT64>[
      COALESCE(f00, 10.0), COALESCE(f01, 10.0), COALESCE(f02, 10.0), COALESCE(f03, 5.0),
      COALESCE(f04, 0.0), COALESCE(f05, 100.0), COALESCE(f06, 0.0), COALESCE(f07, 0.0),
      COALESCE(f08, 0.0), COALESCE(f09, 0.0), COALESCE(f10, 20.0), COALESCE(f11, 20.0),
      COALESCE(f12, 0.55), COALESCE(f13, 112.0), COALESCE(f14, 100.0), COALESCE(f15, 0.0),
      COALESCE(f16, 0.0), COALESCE(f17, 7.0), COALESCE(f18, 0.40), COALESCE(f19, 0.20),
      COALESCE(f20, 0.40), COALESCE(f21, 0.0), COALESCE(f22, 220.0), COALESCE(f23, 100.0),
      COALESCE(f24, 112.0)
    ] AS features,
    (IF(f00 IS NULL, 0, 1) + IF(f01 IS NULL, 0, 1) + IF(f02 IS NULL, 0, 1)
      + IF(f03 IS NULL, 0, 1) + IF(f04 IS NULL, 0, 1) + IF(f05 IS NULL, 0, 1)
      + IF(f06 IS NULL, 0, 1) + IF(f07 IS NULL, 0, 1) + IF(f08 IS NULL, 0, 1)
      + IF(f09 IS NULL, 0, 1) + IF(f10 IS NULL, 0, 1) + IF(f11 IS NULL, 0, 1)
      + IF(f12 IS NULL, 0, 1) + IF(f13 IS NULL, 0, 1) + IF(f14 IS NULL, 0, 1)
      + IF(f15 IS NULL, 0, 1) + IF(f16 IS NULL, 0, 1) + IF(f17 IS NULL, 0, 1)
      + IF(f18 IS NULL, 0, 1) + IF(f19 IS NULL, 0, 1) + IF(f20 IS NULL, 0, 1)
      + IF(f21 IS NULL, 0, 1) + IF(f22 IS NULL, 0, 1) + IF(f23 IS NULL, 0, 1)
      + IF(f24 IS NULL, 0, 1)) AS real_inputs
  FROM raw_features
)
SELECT
  CAST(game_date AS DATE) AS game_date,
  CAST(player_lookup AS STRING) AS player_lookup,
  CAST(game_id AS STRING) AS game_id,
  CAST(opponent_team_abbr AS STRING) AS opponent_team_abbr,
  CAST(features AS ARRAY<FLOAT64>) AS features,  -- never a NULL element
  ARRAY<STRING>[
    'points_avg_last_5', 'points_avg_last_10', 'points_avg_season', 'points_std_last_10',
    'games_in_last_7_days', 'fatigue_score', 'shot_zone_mismatch_score', 'pace_score',
    'usage_spike_score', 'rest_advantage', 'minutes_avg_last_10', 'usage_rate_last_10',
    'ts_pct_last_10', 'opponent_def_rating', 'opponent_pace', 'home_away', 'back_to_back',
    'days_rest', 'pct_paint', 'pct_mid_range', 'pct_three', 'game_spread', 'game_total',
    'team_pace', 'team_off_rating'
  ] AS feature_names,
  CAST(ARRAY_LENGTH(features) AS INT64) AS feature_count,
  CAST('v2' AS STRING) AS feature_version,
  CAST(ROUND(100.0 * real_inputs / ARRAY_LENGTH(features), 2) AS FLOAT64) AS feature_quality_score,
  CAST(ROUND(100.0 * real_inputs / ARRAY_LENGTH(features), 2) >= 80.0 AS BOOL)
    AS is_training_ready,
  -- production's primary source rule (quality_scorer.determine_primary_source): > 90 % of the
  -- features from Phase 4 'phase4', > 50 % 'phase4_partial', > 50 % from Phase 3 'phase3'.
  CAST(
    CASE
      WHEN phase4_inputs > 0.9 * ARRAY_LENGTH(features) THEN 'phase4'
      WHEN phase4_inputs > 0.5 * ARRAY_LENGTH(features) THEN 'phase4_partial'
      WHEN real_inputs - phase4_inputs > 0.5 * ARRAY_LENGTH(features) THEN 'phase3'
      ELSE 'mixed'
    END AS STRING
  ) AS data_source
FROM vectors
