-- nba_analytics.upcoming_team_game_context
-- One row = one team in one final game on [@start_date, @end_date] (key: game_date,
-- team_abbr): schedule, betting and injury context known before tip-off. game_id is the
-- NBA.com id (the schedule's game_id).
-- Schedule context is counted over the team's final games of the same season_year (the
-- schedule is read back one year so that the season's first games are always in view):
--   game_number_in_season = 1 for the team's first game of the season_year (playoffs included);
--   days_since_last_game  = days since the team's previous game of the season (NULL for the
--                           first); is_back_to_back = days_since_last_game = 1;
--   games_in_last_N_days  = team games on [date - N, date - 1].
-- Results come from nba_raw.nbac_team_boxscore of the team's earlier games of the season:
--   team_win_streak_entering / team_loss_streak_entering = n after n straight wins / losses
--   (0 otherwise and before the first result); last_game_margin = points - opponent points of
--   the previous game with a result, last_game_result its 'W' / 'L'.
--   team_days_rest = days off since the previous game (production's convention: 0 on a
--   back-to-back); team_back_to_back = is_back_to_back.
--   travel_miles = great-circle miles from the previous game's arena to this one's.
-- Follows data_processors/analytics/upcoming_team_game_context/
-- upcoming_team_game_context_processor.py of the platform (columns, conventions).
-- Lines: the latest snapshot (ties: alphabetically first bookmaker); game_spread from the
-- team's side (the feed's spread is the home team's, negated for the away team).
-- Injuries: each player's latest injury-report entry for the game (report_date <= game date).
--   questionable_players_count = players listed 'questionable';
--   starters_out_count = players listed 'out' who are the team's starters, a starter being a
--   player who averaged more than 20 minutes (PGS's starter_flag rule) over the games he
--   played for the team in the gamebook in the 30 days before the date. Players out for more
--   than 30 days are therefore not counted: the team has already adjusted to their absence.
-- Per column group, the processor path it follows:
--   game_spread_source / game_total_source: the bookmaker of the line used;
--     betting_lines_updated_at: the spread's snapshot time, else the total's;
--     spread_movement / total_movement: NULL, as production writes them (a TODO there)
--     (calculators/betting_context.py; the line picked is the shared views' latest snapshot,
--     where production prefers draftkings, then fanduel)
--   completeness (l7d / l14d pct and is_complete, all_windows_complete; expected / actual /
--     missing / completeness_percentage are L14d's): the processor's two day windows over
--     shared/utils/completeness_checker.py, per row at its game date d: expected = distinct
--     dates of the team's final games (home or away) on [d - N, d]; actual = distinct dates
--     the team is the home team in the schedule on [d - N, d] (the checker's upstream field is
--     home_team_tricode, so away games never count); pct = actual / expected * 100 rounded to
--     1 (100 when nothing is expected); complete when actual >= expected; production-ready
--     (both windows) at 70 %
--   quality_tier / quality_score (L14d pct >= 95 gold 95, >= 75 silver 75, >= 50 bronze 50,
--     else poor 25), quality_issues = data_quality_issues ('l7d_incomplete:<pct, 0 decimals,
--     half to even>%', 'l14d_incomplete:…', 'season_boundary', 'bootstrap_mode'),
--     data_sources ['nbac_schedule']: _calculate_team_context with
--     shared/processors/patterns/quality_columns.py
--   circuit breaker (0 attempts, inactive, NULL times, no override, 'processed_successfully'),
--     season_boundary_detected (October, November, April), backfill_bootstrap_mode (fewer
--     than 30 days after October 1 of the season); early_season_flag /
--     insufficient_data_reason: NULL, the processor never writes them into a row
WITH schedule AS (
  -- Production's gate over the latest version of each schedule game (nba_backfill/views/).
  SELECT
    CONCAT(FORMAT_DATE('%Y%m%d', game_date), '_', away_team_tricode, '_', home_team_tricode)
      AS game_id,
    game_id AS nba_game_id,
    game_date,
    season_year,
    home_team_tricode AS home_team_abbr,
    away_team_tricode AS away_team_abbr
  FROM nba_backfill_views.expected_games
  WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 366 DAY) AND @end_date
),

team_games_all AS (
  SELECT
    game_id, nba_game_id, game_date, season_year,
    home_team_abbr AS team_abbr, away_team_abbr AS opponent_team_abbr, TRUE AS home_game,
    home_team_abbr AS site_abbr
  FROM schedule
  UNION ALL
  SELECT
    game_id, nba_game_id, game_date, season_year,
    away_team_abbr AS team_abbr, home_team_abbr AS opponent_team_abbr, FALSE AS home_game,
    home_team_abbr AS site_abbr
  FROM schedule
),

-- A team plays at most one game a day: keep one row per (team, date) even if the schedule
-- holds duplicates.
team_games AS (
  SELECT *
  FROM team_games_all
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY team_abbr, game_date ORDER BY game_id) = 1
),

-- One row per (game_id, team_abbr): the latest load wins, as in production's processor.
box AS (
  SELECT game_id, game_date, team_abbr, points
  FROM nba_raw.nbac_team_boxscore
  WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 366 DAY)
    AND DATE_SUB(@end_date, INTERVAL 1 DAY)
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_id, team_abbr
    ORDER BY processed_at DESC, points DESC
  ) = 1
),

