-- nba_precompute.player_daily_cache
-- One row = one player with a game on cache_date (a non-bootstrap game date; the player list is
-- upcoming_player_game_context of that date): his form strictly before the date.
-- Player history: player_game_summary games played (minutes > 0) in the 180 days before the date;
-- last-5/10 windows are his latest games in those 180 days (they may reach into last season's
-- playoffs early in a season), "season" columns only count games of the date's season inside the
-- same 180 days. Team context: his team's (team on cache_date) last 10 games in the 30 days
-- before, from team_offense_game_summary. A player without prior games still gets a row
-- (NULL averages, games_played_season 0), so every team playing on the date has rows.
-- Follows data_processors/precompute/player_daily_cache/player_daily_cache_processor.py of the
-- platform (columns, windows).
WITH analysis_days AS (
  -- Dates past the season's bootstrap (nba_backfill/views/analysis_days.sql).
  SELECT game_date AS cache_date, season_year
  FROM nba_backfill_views.analysis_days
),
players AS (
  SELECT u.game_date AS cache_date, u.player_lookup, u.team_abbr, d.season_year
  FROM nba_analytics.upcoming_player_game_context AS u
  JOIN analysis_days AS d ON d.cache_date = u.game_date
  WHERE u.game_date BETWEEN @start_date AND @end_date
),
history AS (
  SELECT
    p.cache_date,
    p.player_lookup,
    g.season_year = p.season_year AS same_season,
    g.points,
    g.minutes_played AS minutes,  -- NUMERIC
    g.usage_rate,
    CAST(COALESCE(g.fg_attempts, 0) AS FLOAT64)
      + 0.44 * CAST(COALESCE(g.ft_attempts, 0) AS FLOAT64) AS shooting_possessions,
    ROW_NUMBER() OVER (
      PARTITION BY p.cache_date, p.player_lookup ORDER BY g.game_date DESC
    ) AS rn
  FROM players AS p
  JOIN nba_analytics.player_game_summary AS g
    ON g.player_lookup = p.player_lookup
    AND g.game_date BETWEEN DATE_SUB(p.cache_date, INTERVAL 180 DAY)
      AND DATE_SUB(p.cache_date, INTERVAL 1 DAY)
  WHERE g.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 180 DAY)
    AND DATE_SUB(@end_date, INTERVAL 1 DAY)
    AND g.minutes_played > 0
),
player_form AS (
  SELECT
    cache_date,
    player_lookup,
    COUNTIF(rn <= 10) AS games_10,
    AVG(IF(rn <= 5, points, NULL)) AS points_avg_5,
    AVG(IF(rn <= 10, points, NULL)) AS points_avg_10,
    -- sample standard deviation from exact integer sums: n Σx² − (Σx)² over n (n − 1)
    SQRT(
      SAFE_DIVIDE(
        COUNT(IF(rn <= 10, points, NULL)) * SUM(IF(rn <= 10, points * points, 0))
          - SUM(IF(rn <= 10, points, 0)) * SUM(IF(rn <= 10, points, 0)),
        COUNT(IF(rn <= 10, points, NULL)) * (COUNT(IF(rn <= 10, points, NULL)) - 1)
      )
    ) AS points_std_10,
    AVG(IF(rn <= 10, minutes, NULL)) AS minutes_avg_10,
    AVG(IF(rn <= 10, CAST(usage_rate AS NUMERIC(38, 9)), NULL)) AS usage_rate_10,
    SAFE_DIVIDE(
      SUM(IF(rn <= 10, points, 0)),
      2 * SUM(IF(rn <= 10, CAST(shooting_possessions AS NUMERIC(38, 9)), 0))
    ) AS ts_pct_10,
    COUNTIF(same_season) AS games_season,
    AVG(IF(same_season, points, NULL)) AS points_avg_season
  FROM history
  GROUP BY cache_date, player_lookup
),
team_days AS (
  SELECT DISTINCT cache_date, team_abbr FROM players
),
team_history AS (
  SELECT
    td.cache_date,
    td.team_abbr,
    t.pace,
    t.offensive_rating,
    ROW_NUMBER() OVER (PARTITION BY td.cache_date, td.team_abbr ORDER BY t.game_date DESC) AS rn
  FROM team_days AS td
  JOIN nba_analytics.team_offense_game_summary AS t
    ON t.team_abbr = td.team_abbr
    AND t.game_date BETWEEN DATE_SUB(td.cache_date, INTERVAL 30 DAY)
      AND DATE_SUB(td.cache_date, INTERVAL 1 DAY)
  WHERE t.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 30 DAY)
    AND DATE_SUB(@end_date, INTERVAL 1 DAY)
),
team_form AS (
  SELECT
    cache_date,
    team_abbr,
    AVG(CAST(pace AS NUMERIC(38, 9))) AS pace_10,
    AVG(CAST(offensive_rating AS NUMERIC(38, 9))) AS off_rating_10
  FROM team_history
  WHERE rn <= 10
  GROUP BY cache_date, team_abbr
)
SELECT
  CAST(p.cache_date AS DATE) AS cache_date,
  CAST(p.player_lookup AS STRING) AS player_lookup,
  CAST(COALESCE(f.games_season, 0) AS INT64) AS games_played_season,
  CAST(f.points_avg_5 AS FLOAT64) AS points_avg_last_5,
  CAST(f.points_avg_10 AS FLOAT64) AS points_avg_last_10,
  CAST(f.points_avg_season AS FLOAT64) AS points_avg_season,
  CAST(f.points_std_10 AS FLOAT64) AS points_std_last_10,  -- sample std, NULL if < 2
  CAST(f.minutes_avg_10 AS FLOAT64) AS minutes_avg_last_10,
  CAST(f.usage_rate_10 AS FLOAT64) AS usage_rate_last_10,  -- mean of non-NULL games
  CAST(f.ts_pct_10 AS FLOAT64) AS ts_pct_last_10,  -- PTS / (2 (FGA + 0.44 FTA)), pooled
  CAST(tf.pace_10 AS FLOAT64) AS team_pace_last_10,
  CAST(tf.off_rating_10 AS FLOAT64) AS team_off_rating_last_10
FROM players AS p
LEFT JOIN player_form AS f
  ON f.cache_date = p.cache_date AND f.player_lookup = p.player_lookup
LEFT JOIN team_form AS tf
  ON tf.cache_date = p.cache_date AND tf.team_abbr = p.team_abbr
