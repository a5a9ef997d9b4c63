-- nba_analytics.upcoming_player_game_context
-- One row = one rostered player of one final game on [@start_date, @end_date] (key: game_date,
-- player_lookup): what was known before tip-off. The roster is the gamebook's 'active' and
-- 'dnp' players of the game. History comes from player_game_summary rows of the 30 days
-- strictly before the date in which the player played (minutes_played > 0; DNP rows are not
-- games for rest, counts or averages):
--   days_rest = days since the previous such game (NULL when none in 30 days);
--   back_to_back = days_rest = 1 (FALSE without a previous game);
--   games / minutes_in_last_N_days = games on [date - N, date - 1] (minutes rounded to whole
--   minutes as production stores them); avg_minutes_per_game_last_7 = their ratio;
--   points_avg_last_5/10, avg_usage_rate_last_7_games = over the player's last 5 / 10 / 7
--   such games in the 30-day window (NULL when none; NULL usage rates are skipped).
-- Lines: opening = earliest snapshot, current = latest snapshot, ties broken by the
-- alphabetically first bookmaker; line_movement = current - opening. game_spread is the latest
-- spread from the team's side (the feed's spread is the home team's; negated for the away
-- team); game_total the latest total.
-- season_phase by calendar month: Oct-Nov early, Dec-Feb mid, Mar-Apr late, else playoffs.
-- Follows data_processors/analytics/upcoming_player_game_context/
-- upcoming_player_game_context_processor.py of the platform (columns, windows).
-- One row per (game_id, player_lookup): the latest load wins, as in production's processor.
WITH gamebook AS (
  SELECT game_id, game_date, player_lookup, team_abbr, player_status
  FROM nba_raw.nbac_gamebook_player_stats
  WHERE game_date BETWEEN @start_date AND @end_date
    AND player_lookup IS NOT NULL  -- the key is REQUIRED in production's output
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_id, player_lookup
    ORDER BY processed_at DESC NULLS LAST, minutes DESC, team_abbr, player_status
  ) = 1
),

roster AS (
  SELECT
    g.game_id,
    g.game_date,
    g.season_year,
    p.player_lookup,
    p.team_abbr,
    IF(p.team_abbr = g.home_team_abbr, g.away_team_abbr, g.home_team_abbr) AS opponent_team_abbr,
    p.team_abbr = g.home_team_abbr AS home_game
  FROM nba_backfill_views.games AS g
  INNER JOIN gamebook AS p
    ON p.game_id = g.game_id
    AND p.game_date = g.game_date
    AND p.team_abbr IN (g.home_team_abbr, g.away_team_abbr)
  WHERE LOWER(p.player_status) IN ('active', 'dnp')
  -- One row per key even if the gamebook lists a player twice (deterministic).
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY g.game_date, p.player_lookup
    ORDER BY g.game_id, p.team_abbr
  ) = 1
),

history AS (
  SELECT
    game_date,
    player_lookup,
    minutes_played AS minutes,  -- NUMERIC: sums below are exact
    points,
    usage_rate
  FROM nba_analytics.player_game_summary
  WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 30 DAY)
    AND DATE_SUB(@end_date, INTERVAL 1 DAY)
    AND minutes_played > 0
),

-- Each roster row with the player's games of the 30 days before it (bounded join: at most
-- ~30 rows per player-date, never a whole season).
recent AS (
  SELECT
    r.game_date,
    r.player_lookup,
    DATE_DIFF(r.game_date, h.game_date, DAY) AS days_ago,
    ROW_NUMBER() OVER (
      PARTITION BY r.game_date, r.player_lookup
      ORDER BY h.game_date DESC
    ) AS games_ago,
    h.minutes,
    h.points,
    h.usage_rate
  FROM roster AS r
  INNER JOIN history AS h
    ON h.player_lookup = r.player_lookup
    AND h.game_date BETWEEN DATE_SUB(r.game_date, INTERVAL 30 DAY)
    AND DATE_SUB(r.game_date, INTERVAL 1 DAY)
),