results AS (
  SELECT
    tg.team_abbr,
    tg.season_year,
    tg.game_date,
    b.points - o.points AS margin,
    b.points > o.points AS win
  FROM team_games AS tg
  INNER JOIN box AS b
    ON b.game_id = tg.game_id
    AND b.game_date = tg.game_date
    AND b.team_abbr = tg.team_abbr
  INNER JOIN box AS o
    ON o.game_id = tg.game_id
    AND o.game_date = tg.game_date
    AND o.team_abbr = tg.opponent_team_abbr
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY tg.team_abbr, tg.game_date
    ORDER BY b.points DESC, o.points DESC
  ) = 1
),

-- Runs of equal results (gaps and islands): a new run starts whenever the result changes.
runs AS (
  SELECT
    *,
    SUM(IF(changed, 1, 0)) OVER (
      PARTITION BY team_abbr, season_year
      ORDER BY game_date
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS run_id
  FROM (
    SELECT
      *,
      COALESCE(
        win != LAG(win) OVER (PARTITION BY team_abbr, season_year ORDER BY game_date),
        TRUE
      ) AS changed
    FROM results
  )
),

streaks AS (
  SELECT
    team_abbr,
    game_date,
    margin,
    IF(win, 1, -1) * ROW_NUMBER() OVER (
      PARTITION BY team_abbr, season_year, run_id
      ORDER BY game_date
    ) AS streak_after
  FROM runs
),

timeline AS (
  SELECT
    tg.*,
    ROW_NUMBER() OVER w_season AS game_number_in_season,
    LAG(tg.game_date) OVER w_season AS previous_game_date,
    LAG(tg.site_abbr) OVER w_season AS previous_site_abbr,
    COUNT(*) OVER (
      PARTITION BY tg.team_abbr
      ORDER BY UNIX_DATE(tg.game_date)
      RANGE BETWEEN 7 PRECEDING AND 1 PRECEDING
    ) AS games_in_last_7_days,
    COUNT(*) OVER (
      PARTITION BY tg.team_abbr
      ORDER BY UNIX_DATE(tg.game_date)
      RANGE BETWEEN 14 PRECEDING AND 1 PRECEDING
    ) AS games_in_last_14_days,
    LAST_VALUE(s.streak_after IGNORE NULLS) OVER (
      PARTITION BY tg.team_abbr, tg.season_year
      ORDER BY tg.game_date
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS win_streak,
    LAST_VALUE(s.margin IGNORE NULLS) OVER (
      PARTITION BY tg.team_abbr, tg.season_year
      ORDER BY tg.game_date
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS last_game_margin
  FROM team_games AS tg
  LEFT JOIN streaks AS s
    ON s.team_abbr = tg.team_abbr
    AND s.game_date = tg.game_date
  WINDOW w_season AS (PARTITION BY tg.team_abbr, tg.season_year ORDER BY tg.game_date)
),

-- Home arenas (latitude, longitude in degrees), for travel_miles: a public fact the raw tables
-- do not carry (production reads a static travel-distance table instead).
arenas AS (
  SELECT 'ATL' AS team_abbr, 33.757 AS lat, -84.396 AS lon
  UNION ALL SELECT 'BOS', 42.366, -71.062
  UNION ALL SELECT 'BKN', 40.683, -73.975
  UNION ALL SELECT 'CHA', 35.225, -80.839
  UNION ALL SELECT 'CHI', 41.881, -87.674
  UNION ALL SELECT 'CLE', 41.496, -81.688
  UNION ALL SELECT 'DAL', 32.790, -96.810
  UNION ALL SELECT 'DEN', 39.749, -105.008
  UNION ALL SELECT 'DET', 42.341, -83.055
  UNION ALL SELECT 'GSW', 37.768, -122.388
  UNION ALL SELECT 'HOU', 29.751, -95.362
  UNION ALL SELECT 'IND', 39.764, -86.156
  UNION ALL SELECT 'LAC', 33.945, -118.341
  UNION ALL SELECT 'LAL', 34.043, -118.267
  UNION ALL SELECT 'MEM', 35.138, -90.051
  UNION ALL SELECT 'MIA', 25.781, -80.188
  UNION ALL SELECT 'MIL', 43.045, -87.917
  UNION ALL SELECT 'MIN', 44.980, -93.276
  UNION ALL SELECT 'NOP', 29.949, -90.082
  UNION ALL SELECT 'NYK', 40.751, -73.993
  UNION ALL SELECT 'OKC', 35.463, -97.515
  UNION ALL SELECT 'ORL', 28.539, -81.384
  UNION ALL SELECT 'PHI', 39.901, -75.172
  UNION ALL SELECT 'PHX', 33.446, -112.071
  UNION ALL SELECT 'POR', 45.532, -122.667
  UNION ALL SELECT 'SAC', 38.580, -121.500
  UNION ALL SELECT 'SAS', 29.427, -98.438
  UNION ALL SELECT 'TOR', 43.643, -79.379
  UNION ALL SELECT 'UTA', 40.768, -111.901
  UNION ALL SELECT 'WAS', 38.898, -77.021
),

travel AS (
  -- Great-circle miles (haversine, Earth radius 3958.8 mi) from the arena of the team's
  -- previous game of the season to this game's arena; 0 for its first game.
  SELECT
    q.team_abbr,
    q.game_date,
    IF(
      q.previous_site_abbr IS NULL,
      0,
      2 * 3958.8 * ASIN(SQRT(
        POW(SIN((b.lat - a.lat) * ACOS(-1) / 360), 2)
        + COS(a.lat * ACOS(-1) / 180) * COS(b.lat * ACOS(-1) / 180)
        * POW(SIN((b.lon - a.lon) * ACOS(-1) / 360), 2)
      ))
    ) AS miles
  FROM timeline AS q
  LEFT JOIN arenas AS a ON a.team_abbr = q.previous_site_abbr
  LEFT JOIN arenas AS b ON b.team_abbr = q.site_abbr
  WHERE q.game_date BETWEEN @start_date AND @end_date
),

-- The report is one row per player, game and report hour; team is the tricode and statuses
-- are lowercase (out / doubtful / questionable / probable / available). Each player's latest
-- entry for the game counts (production: latest report_date, then report_hour).
injuries AS (
  SELECT
    game_date,
    team AS team_abbr,
    player_lookup,
    LOWER(injury_status) AS status
  FROM nba_raw.nbac_injury_report
  WHERE report_date BETWEEN DATE_SUB(@start_date, INTERVAL 7 DAY) AND @end_date
    AND game_date BETWEEN @start_date AND @end_date
    AND report_date <= game_date
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_date, team, player_lookup
    ORDER BY report_date DESC, report_hour DESC NULLS LAST, LOWER(injury_status)
  ) = 1
),

recent_minutes AS (
  SELECT
    game_date,
    team_abbr,
    player_lookup,
    -- player_game_summary's rule: "MM:SS" (seconds 0..59) or a plain number; anything else
    -- is NULL (not a game played), never a plausible number.
    IF(
      REGEXP_CONTAINS(REPLACE(TRIM(minutes), ' ', ''), r'^[0-9]+:[0-9]+$'),
      IF(
        SAFE_CAST(SPLIT(REPLACE(TRIM(minutes), ' ', ''), ':')[SAFE_OFFSET(1)] AS INT64) < 60,
        SAFE_CAST(SPLIT(REPLACE(TRIM(minutes), ' ', ''), ':')[SAFE_OFFSET(0)] AS INT64) * 60
        + SAFE_CAST(SPLIT(REPLACE(TRIM(minutes), ' ', ''), ':')[SAFE_OFFSET(1)] AS INT64),
        NULL
      ),
      SAFE_CAST(REPLACE(TRIM(minutes), ' ', '') AS FLOAT64) * 60
    ) / 60 AS minutes_played
  FROM nba_raw.nbac_gamebook_player_stats
  WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 30 DAY)
    AND DATE_SUB(@end_date, INTERVAL 1 DAY)
    AND LOWER(player_status) = 'active'
  -- One row per (game_id, player_lookup): the latest load wins, as in production's processor.
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_id, player_lookup
    ORDER BY processed_at DESC NULLS LAST, minutes DESC, team_abbr
  ) = 1
),

