-- nba_precompute.player_composite_factors
-- One row = one player with a game on game_date (every upcoming_player_game_context row of a
-- non-bootstrap date): adjustment factors known before tip-off. Follows
-- data_processors/precompute/player_composite_factors/ of the platform (columns, ranges).
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
--   total_composite_adjustment = fatigue part + mismatch + pace + usage spike.
--   missing_data_fields lists the inputs a score fell back to 0 for; has_warnings when any.
-- Every score is clamped to its range. Inputs: same-date rows of both upcoming tables,
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
    u.team_abbr,
    u.game_id,
    COALESCE(u.opponent_team_abbr, tc.opponent_team_abbr) AS opponent_team_abbr,
    u.days_rest,
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
    p.team_abbr,
    p.game_id,
    p.opponent_team_abbr,
    p.days_rest,
    p.back_to_back,
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
)
SELECT
  CAST(game_date AS DATE) AS game_date,
  CAST(game_date AS DATE) AS analysis_date,  -- a backfill analyses each date as of itself
  CAST(player_lookup AS STRING) AS player_lookup,
  CAST(game_id AS STRING) AS game_id,
  -- Production stores an integer score; the total uses the unrounded one.
  CAST(ROUND(fatigue_score) AS INT64) AS fatigue_score,
  CAST(mismatch_score AS FLOAT64) AS shot_zone_mismatch_score,
  CAST(pace_score AS FLOAT64) AS pace_score,
  CAST(usage_spike_score AS FLOAT64) AS usage_spike_score,
  CAST(
    (fatigue_score - 100.0) / 20.0 + mismatch_score + pace_score + usage_spike_score
    AS FLOAT64
  ) AS total_composite_adjustment,
  -- Inputs a score fell back to its default for (production's missing_data_fields): no
  -- shot-zone row, no opponent zone-defense row, fewer than 5 games with a usage rate.
  CAST(
    NULLIF(
      ARRAY_TO_STRING(
        ARRAY_CONCAT(
          IF(has_shot_zone_data, ARRAY<STRING>[], ARRAY<STRING>['shot_zone']),
          IF(has_opponent_defense_data, ARRAY<STRING>[], ARRAY<STRING>['opponent_defense']),
          IF(usage_games >= 5, ARRAY<STRING>[], ARRAY<STRING>['usage_history'])
        ),
        ','
      ),
      ''
    ) AS STRING
  ) AS missing_data_fields,
  CAST(NOT (has_shot_zone_data AND has_opponent_defense_data AND usage_games >= 5) AS BOOL)
    AS has_warnings
FROM factors
