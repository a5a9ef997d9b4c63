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
WITH analysis_days AS (
  -- Dates past the season's bootstrap (nba_backfill/views/analysis_days.sql).
  SELECT
    game_date AS analysis_date,
    season_year,
    -- FLOOR, not DIV: sqlglot drops the parentheses of DIV(a - b, c) when writing DuckDB.
    LEAST(10, 3 + CAST(FLOOR((days_since_opener - 14) / 3) AS INT64)) AS min_games
  FROM nba_backfill_views.analysis_days
),
players AS (
  SELECT u.game_date AS analysis_date, u.player_lookup, u.team_abbr, d.season_year, d.min_games
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
    SUM(three_att) AS three_att_20
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
    SAFE_DIVIDE(w.three_att_10, w.games_10) AS three_apg_10
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
  ) AS primary_scoring_zone
FROM rates