starters_out AS (
  SELECT i.game_date, i.team_abbr, i.player_lookup
  FROM injuries AS i
  INNER JOIN recent_minutes AS m
    ON m.player_lookup = i.player_lookup
    AND m.team_abbr = i.team_abbr
    AND m.game_date BETWEEN DATE_SUB(i.game_date, INTERVAL 30 DAY)
    AND DATE_SUB(i.game_date, INTERVAL 1 DAY)
  WHERE i.status = 'out'
    AND m.minutes_played > 0
  GROUP BY i.game_date, i.team_abbr, i.player_lookup
  HAVING AVG(CAST(m.minutes_played AS NUMERIC(38, 9))) > 20
),

injury_counts AS (
  SELECT
    i.game_date,
    i.team_abbr,
    COUNTIF(i.status = 'questionable') AS questionable_players_count,
    COUNT(so.player_lookup) AS starters_out_count
  FROM injuries AS i
  LEFT JOIN starters_out AS so
    ON so.game_date = i.game_date
    AND so.team_abbr = i.team_abbr
    AND so.player_lookup = i.player_lookup
  GROUP BY i.game_date, i.team_abbr
),

-- The completeness checker's day windows (header): expected = the team's final games, actual =
-- its home dates in the schedule, both on [date - N, date].
window_days AS (
  -- Within the schedule's 366-day window the view already reads (catalog: EXPECTED_GAMES).
  SELECT
    team_abbr,
    s.game_date,
    s.home_team_tricode = team_abbr AS home,
    s.game_status = 3 AS final
  FROM nba_backfill_views.schedule_latest AS s,
    UNNEST([s.home_team_tricode, s.away_team_tricode]) AS team_abbr
),
windows AS (
  SELECT
    q.team_abbr,
    q.game_date,
    COUNT(DISTINCT IF(w.final AND DATE_DIFF(q.game_date, w.game_date, DAY) <= 7,
      w.game_date, NULL)) AS e7,
    COUNT(DISTINCT IF(w.home AND DATE_DIFF(q.game_date, w.game_date, DAY) <= 7,
      w.game_date, NULL)) AS a7,
    COUNT(DISTINCT IF(w.final, w.game_date, NULL)) AS e14,
    COUNT(DISTINCT IF(w.home, w.game_date, NULL)) AS a14
  FROM timeline AS q
  JOIN window_days AS w
    ON w.team_abbr = q.team_abbr
    AND DATE_DIFF(q.game_date, w.game_date, DAY) BETWEEN 0 AND 14
  WHERE q.game_date BETWEEN @start_date AND @end_date
  GROUP BY q.team_abbr, q.game_date
),
completeness AS (
  SELECT
    *,
    IF(e7 > 0, ROUND(CAST(a7 AS NUMERIC) * 100 / e7, 1), 100) AS pct7,
    IF(e14 > 0, ROUND(CAST(a14 AS NUMERIC) * 100 / e14, 1), 100) AS pct14
  FROM windows
),
quality AS (
  SELECT
    c.*,
    EXTRACT(MONTH FROM c.game_date) IN (10, 11, 4) AS season_boundary,
    DATE_DIFF(
      c.game_date,
      DATE(IF(EXTRACT(MONTH FROM c.game_date) >= 10, EXTRACT(YEAR FROM c.game_date),
        EXTRACT(YEAR FROM c.game_date) - 1), 10, 1),
      DAY
    ) < 30 AS bootstrap,
    -- Python's f'{pct:.0f}': half to even on the 1-decimal pct
    IF(
      c.pct7 - FLOOR(c.pct7) = 0.5 AND MOD(CAST(FLOOR(c.pct7) AS INT64), 2) = 0,
      CAST(FLOOR(c.pct7) AS INT64), CAST(ROUND(c.pct7) AS INT64)
    ) AS pct7_text,
    IF(
      c.pct14 - FLOOR(c.pct14) = 0.5 AND MOD(CAST(FLOOR(c.pct14) AS INT64), 2) = 0,
      CAST(FLOOR(c.pct14) AS INT64), CAST(ROUND(c.pct14) AS INT64)
    ) AS pct14_text
  FROM completeness AS c
),
issues AS (
  SELECT
    *,
    ARRAY_CONCAT(
      IF(a7 >= e7, [], [CONCAT('l7d_incomplete:', CAST(pct7_text AS STRING), '%')]),
      IF(a14 >= e14, [], [CONCAT('l14d_incomplete:', CAST(pct14_text AS STRING), '%')]),
      IF(season_boundary, ['season_boundary'], []),
      IF(bootstrap, ['bootstrap_mode'], [])
    ) AS issues
  FROM quality
)