form AS (
  SELECT
    game_date,
    player_lookup,
    MIN(days_ago) AS days_rest,
    COUNTIF(days_ago <= 7) AS games_last_7_days,
    COUNTIF(days_ago <= 14) AS games_last_14_days,
    SUM(IF(days_ago <= 7, minutes, 0)) AS minutes_last_7_days,
    SUM(IF(days_ago <= 14, minutes, 0)) AS minutes_last_14_days,
    AVG(IF(games_ago <= 5, points, NULL)) AS points_avg_last_5,
    AVG(IF(games_ago <= 10, points, NULL)) AS points_avg_last_10,
    AVG(IF(games_ago <= 7, CAST(usage_rate AS NUMERIC(38, 9)), NULL))
      AS avg_usage_rate_last_7_games
  FROM recent
  GROUP BY game_date, player_lookup
),

opening_lines AS (
  SELECT game_date, player_lookup, points_line
  FROM nba_backfill_views.player_points_props AS props
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_date, player_lookup
    ORDER BY snapshot_timestamp ASC NULLS LAST, bookmaker, points_line
  ) = 1
)

SELECT
  CAST(r.game_id AS STRING) AS game_id,
  CAST(r.game_date AS DATE) AS game_date,
  CAST(r.player_lookup AS STRING) AS player_lookup,
  CAST(r.team_abbr AS STRING) AS team_abbr,
  CAST(r.opponent_team_abbr AS STRING) AS opponent_team_abbr,
  CAST(r.home_game AS BOOL) AS home_game,
  CAST(cl.points_line IS NOT NULL AS BOOL) AS has_prop_line,
  CAST(ol.points_line AS FLOAT64) AS opening_points_line,
  CAST(cl.points_line AS FLOAT64) AS current_points_line,
  CAST(cl.points_line - ol.points_line AS FLOAT64) AS line_movement,
  CAST(
    CASE r.team_abbr
      WHEN s.home_team_abbr THEN s.spread
      WHEN s.away_team_abbr THEN -s.spread
    END AS FLOAT64
  ) AS game_spread,
  CAST(t.total AS FLOAT64) AS game_total,
  CAST(f.days_rest AS INT64) AS days_rest,
  CAST(COALESCE(f.days_rest = 1, FALSE) AS BOOL) AS back_to_back,
  CAST(COALESCE(f.games_last_7_days, 0) AS INT64) AS games_in_last_7_days,
  CAST(COALESCE(f.games_last_14_days, 0) AS INT64) AS games_in_last_14_days,
  -- Production stores whole minutes; ROUND first (CAST truncates in some engines).
  CAST(ROUND(COALESCE(f.minutes_last_7_days, 0)) AS INT64) AS minutes_in_last_7_days,
  CAST(ROUND(COALESCE(f.minutes_last_14_days, 0)) AS INT64) AS minutes_in_last_14_days,
  CAST(SAFE_DIVIDE(f.minutes_last_7_days, f.games_last_7_days) AS FLOAT64)
    AS avg_minutes_per_game_last_7,
  CAST(f.points_avg_last_5 AS FLOAT64) AS points_avg_last_5,
  CAST(f.points_avg_last_10 AS FLOAT64) AS points_avg_last_10,
  CAST(f.avg_usage_rate_last_7_games AS FLOAT64) AS avg_usage_rate_last_7_games,
  CAST(
    CASE
      WHEN EXTRACT(MONTH FROM r.game_date) IN (10, 11) THEN 'early'
      WHEN EXTRACT(MONTH FROM r.game_date) IN (12, 1, 2) THEN 'mid'
      WHEN EXTRACT(MONTH FROM r.game_date) IN (3, 4) THEN 'late'
      ELSE 'playoffs'
    END AS STRING
  ) AS season_phase
FROM roster AS r
LEFT JOIN form AS f
  ON f.game_date = r.game_date
  AND f.player_lookup = r.player_lookup
LEFT JOIN opening_lines AS ol
  ON ol.game_date = r.game_date
  AND ol.player_lookup = r.player_lookup
LEFT JOIN nba_backfill_views.current_points_lines AS cl
  ON cl.game_date = r.game_date
  AND cl.player_lookup = r.player_lookup
LEFT JOIN nba_backfill_views.game_spreads AS s
  ON s.game_id = r.game_id
  AND s.game_date = r.game_date
LEFT JOIN nba_backfill_views.game_totals AS t
  ON t.game_id = r.game_id
  AND t.game_date = r.game_date
