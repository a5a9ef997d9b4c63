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
-- platform (columns, windows). Per column group, the processor path it follows:
--   points / minutes / usage / ts / games_played_season, player_usage_rate_season (mean of the
--     season's non-NULL usage rates), assisted_rate_last_10 (Σ assisted FGM / Σ FGM of the last
--     10, NULL on no FGM): aggregators/stats_aggregator.py
--   team_pace / team_off_rating: aggregators/team_aggregator.py
--   games / minutes_in_last_7/14_days, avg_minutes_per_game_last_7: copied from the date's
--     upcoming_player_game_context row (aggregators/context_aggregator.py);
--     back_to_backs_last_14_days: pairs of games on consecutive days among his games on
--     [date - 13, date - 1] (the context processor's player_stats.py, which our context model
--     does not carry); fourth_quarter_minutes_last_7: NULL, as the context processor writes it
--     (a TODO there)
--   early_season_flag / insufficient_data_reason: fewer than min_games_required (10) games
--     this season (builders/cache_builder.py, the processor's min_games_required)
--   completeness (expected / actual / missing / completeness_percentage on L5, l5 / l10 / l7d /
--     l14d pct and is_complete, all_windows_complete = is_production_ready, data_quality_issues
--     empty): builders/completeness_checker.py over shared/utils/completeness_checker.py
--     (DNP-aware). Expected = the final schedule games of his latest team (his latest
--     player_game_summary row in the 180 days): the last N of them (L5, L10) or those on
--     [date - W, date - 1] (L7d, L14d: W = 7 / 14 plus the no-game days right before the date,
--     counted on regular-season and playoff games of the 30 days before). Actual = his
--     player_game_summary dates on [date - 30, date - 1] (game windows; the checker does not
--     cap them at N) or on [date - W, date - 1] (the checker's BETWEEN reaches the date itself,
--     which production's daily run has no games of yet). DNPs = gamebook dates with minutes
--     NULL or '00:00' (his last N gamebook rows of the 30 days, or those of the W days).
--     pct = actual / (expected - DNPs) * 100 rounded to 1 (100 when nothing is expected);
--     production-ready at 70 %
--   primary_scoring_zone, paint_rate_last_10, three_pt_rate_last_10: copied from the date's
--     player_shot_zone_analysis row, shot_zone_data_available = that row exists
--     (aggregators/shot_zone_aggregator.py; NULLs without it, as the processor's placeholder)
--   circuit breaker and bootstrap (reprocess_attempt_count 0, circuit_breaker_active and
--     manual_override_required FALSE, last attempt / until NULL, processing_decision_reason
--     'processed_successfully': a first, successful processing), season_boundary_detected
--     (October, November, April), backfill_bootstrap_mode (fewer than 30 days after October 1
--     of the season), cache_version 'v1': builders/cache_builder.py and the processor
WITH analysis_days AS (
  -- Dates past the season's bootstrap (nba_backfill/views/analysis_days.sql).
  SELECT game_date AS cache_date, season_year
  FROM nba_backfill_views.analysis_days
),
players AS (
  SELECT
    u.game_date AS cache_date,
    u.player_lookup,
    u.team_abbr,
    d.season_year,
    u.games_in_last_7_days,
    u.games_in_last_14_days,
    u.minutes_in_last_7_days,
    u.minutes_in_last_14_days,
    u.avg_minutes_per_game_last_7
  FROM nba_analytics.upcoming_player_game_context AS u
  JOIN analysis_days AS d ON d.cache_date = u.game_date
  WHERE u.game_date BETWEEN @start_date AND @end_date
),
breaks AS (
  -- The checker's post-break extension of the day windows: the no-game days right before the
  -- date (the latest regular-season or playoff game of the 30 days before; 0 without one).
  SELECT
    d.cache_date,
    COALESCE(GREATEST(DATE_DIFF(d.cache_date, MAX(s.game_date), DAY) - 1, 0), 0) AS break_days
  FROM (SELECT DISTINCT cache_date FROM players) AS d
  LEFT JOIN nba_backfill_views.schedule_latest AS s
    ON DATE_DIFF(d.cache_date, s.game_date, DAY) BETWEEN 1 AND 30
    AND (STARTS_WITH(s.game_id, '002') OR STARTS_WITH(s.game_id, '004'))
  GROUP BY d.cache_date
),
all_games AS (
  -- His player_game_summary rows of the 180 days before, DNPs (minutes 0) included.
  SELECT
    p.cache_date,
    p.player_lookup,
    b.break_days,
    g.game_date,
    g.team_abbr,
    g.season_year = p.season_year AS same_season,
    g.points,
    g.minutes_played AS minutes,  -- NUMERIC
    g.usage_rate,
    g.fg_makes,
    COALESCE(g.assisted_fg_makes, 0) AS assisted_fg_makes,
    g.fg_attempts,
    g.ft_attempts,
    DATE_DIFF(p.cache_date, g.game_date, DAY) AS days_before
  FROM players AS p
  JOIN breaks AS b ON b.cache_date = p.cache_date
  JOIN nba_analytics.player_game_summary AS g
    ON g.player_lookup = p.player_lookup
    AND g.game_date BETWEEN DATE_SUB(p.cache_date, INTERVAL 180 DAY)
      AND DATE_SUB(p.cache_date, INTERVAL 1 DAY)
  WHERE g.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 180 DAY)
    AND DATE_SUB(@end_date, INTERVAL 1 DAY)
),
history AS (
  -- The games he played (minutes > 0), latest first.
  SELECT
    cache_date,
    player_lookup,
    same_season,
    points,
    minutes,
    usage_rate,
    fg_makes,
    assisted_fg_makes,
    days_before,
    DATE_DIFF(
      game_date,
      LAG(game_date) OVER (PARTITION BY cache_date, player_lookup ORDER BY game_date),
      DAY
    ) AS days_after_previous,
    CAST(COALESCE(fg_attempts, 0) AS FLOAT64)
      + 0.44 * CAST(COALESCE(ft_attempts, 0) AS FLOAT64) AS shooting_possessions,
    ROW_NUMBER() OVER (PARTITION BY cache_date, player_lookup ORDER BY game_date DESC) AS rn
  FROM all_games
  WHERE minutes > 0
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
    AVG(IF(same_season, points, NULL)) AS points_avg_season,
    AVG(IF(same_season, CAST(usage_rate AS NUMERIC(38, 9)), NULL)) AS usage_rate_season,
    SAFE_DIVIDE(
      SUM(IF(rn <= 10, assisted_fg_makes, 0)), SUM(IF(rn <= 10, fg_makes, 0))
    ) AS assisted_rate_10,
    -- a back-to-back: a game the day after the previous one, both on [date - 13, date - 1]
    COUNTIF(days_before <= 13 AND days_after_previous = 1 AND days_before + 1 <= 13)
      AS back_to_backs_14
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
),
-- The completeness checker (DNP-aware), per date and player.
player_team AS (
  -- His latest team: that of his latest player_game_summary row.
  SELECT cache_date, player_lookup, break_days, team_abbr
  FROM all_games
  QUALIFY ROW_NUMBER() OVER (PARTITION BY cache_date, player_lookup ORDER BY game_date DESC) = 1
),
team_games AS (
  SELECT DISTINCT team_abbr, game_date
  FROM nba_backfill_views.schedule_latest,
    UNNEST([home_team_tricode, away_team_tricode]) AS team_abbr
  WHERE game_status = 3 AND game_date < @end_date
),
team_expected AS (
  -- Final games of the team before the date: the last 5 / 10, those of the day windows.
  SELECT
    d.cache_date,
    d.team_abbr,
    LEAST(COUNT(tg.game_date), 5) AS l5,
    LEAST(COUNT(tg.game_date), 10) AS l10,
    COUNTIF(DATE_DIFF(d.cache_date, tg.game_date, DAY) <= 7 + d.break_days) AS l7d,
    COUNTIF(DATE_DIFF(d.cache_date, tg.game_date, DAY) <= 14 + d.break_days) AS l14d
  FROM (SELECT DISTINCT cache_date, team_abbr, break_days FROM player_team) AS d
  LEFT JOIN team_games AS tg
    ON tg.team_abbr = d.team_abbr AND tg.game_date < d.cache_date
  GROUP BY d.cache_date, d.team_abbr
),
actual AS (
  SELECT
    cache_date,
    player_lookup,
    COUNTIF(days_before <= 30) AS games,
    COUNTIF(days_before <= 7 + break_days) AS l7d,
    COUNTIF(days_before <= 14 + break_days) AS l14d
  FROM all_games
  GROUP BY cache_date, player_lookup
),
gamebook AS (
  -- His gamebook rows of the 30 days (game windows: ranked, latest first) and of the day
  -- windows (at most 14 + 29 days).
  SELECT
    p.cache_date,
    p.player_lookup,
    b.break_days,
    gb.game_date,
    DATE_DIFF(p.cache_date, gb.game_date, DAY) AS days_before,
    gb.minutes IS NULL OR gb.minutes = '00:00' AS dnp,
    ROW_NUMBER() OVER (
      PARTITION BY p.cache_date, p.player_lookup
      ORDER BY DATE_DIFF(p.cache_date, gb.game_date, DAY) > 30, gb.game_date DESC,
        gb.minutes IS NULL OR gb.minutes = '00:00'
    ) AS rn
  FROM players AS p
  JOIN breaks AS b ON b.cache_date = p.cache_date
  JOIN (
    -- One row per (game_id, player_lookup): a date loaded twice is one game, the latest load
    -- wins (as in player_game_summary and production's processors).
    SELECT game_id, game_date, player_lookup, minutes
    FROM nba_raw.nbac_gamebook_player_stats
    WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 43 DAY)
      AND DATE_SUB(@end_date, INTERVAL 1 DAY)
    QUALIFY ROW_NUMBER() OVER (
      PARTITION BY game_id, player_lookup
      ORDER BY processed_at DESC NULLS LAST, minutes DESC, team_abbr, player_status
    ) = 1
  ) AS gb
    ON gb.player_lookup = p.player_lookup
    AND gb.game_date BETWEEN DATE_SUB(p.cache_date, INTERVAL 43 DAY)
      AND DATE_SUB(p.cache_date, INTERVAL 1 DAY)
),
dnps AS (
  SELECT
    cache_date,
    player_lookup,
    COUNT(DISTINCT IF(dnp AND days_before <= 30 AND rn <= 5, game_date, NULL)) AS l5,
    COUNT(DISTINCT IF(dnp AND days_before <= 30 AND rn <= 10, game_date, NULL)) AS l10,
    COUNT(DISTINCT IF(dnp AND days_before <= 7 + break_days, game_date, NULL)) AS l7d,
    COUNT(DISTINCT IF(dnp AND days_before <= 14 + break_days, game_date, NULL)) AS l14d
  FROM gamebook
  GROUP BY cache_date, player_lookup
),
windows AS (
  -- (expected, DNPs, actual) per window; no team found = nothing expected.
  SELECT
    p.cache_date,
    p.player_lookup,
    COALESCE(te.l5, 0) AS e5,
    COALESCE(dn.l5, 0) AS d5,
    COALESCE(a.games, 0) AS a5,
    COALESCE(te.l10, 0) AS e10,
    COALESCE(dn.l10, 0) AS d10,
    COALESCE(a.games, 0) AS a10,
    COALESCE(te.l7d, 0) AS e7,
    COALESCE(dn.l7d, 0) AS d7,
    COALESCE(a.l7d, 0) AS a7,
    COALESCE(te.l14d, 0) AS e14,
    COALESCE(dn.l14d, 0) AS d14,
    COALESCE(a.l14d, 0) AS a14
  FROM players AS p
  LEFT JOIN player_team AS pt
    ON pt.cache_date = p.cache_date AND pt.player_lookup = p.player_lookup
  LEFT JOIN team_expected AS te
    ON te.cache_date = pt.cache_date AND te.team_abbr = pt.team_abbr
  LEFT JOIN actual AS a
    ON a.cache_date = p.cache_date AND a.player_lookup = p.player_lookup
  LEFT JOIN dnps AS dn
    ON dn.cache_date = p.cache_date AND dn.player_lookup = p.player_lookup
),
completeness AS (
  -- pct = actual / (expected - DNPs) * 100, 100 when nothing is left to expect.
  SELECT
    cache_date,
    player_lookup,
    e5,
    a5,
    GREATEST(GREATEST(e5 - d5, 0) - a5, 0) AS missing5,
    IF(e5 - d5 > 0, ROUND(CAST(a5 AS NUMERIC) * 100 / (e5 - d5), 1), 100) AS pct5,
    IF(e10 - d10 > 0, ROUND(CAST(a10 AS NUMERIC) * 100 / (e10 - d10), 1), 100) AS pct10,
    IF(e7 - d7 > 0, ROUND(CAST(a7 AS NUMERIC) * 100 / (e7 - d7), 1), 100) AS pct7,
    IF(e14 - d14 > 0, ROUND(CAST(a14 AS NUMERIC) * 100 / (e14 - d14), 1), 100) AS pct14
  FROM windows
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
  CAST(tf.off_rating_10 AS FLOAT64) AS team_off_rating_last_10,
  CAST(f.usage_rate_season AS FLOAT64) AS player_usage_rate_season,
  CAST(ROUND(f.assisted_rate_10, 9) AS FLOAT64) AS assisted_rate_last_10,
  CAST(p.games_in_last_7_days AS INT64) AS games_in_last_7_days,
  CAST(p.games_in_last_14_days AS INT64) AS games_in_last_14_days,
  CAST(p.minutes_in_last_7_days AS INT64) AS minutes_in_last_7_days,
  CAST(p.minutes_in_last_14_days AS INT64) AS minutes_in_last_14_days,
  CAST(COALESCE(f.back_to_backs_14, 0) AS INT64) AS back_to_backs_last_14_days,
  CAST(p.avg_minutes_per_game_last_7 AS FLOAT64) AS avg_minutes_per_game_last_7,
  CAST(NULL AS INT64) AS fourth_quarter_minutes_last_7,
  CAST(COALESCE(f.games_season, 0) < 10 AS BOOL) AS early_season_flag,
  CAST(
    IF(
      COALESCE(f.games_season, 0) < 10,
      CONCAT(
        'Only ', CAST(COALESCE(f.games_season, 0) AS STRING), ' games played, need 10 minimum'
      ),
      NULL
    ) AS STRING
  ) AS insufficient_data_reason,
  CAST(c.e5 AS INT64) AS expected_games_count,
  CAST(c.a5 AS INT64) AS actual_games_count,
  CAST(c.pct5 AS FLOAT64) AS completeness_percentage,
  CAST(c.missing5 AS INT64) AS missing_games_count,
  CAST(c.pct5 >= 70 AND c.pct10 >= 70 AND c.pct7 >= 70 AND c.pct14 >= 70 AS BOOL)
    AS is_production_ready,
  CAST([] AS ARRAY<STRING>) AS data_quality_issues,
  CAST(NULL AS TIMESTAMP) AS last_reprocess_attempt_at,
  CAST(0 AS INT64) AS reprocess_attempt_count,
  CAST(FALSE AS BOOL) AS circuit_breaker_active,
  CAST(NULL AS TIMESTAMP) AS circuit_breaker_until,
  CAST(FALSE AS BOOL) AS manual_override_required,
  CAST(EXTRACT(MONTH FROM p.cache_date) IN (10, 11, 4) AS BOOL) AS season_boundary_detected,
  CAST(DATE_DIFF(p.cache_date, DATE(p.season_year, 10, 1), DAY) < 30 AS BOOL)
    AS backfill_bootstrap_mode,
  CAST('processed_successfully' AS STRING) AS processing_decision_reason,
  CAST(c.pct5 AS FLOAT64) AS l5_completeness_pct,
  CAST(c.pct5 >= 70 AS BOOL) AS l5_is_complete,
  CAST(c.pct10 AS FLOAT64) AS l10_completeness_pct,
  CAST(c.pct10 >= 70 AS BOOL) AS l10_is_complete,
  CAST(c.pct7 AS FLOAT64) AS l7d_completeness_pct,
  CAST(c.pct7 >= 70 AS BOOL) AS l7d_is_complete,
  CAST(c.pct14 AS FLOAT64) AS l14d_completeness_pct,
  CAST(c.pct14 >= 70 AS BOOL) AS l14d_is_complete,
  CAST(c.pct5 >= 70 AND c.pct10 >= 70 AND c.pct7 >= 70 AND c.pct14 >= 70 AS BOOL)
    AS all_windows_complete,
  CAST('v1' AS STRING) AS cache_version,
  CAST(sz.primary_scoring_zone AS STRING) AS primary_scoring_zone,
  CAST(sz.paint_rate_last_10 AS FLOAT64) AS paint_rate_last_10,
  CAST(sz.three_pt_rate_last_10 AS FLOAT64) AS three_pt_rate_last_10,
  CAST(sz.player_lookup IS NOT NULL AS BOOL) AS shot_zone_data_available
FROM players AS p
LEFT JOIN nba_precompute.player_shot_zone_analysis AS sz
  ON sz.analysis_date = p.cache_date AND sz.player_lookup = p.player_lookup
  AND sz.analysis_date BETWEEN @start_date AND @end_date
LEFT JOIN player_form AS f
  ON f.cache_date = p.cache_date AND f.player_lookup = p.player_lookup
JOIN completeness AS c
  ON c.cache_date = p.cache_date AND c.player_lookup = p.player_lookup
LEFT JOIN team_form AS tf
  ON tf.cache_date = p.cache_date AND tf.team_abbr = p.team_abbr