SELECT
  CAST(q.nba_game_id AS STRING) AS game_id,
  CAST(q.game_date AS DATE) AS game_date,
  CAST(q.season_year AS INT64) AS season_year,
  CAST(q.team_abbr AS STRING) AS team_abbr,
  CAST(q.opponent_team_abbr AS STRING) AS opponent_team_abbr,
  CAST(q.home_game AS BOOL) AS home_game,
  CAST(COALESCE(DATE_DIFF(q.game_date, q.previous_game_date, DAY) = 1, FALSE) AS BOOL)
    AS is_back_to_back,
  CAST(DATE_DIFF(q.game_date, q.previous_game_date, DAY) AS INT64) AS days_since_last_game,
  -- Production's rest convention: days off between games (0 on a back-to-back).
  CAST(DATE_DIFF(q.game_date, q.previous_game_date, DAY) - 1 AS INT64) AS team_days_rest,
  CAST(COALESCE(DATE_DIFF(q.game_date, q.previous_game_date, DAY) = 1, FALSE) AS BOOL)
    AS team_back_to_back,
  CAST(q.game_number_in_season AS INT64) AS game_number_in_season,
  CAST(q.games_in_last_7_days AS INT64) AS games_in_last_7_days,
  CAST(q.games_in_last_14_days AS INT64) AS games_in_last_14_days,
  CAST(
    CASE q.team_abbr
      WHEN s.home_team_abbr THEN s.spread
      WHEN s.away_team_abbr THEN -s.spread
    END AS FLOAT64
  ) AS game_spread,
  CAST(t.total AS FLOAT64) AS game_total,
  CAST(GREATEST(COALESCE(q.win_streak, 0), 0) AS INT64) AS team_win_streak_entering,
  CAST(GREATEST(-COALESCE(q.win_streak, 0), 0) AS INT64) AS team_loss_streak_entering,
  CAST(q.last_game_margin AS INT64) AS last_game_margin,
  CAST(CASE WHEN q.last_game_margin > 0 THEN 'W' WHEN q.last_game_margin < 0 THEN 'L' END AS STRING)
    AS last_game_result,
  -- A tricode without a known arena leaves travel unknown: the row fails (REQUIRED) loudly.
  CAST(ROUND(tr.miles) AS INT64) AS travel_miles,
  CAST(COALESCE(ic.starters_out_count, 0) AS INT64) AS starters_out_count,
  CAST(COALESCE(ic.questionable_players_count, 0) AS INT64) AS questionable_players_count,
  CAST(s.bookmaker AS STRING) AS game_spread_source,
  CAST(t.bookmaker AS STRING) AS game_total_source,
  CAST(COALESCE(s.snapshot_timestamp, t.snapshot_timestamp) AS TIMESTAMP)
    AS betting_lines_updated_at,
  CAST(NULL AS FLOAT64) AS spread_movement,
  CAST(NULL AS FLOAT64) AS total_movement,
  -- completeness (L14d the primary window) and quality (header)
  CAST(cq.e14 AS INT64) AS expected_games_count,
  CAST(cq.a14 AS INT64) AS actual_games_count,
  CAST(cq.pct14 AS FLOAT64) AS completeness_percentage,
  CAST(GREATEST(cq.e14 - cq.a14, 0) AS INT64) AS missing_games_count,
  CAST(cq.pct7 >= 70 AND cq.pct14 >= 70 AS BOOL) AS is_production_ready,
  CAST(cq.issues AS ARRAY<STRING>) AS data_quality_issues,
  CAST(cq.pct7 AS FLOAT64) AS l7d_completeness_pct,
  CAST(cq.a7 >= cq.e7 AS BOOL) AS l7d_is_complete,
  CAST(cq.pct14 AS FLOAT64) AS l14d_completeness_pct,
  CAST(cq.a14 >= cq.e14 AS BOOL) AS l14d_is_complete,
  CAST(cq.a7 >= cq.e7 AND cq.a14 >= cq.e14 AS BOOL) AS all_windows_complete,
  CAST(
    CASE
      WHEN cq.pct14 >= 95 THEN 'gold'
      WHEN cq.pct14 >= 75 THEN 'silver'
      WHEN cq.pct14 >= 50 THEN 'bronze'
      ELSE 'poor'
    END AS STRING
  ) AS quality_tier,
  CAST(
    CASE
      WHEN cq.pct14 >= 95 THEN 95.0
      WHEN cq.pct14 >= 75 THEN 75.0
      WHEN cq.pct14 >= 50 THEN 50.0
      ELSE 25.0
    END AS FLOAT64
  ) AS quality_score,
  CAST(cq.issues AS ARRAY<STRING>) AS quality_issues,
  CAST(['nbac_schedule'] AS ARRAY<STRING>) AS data_sources,
  CAST(NULL AS TIMESTAMP) AS last_reprocess_attempt_at,
  CAST(0 AS INT64) AS reprocess_attempt_count,
  CAST(FALSE AS BOOL) AS circuit_breaker_active,
  CAST(NULL AS TIMESTAMP) AS circuit_breaker_until,
  CAST(FALSE AS BOOL) AS manual_override_required,
  CAST(cq.season_boundary AS BOOL) AS season_boundary_detected,
  CAST(cq.bootstrap AS BOOL) AS backfill_bootstrap_mode,
  CAST('processed_successfully' AS STRING) AS processing_decision_reason,
  CAST(NULL AS BOOL) AS early_season_flag,
  CAST(NULL AS STRING) AS insufficient_data_reason
FROM timeline AS q
LEFT JOIN nba_backfill_views.game_spreads AS s
  ON s.game_id = q.game_id
  AND s.game_date = q.game_date
LEFT JOIN nba_backfill_views.game_totals AS t
  ON t.game_id = q.game_id
  AND t.game_date = q.game_date
LEFT JOIN injury_counts AS ic
  ON ic.game_date = q.game_date
  AND ic.team_abbr = q.team_abbr
LEFT JOIN travel AS tr
  ON tr.game_date = q.game_date
  AND tr.team_abbr = q.team_abbr
LEFT JOIN issues AS cq
  ON cq.game_date = q.game_date
  AND cq.team_abbr = q.team_abbr
WHERE q.game_date BETWEEN @start_date AND @end_date
