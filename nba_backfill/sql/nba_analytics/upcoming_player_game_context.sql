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
-- Per column group, the processor path it follows (data_processors/analytics/
-- upcoming_player_game_context/):
--   days_rest_before_last_game (gap between his last two games of the 30 days),
--   days_since_2_plus_days_rest (days since his latest game that followed a gap of 2+ days),
--   back_to_backs_last_14_days (pairs of his games on consecutive days among those on
--   [date - 13, date - 1]); fourth_quarter_minutes_last_7, clutch_minutes_last_7_games NULL
--   as the processor writes them (a TODO there): player_stats.py calculate_fatigue_metrics
--   prop_over_streak / prop_under_streak (his consecutive latest games above / below the
--   current line; a push neither counts nor breaks, 0 without a line); shooting_pct_decline_
--   last_5, fourth_quarter_production_last_7 NULL as written: player_stats.py
--   opening_spread / opening_total (earliest snapshot, then bookmaker; the spread from the
--   team's side like game_spread), spread_movement / total_movement (current - opening, NULL
--   when either is NULL or 0, the processor's truthiness), game_spread_source /
--   game_total_source (the bookmakers of the latest snapshot, comma-joined in order):
--   betting_data.py; opening / current_points_line_source: the bookmaker of the opening /
--   current line row above (betting_data.py)
--   projected_usage_rate, next_opponent_win_pct, probable_teammates NULL; next_game_days_rest,
--   games_in_next_7_days, opponent_days_rest, opponent_games_in_next_7_days,
--   opponent_next_game_days_rest 0; next_game_is_primetime FALSE (TODOs there); the circuit
--   breaker of a first, successful processing (reprocess_attempt_count 0, not active, no
--   until / last attempt, manual_override_required FALSE, processing_decision_reason
--   'processed_successfully'), data_quality_issues empty, context_version 1:
--   calculators/context_builder.py
--   quality_tier / data_quality_tier and quality_score (gold 95 with 10+ games in the 30
--   days, silver 75 with 5+, else bronze 50), quality_issues (missing_game_spread,
--   missing_game_total, thin_sample:N/3 under 3 games), data_sources / primary_source_used
--   'player_game_summary', processed_with_issues = any issue: calculators/quality_flags.py
--   over shared/processors/patterns/quality_columns.py
--   player_status / injury_report: his latest injury-report entry for the date (latest report
--   date, then latest load), the report the reason unless empty or 'unknown', else the reason
--   category: loaders/game_data_loaders.py _extract_injuries; questionable_teammates NULL:
--   the builder writes no such key (it writes questionable_star_teammates, not a column)
--   season_boundary_detected (October, November, April) and backfill_bootstrap_mode (fewer than
--   30 days after October 1 of the date's season): calculators/completeness_checker_helper.py
--   over shared/utils/completeness_checker.py;
--   completeness (l5 / l10 / l7d / l14d / l30d _completeness_pct and _is_complete,
--   all_windows_complete; expected / actual / missing_games_count and completeness_percentage
--   are L30d's; is_production_ready = boundary or bootstrap or every window at 70 %): the same
--   helper and checker, DNP-aware with the gamebook as upstream. Expected = the final schedule
--   games of his latest team (his latest player_game_summary row of the 180 days before, DNPs
--   included): the last N (L5, L10) or those on [date - W, date - 1]. Actual = his gamebook
--   dates (any status) on [date - 30, date - 1] (game windows: the checker's max(3N, 30) days,
--   not capped at N) or [date - W, date - 1] (the checker's BETWEEN reaches the date, whose
--   gamebook the daily run does not have yet). DNPs = his gamebook dates with minutes NULL or
--   '00:00' (among his latest N rows of the 30 days, or those of the W days). pct = actual /
--   max(expected - DNPs, 0) * 100 rounded half to even to 1 (100 when nothing is left);
--   is_complete = actual >= expected - DNPs; missing = max(0, expected - DNPs - actual);
--   game_start_time_local: the schedule's game_date_est as h:mm AM/PM in America/New_York
--   plus ' ET' (the processor's _extract_game_time; its schedule query, loaders/
--   game_data_loaders.py, selects no arena_timezone, so the default zone always applies);
--   pace_differential (his team's mean pace - the opponent's, rounded to 2),
--   opponent_pace_last_10 (2), opponent_def_rating_last_10 (2): over each team's last 10
--   team_offense / team_defense_game_summary games before the date; opponent_ft_rate_allowed:
--   the mean of the opponent's per-game opp FTA * 100 / opponent_pace (each rounded to 3; its
--   last 10 games having both, pace > 0), rounded to 3; 0.0 without games: team_context.py.
--   The processor's floor is taken as written: games on or after DATE '2024-10-01' only, so
--   dates before it get its 0.0 fallbacks, as it would write them in a backfill. Divergence:
--   the games are also those of the catalog's 30-day look-back (in season 10 games fit in it);
--   after an off-season production reaches back to the prior season's last games, this does
--   not (0.0 until the season's first games).
--   travel_miles, time_zone_changes NULL as
--   written ("TBD" there): travel_context.py
--   universal_player_id: the registry's id of the lookup (any season; the lowest id if several,
--   where production keeps whichever row comes last): shared/utils/player_registry/reader.py
WITH gamebook AS (
  SELECT game_id, game_date, player_lookup, team_abbr, player_status
  FROM nba_raw.nbac_gamebook_player_stats
  WHERE game_date BETWEEN @start_date AND @end_date
    AND player_lookup IS NOT NULL  -- the key is REQUIRED in production's output
    -- The status filter comes before the latest load, as the processor's WHERE
    -- (queries/shared_ctes.py gamebook_players_with_games_cte) and player_game_summary do.
    AND LOWER(player_status) IN ('active', 'dnp')
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
  -- One row per key even if the gamebook lists a player twice (deterministic).
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY g.game_date, p.player_lookup
    ORDER BY g.game_id, p.team_abbr
  ) = 1
),

tip_offs AS (
  -- The schedule's tip-off of each game (its latest version; the latest tip if a game is listed
  -- twice, as the processor's dict keeps the last row of its ORDER BY game_date_est).
  SELECT
    CONCAT(FORMAT_DATE('%Y%m%d', game_date), '_', away_team_tricode, '_', home_team_tricode)
      AS game_id,
    game_date,
    game_date_est
  FROM nba_backfill_views.schedule_latest
  WHERE game_date BETWEEN @start_date AND @end_date
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_date, away_team_tricode, home_team_tricode
    ORDER BY game_date_est DESC NULLS LAST
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
    -- Days between this game and his previous one of the window (NULL for the oldest).
    DATE_DIFF(
      h.game_date,
      LEAD(h.game_date) OVER (PARTITION BY r.game_date, r.player_lookup ORDER BY h.game_date DESC),
      DAY
    ) AS gap_before,
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
    COUNT(*) AS games_last_30_days,
    MAX(IF(games_ago = 1, gap_before, NULL)) AS days_rest_before_last_game,
    MIN(IF(gap_before >= 2, days_ago, NULL)) AS days_since_2_plus_days_rest,
    -- A pair counts when both games are on [date - 13, date - 1].
    COUNTIF(gap_before = 1 AND days_ago + 1 <= 13) AS back_to_backs_last_14_days,
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

injuries AS (
  SELECT
    game_date,
    player_lookup,
    injury_status,
    CASE
      WHEN reason IS NOT NULL AND LOWER(reason) NOT IN ('unknown', 'nan', 'none', '') THEN reason
      WHEN reason_category IS NOT NULL
        AND LOWER(reason_category) NOT IN ('unknown', 'nan', 'none', '') THEN reason_category
    END AS report
  FROM nba_raw.nbac_injury_report
  -- report_date is the partition column (a filter on it is required): a report for a game is
  -- published on or before the game's date, so nothing after the window's end is needed.
  WHERE report_date <= @end_date
    AND game_date BETWEEN @start_date AND @end_date
    AND report_date <= game_date
    AND player_lookup IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_date, player_lookup
    ORDER BY report_date DESC, processed_at DESC, report_hour DESC, injury_status, reason
  ) = 1
),

registry AS (
  SELECT player_lookup, MIN(universal_player_id) AS universal_player_id
  FROM nba_reference.nba_players_registry
  WHERE player_lookup IS NOT NULL
  GROUP BY player_lookup
),

opening_lines AS (
  SELECT game_date, player_lookup, points_line, bookmaker
  FROM nba_backfill_views.player_points_props AS props
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_date, player_lookup
    ORDER BY snapshot_timestamp ASC NULLS LAST, bookmaker, points_line
  ) = 1
),

-- Each recent game against the current line, with where his streak breaks: the first game (most
-- recent first) on the other side of the line, or without points.
versus AS (
  SELECT
    rc.game_date,
    rc.player_lookup,
    rc.games_ago,
    rc.points > cl.points_line AS is_over,
    rc.points < cl.points_line AS is_under,
    MIN(IF(rc.points < cl.points_line OR rc.points IS NULL, rc.games_ago, NULL))
      OVER (PARTITION BY rc.game_date, rc.player_lookup) AS over_ends,
    MIN(IF(rc.points > cl.points_line OR rc.points IS NULL, rc.games_ago, NULL))
      OVER (PARTITION BY rc.game_date, rc.player_lookup) AS under_ends
  FROM recent AS rc
  INNER JOIN nba_backfill_views.current_points_lines AS cl
    ON cl.game_date = rc.game_date
    AND cl.player_lookup = rc.player_lookup
),

streaks AS (
  SELECT
    game_date,
    player_lookup,
    COUNTIF(is_over AND games_ago < COALESCE(over_ends, 100000)) AS over_streak,
    COUNTIF(is_under AND games_ago < COALESCE(under_ends, 100000)) AS under_streak
  FROM versus
  GROUP BY game_date, player_lookup
),

opening_spreads AS (
  -- The earliest snapshot, then the alphabetically first bookmaker (the mirror of
  -- game_spreads / game_totals' latest-snapshot rule).
  SELECT game_id, game_date, spread
  FROM nba_backfill_views.game_line_points
  WHERE spread IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_id, game_date
    ORDER BY snapshot_timestamp, bookmaker, spread
  ) = 1
),

opening_totals AS (
  SELECT game_id, game_date, total
  FROM nba_backfill_views.game_line_points
  WHERE total IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_id, game_date
    ORDER BY snapshot_timestamp, bookmaker, total
  ) = 1
),

latest_line_books AS (
  SELECT
    game_id,
    game_date,
    bookmaker,
    spread IS NOT NULL AS is_spread,
    snapshot_timestamp = MAX(IF(spread IS NOT NULL, snapshot_timestamp, NULL))
      OVER (PARTITION BY game_id, game_date) AS latest_spread,
    snapshot_timestamp = MAX(IF(total IS NOT NULL, snapshot_timestamp, NULL))
      OVER (PARTITION BY game_id, game_date) AS latest_total,
    total IS NOT NULL AS is_total
  FROM nba_backfill_views.game_line_points
),

line_sources AS (
  SELECT
    game_id,
    game_date,
    STRING_AGG(DISTINCT IF(is_spread AND latest_spread, bookmaker, NULL), ',' ORDER BY
      IF(is_spread AND latest_spread, bookmaker, NULL)) AS spread_source,
    STRING_AGG(DISTINCT IF(is_total AND latest_total, bookmaker, NULL), ',' ORDER BY
      IF(is_total AND latest_total, bookmaker, NULL)) AS total_source
  FROM latest_line_books
  GROUP BY game_id, game_date
),

lines AS (
  SELECT
    r.game_date,
    r.player_lookup,
    CASE r.team_abbr
      WHEN s.home_team_abbr THEN s.spread
      WHEN s.away_team_abbr THEN -s.spread
    END AS game_spread,
    IF(r.home_game, os.spread, -os.spread) AS opening_spread,
    t.total AS game_total,
    ot.total AS opening_total,
    src.spread_source,
    src.total_source
  FROM roster AS r
  LEFT JOIN nba_backfill_views.game_spreads AS s
    ON s.game_id = r.game_id
    AND s.game_date = r.game_date
  LEFT JOIN nba_backfill_views.game_totals AS t
    ON t.game_id = r.game_id
    AND t.game_date = r.game_date
  LEFT JOIN opening_spreads AS os
    ON os.game_id = r.game_id
    AND os.game_date = r.game_date
  LEFT JOIN opening_totals AS ot
    ON ot.game_id = r.game_id
    AND ot.game_date = r.game_date
  LEFT JOIN line_sources AS src
    ON src.game_id = r.game_id
    AND src.game_date = r.game_date
),

-- team_context.py: each team's last 10 games before the date (see the header).
match_teams AS (
  SELECT DISTINCT game_date, team_abbr FROM roster
  UNION DISTINCT
  SELECT DISTINCT game_date, opponent_team_abbr FROM roster
),

offense_recent AS (
  SELECT
    mt.game_date,
    mt.team_abbr,
    t.pace,
    ROW_NUMBER() OVER (PARTITION BY mt.game_date, mt.team_abbr ORDER BY t.game_date DESC) AS rn
  FROM match_teams AS mt
  INNER JOIN nba_analytics.team_offense_game_summary AS t
    ON t.team_abbr = mt.team_abbr
    AND t.game_date BETWEEN DATE_SUB(mt.game_date, INTERVAL 30 DAY)
    AND DATE_SUB(mt.game_date, INTERVAL 1 DAY)
    AND t.game_date >= DATE '2024-10-01'  -- team_context.py's floor, as written
  WHERE t.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 30 DAY)
    AND DATE_SUB(@end_date, INTERVAL 1 DAY)
),

defense_recent AS (
  SELECT
    mt.game_date,
    mt.team_abbr,
    d.defensive_rating,
    -- FTA allowed per 100 opponent possessions, per game (games without both skipped)
    IF(
      d.opp_ft_attempts IS NOT NULL AND d.opponent_pace > 0,
      ROUND(CAST(d.opp_ft_attempts AS NUMERIC) * 100 / d.opponent_pace, 3),
      NULL
    ) AS ft_rate,
    ROW_NUMBER() OVER (PARTITION BY mt.game_date, mt.team_abbr ORDER BY d.game_date DESC) AS rn,
    ROW_NUMBER() OVER (
      PARTITION BY mt.game_date, mt.team_abbr, d.opp_ft_attempts IS NOT NULL AND d.opponent_pace > 0
      ORDER BY d.game_date DESC
    ) AS ft_rn
  FROM match_teams AS mt
  INNER JOIN nba_analytics.team_defense_game_summary AS d
    ON d.defending_team_abbr = mt.team_abbr
    AND d.game_date BETWEEN DATE_SUB(mt.game_date, INTERVAL 30 DAY)
    AND DATE_SUB(mt.game_date, INTERVAL 1 DAY)
    AND d.game_date >= DATE '2024-10-01'  -- team_context.py's floor, as written
  WHERE d.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 30 DAY)
    AND DATE_SUB(@end_date, INTERVAL 1 DAY)
),

team_form AS (
  -- Exact averages (NUMERIC); NULL = no game.
  SELECT
    mt.game_date,
    mt.team_abbr,
    o.pace,
    d.def_rating,
    d.ft_rate
  FROM match_teams AS mt
  LEFT JOIN (
    SELECT game_date, team_abbr, AVG(CAST(pace AS NUMERIC)) AS pace
    FROM offense_recent
    WHERE rn <= 10
    GROUP BY game_date, team_abbr
  ) AS o
    ON o.game_date = mt.game_date
    AND o.team_abbr = mt.team_abbr
  LEFT JOIN (
    SELECT
      game_date,
      team_abbr,
      AVG(IF(rn <= 10, CAST(defensive_rating AS NUMERIC), NULL)) AS def_rating,
      AVG(IF(ft_rate IS NOT NULL AND ft_rn <= 10, CAST(ft_rate AS NUMERIC), NULL)) AS ft_rate
    FROM defense_recent
    GROUP BY game_date, team_abbr
  ) AS d
    ON d.game_date = mt.game_date
    AND d.team_abbr = mt.team_abbr
),

-- Production's completeness checker as this processor calls it: five windows, DNP-aware, the
-- gamebook as the upstream table (see the header).
cc_windows AS (
  -- games: the team's last N final games (NULL: a day window); days: the gamebook look-back
  -- of the actual and DNP counts (the checker's max(3N, 30) days for a game window).
  SELECT 'l5' AS name, 5 AS games, 30 AS days
  UNION ALL SELECT 'l10', 10, 30
  UNION ALL SELECT 'l7d', NULL, 7
  UNION ALL SELECT 'l14d', NULL, 14
  UNION ALL SELECT 'l30d', NULL, 30
),

cc_team AS (
  -- His latest team: that of his latest player_game_summary row (DNPs included) of the 180
  -- days before, as player_daily_cache's checker bounds it; none: nothing is expected.
  SELECT r.game_date, r.player_lookup, h.team_abbr
  FROM roster AS r
  INNER JOIN nba_analytics.player_game_summary AS h
    ON h.player_lookup = r.player_lookup
    AND h.game_date BETWEEN DATE_SUB(r.game_date, INTERVAL 180 DAY)
    AND DATE_SUB(r.game_date, INTERVAL 1 DAY)
  WHERE h.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 180 DAY)
    AND DATE_SUB(@end_date, INTERVAL 1 DAY)
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY r.game_date, r.player_lookup
    ORDER BY h.game_date DESC, h.team_abbr
  ) = 1
),

cc_team_games AS (
  SELECT DISTINCT team_abbr, game_date
  FROM nba_backfill_views.schedule_latest,
    UNNEST([home_team_tricode, away_team_tricode]) AS team_abbr
  WHERE game_status = 3 AND game_date < @end_date
),

cc_expected AS (
  -- The team's final games before the date: the last 5 / 10, those of the last 7 / 14 / 30 days.
  SELECT
    d.game_date,
    d.team_abbr,
    LEAST(COUNT(tg.game_date), 5) AS l5,
    LEAST(COUNT(tg.game_date), 10) AS l10,
    COUNTIF(DATE_DIFF(d.game_date, tg.game_date, DAY) <= 7) AS l7d,
    COUNTIF(DATE_DIFF(d.game_date, tg.game_date, DAY) <= 14) AS l14d,
    COUNTIF(DATE_DIFF(d.game_date, tg.game_date, DAY) <= 30) AS l30d
  FROM (SELECT DISTINCT game_date, team_abbr FROM cc_team) AS d
  LEFT JOIN cc_team_games AS tg
    ON tg.team_abbr = d.team_abbr
    AND tg.game_date < d.game_date
  GROUP BY d.game_date, d.team_abbr
),

cc_gamebook AS (
  -- His gamebook rows of the 30 days before, any status (the checker counts every row of the
  -- table), one per game (the latest load), latest first. The date itself is left out: the
  -- daily run computes the context before its games have a gamebook.
  SELECT
    r.game_date,
    r.player_lookup,
    gb.game_date AS played_on,
    DATE_DIFF(r.game_date, gb.game_date, DAY) AS days_before,
    gb.minutes IS NULL OR gb.minutes = '00:00' AS dnp,
    ROW_NUMBER() OVER (
      PARTITION BY r.game_date, r.player_lookup
      ORDER BY gb.game_date DESC, gb.minutes IS NULL OR gb.minutes = '00:00'
    ) AS rn
  FROM roster AS r
  INNER JOIN (
    SELECT game_id, game_date, player_lookup, minutes
    FROM nba_raw.nbac_gamebook_player_stats
    WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 30 DAY)
      AND DATE_SUB(@end_date, INTERVAL 1 DAY)
    QUALIFY ROW_NUMBER() OVER (
      PARTITION BY game_id, player_lookup
      ORDER BY processed_at DESC NULLS LAST, minutes DESC, team_abbr, player_status
    ) = 1
  ) AS gb
    ON gb.player_lookup = r.player_lookup
    AND gb.game_date BETWEEN DATE_SUB(r.game_date, INTERVAL 30 DAY)
    AND DATE_SUB(r.game_date, INTERVAL 1 DAY)
),

cc_counts AS (
  -- Per window: actual = his gamebook dates of the look-back (a game window's count is not
  -- capped at N); DNPs = those with minutes NULL or '00:00' (of a game window: among his
  -- latest N rows).
  SELECT
    r.game_date,
    r.player_lookup,
    w.name,
    COUNT(DISTINCT IF(gb.days_before <= w.days, gb.played_on, NULL)) AS actual,
    COUNT(
      DISTINCT IF(
        gb.dnp AND gb.days_before <= w.days AND (w.games IS NULL OR gb.rn <= w.games),
        gb.played_on,
        NULL
      )
    ) AS dnps
  FROM roster AS r
  CROSS JOIN cc_windows AS w
  LEFT JOIN cc_gamebook AS gb
    ON gb.game_date = r.game_date
    AND gb.player_lookup = r.player_lookup
  GROUP BY r.game_date, r.player_lookup, w.name
),

cc_adjusted AS (
  -- adjusted = expected - DNPs (never below 0): the checker's expected count when DNP-aware.
  SELECT
    game_date,
    player_lookup,
    name,
    expected,
    actual,
    GREATEST(expected - dnps, 0) AS adjusted
  FROM (
    SELECT
      c.game_date,
      c.player_lookup,
      c.name,
      c.actual,
      c.dnps,
      COALESCE(
        CASE c.name
          WHEN 'l5' THEN e.l5
          WHEN 'l10' THEN e.l10
          WHEN 'l7d' THEN e.l7d
          WHEN 'l14d' THEN e.l14d
          WHEN 'l30d' THEN e.l30d
        END,
        0
      ) AS expected
    FROM cc_counts AS c
    LEFT JOIN cc_team AS t
      ON t.game_date = c.game_date
      AND t.player_lookup = c.player_lookup
    LEFT JOIN cc_expected AS e
      ON e.game_date = t.game_date
      AND e.team_abbr = t.team_abbr
  )
),

cc_scored AS (
  -- pct = actual / (expected - DNPs) * 100 in tenths, rounded half to even as Python's
  -- round(x, 1) does, in exact integers: tenths = floor(num / den) with num = 2000 actual +
  -- adjusted, den = 2 adjusted (i.e. 1000 actual / adjusted + 1/2), one less on an odd tie;
  -- 100 when nothing is left to expect.
  SELECT
    game_date,
    player_lookup,
    name,
    expected,
    actual,
    adjusted,
    actual >= adjusted AS is_complete,
    IF(
      adjusted > 0,
      CAST(
        DIV(num, NULLIF(den, 0))
        - IF(MOD(num, NULLIF(den, 0)) = 0 AND MOD(DIV(num, NULLIF(den, 0)), 2) = 1, 1, 0)
        AS FLOAT64
      ) / 10,
      100
    ) AS pct
  FROM (SELECT *, 2000 * actual + adjusted AS num, 2 * adjusted AS den FROM cc_adjusted)
),

completeness AS (
  SELECT
    game_date,
    player_lookup,
    MAX(IF(name = 'l30d', expected, NULL)) AS expected_30,
    MAX(IF(name = 'l30d', actual, NULL)) AS actual_30,
    MAX(IF(name = 'l30d', GREATEST(adjusted - actual, 0), NULL)) AS missing_30,
    MAX(IF(name = 'l5', pct, NULL)) AS pct_l5,
    MAX(IF(name = 'l10', pct, NULL)) AS pct_l10,
    MAX(IF(name = 'l7d', pct, NULL)) AS pct_l7d,
    MAX(IF(name = 'l14d', pct, NULL)) AS pct_l14d,
    MAX(IF(name = 'l30d', pct, NULL)) AS pct_l30d,
    COUNTIF(name = 'l5' AND is_complete) > 0 AS complete_l5,
    COUNTIF(name = 'l10' AND is_complete) > 0 AS complete_l10,
    COUNTIF(name = 'l7d' AND is_complete) > 0 AS complete_l7d,
    COUNTIF(name = 'l14d' AND is_complete) > 0 AS complete_l14d,
    COUNTIF(name = 'l30d' AND is_complete) > 0 AS complete_l30d,
    COUNTIF(is_complete) = 5 AS all_complete,
    -- each window production-ready at the checker's 70 %
    COUNTIF(pct >= 70) = 5 AS all_ready,
    EXTRACT(MONTH FROM game_date) IN (10, 11, 4) AS season_boundary,
    DATE_DIFF(
      game_date,
      DATE(IF(EXTRACT(MONTH FROM game_date) >= 10, 0, -1) + EXTRACT(YEAR FROM game_date), 10, 1),
      DAY
    ) < 30 AS bootstrap
  FROM cc_scored
  GROUP BY game_date, player_lookup
)


SELECT
  CAST(r.game_id AS STRING) AS game_id,
  CAST(r.game_date AS DATE) AS game_date,
  CAST(r.player_lookup AS STRING) AS player_lookup,
  CAST(reg.universal_player_id AS STRING) AS universal_player_id,
  CAST(inj.injury_status AS STRING) AS player_status,
  CAST(inj.report AS STRING) AS injury_report,
  CAST(NULL AS INT64) AS questionable_teammates,
  CAST(r.team_abbr AS STRING) AS team_abbr,
  CAST(r.opponent_team_abbr AS STRING) AS opponent_team_abbr,
  CAST(r.home_game AS BOOL) AS home_game,
  CAST(cl.points_line IS NOT NULL AS BOOL) AS has_prop_line,
  CAST(ol.points_line AS FLOAT64) AS opening_points_line,
  CAST(cl.points_line AS FLOAT64) AS current_points_line,
  CAST(cl.points_line - ol.points_line AS FLOAT64) AS line_movement,
  CAST(ol.bookmaker AS STRING) AS opening_points_line_source,
  CAST(cl.bookmaker AS STRING) AS current_points_line_source,
  CAST(ln.game_spread AS FLOAT64) AS game_spread,
  CAST(ln.opening_spread AS FLOAT64) AS opening_spread,
  CAST(
    IF(ln.game_spread != 0 AND ln.opening_spread != 0, ln.game_spread - ln.opening_spread, NULL)
    AS FLOAT64
  ) AS spread_movement,
  CAST(ln.spread_source AS STRING) AS game_spread_source,
  CAST(ln.game_total AS FLOAT64) AS game_total,
  CAST(ln.opening_total AS FLOAT64) AS opening_total,
  CAST(
    IF(ln.game_total != 0 AND ln.opening_total != 0, ln.game_total - ln.opening_total, NULL)
    AS FLOAT64
  ) AS total_movement,
  CAST(ln.total_source AS STRING) AS game_total_source,
  -- team_context.py rounds each in SQL and returns 0.0 without data
  CAST(COALESCE(ROUND(tf.pace - otf.pace, 2), 0) AS FLOAT64) AS pace_differential,
  CAST(COALESCE(ROUND(otf.pace, 2), 0) AS FLOAT64) AS opponent_pace_last_10,
  CAST(COALESCE(ROUND(otf.ft_rate, 3), 0) AS FLOAT64) AS opponent_ft_rate_allowed,
  CAST(COALESCE(ROUND(otf.def_rating, 2), 0) AS FLOAT64) AS opponent_def_rating_last_10,
  -- h:mm AM/PM in the arena's zone: the processor's schedule query selects no arena_timezone,
  -- so its default (America/New_York, "ET") always applies
  CAST(
    CONCAT(
      LTRIM(FORMAT_DATETIME('%I:%M %p', DATETIME(tip.game_date_est, 'America/New_York')), '0'),
      ' ET'
    ) AS STRING
  ) AS game_start_time_local,
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
  CAST(f.days_rest_before_last_game AS INT64) AS days_rest_before_last_game,
  CAST(f.days_since_2_plus_days_rest AS INT64) AS days_since_2_plus_days_rest,
  CAST(COALESCE(f.back_to_backs_last_14_days, 0) AS INT64) AS back_to_backs_last_14_days,
  CAST(NULL AS INT64) AS fourth_quarter_minutes_last_7,
  CAST(NULL AS INT64) AS clutch_minutes_last_7_games,
  CAST(COALESCE(st.over_streak, 0) AS INT64) AS prop_over_streak,
  CAST(COALESCE(st.under_streak, 0) AS INT64) AS prop_under_streak,
  CAST(NULL AS FLOAT64) AS shooting_pct_decline_last_5,
  CAST(NULL AS FLOAT64) AS fourth_quarter_production_last_7,
  CAST(NULL AS FLOAT64) AS projected_usage_rate,
  CAST(0 AS INT64) AS next_game_days_rest,
  CAST(0 AS INT64) AS games_in_next_7_days,
  CAST(NULL AS FLOAT64) AS next_opponent_win_pct,
  CAST(FALSE AS BOOL) AS next_game_is_primetime,
  CAST(0 AS INT64) AS opponent_days_rest,
  CAST(0 AS INT64) AS opponent_games_in_next_7_days,
  CAST(0 AS INT64) AS opponent_next_game_days_rest,
  CAST(NULL AS INT64) AS probable_teammates,
  CAST([] AS ARRAY<STRING>) AS data_quality_issues,
  CAST(NULL AS TIMESTAMP) AS last_reprocess_attempt_at,
  CAST(0 AS INT64) AS reprocess_attempt_count,
  CAST(FALSE AS BOOL) AS circuit_breaker_active,
  CAST(NULL AS TIMESTAMP) AS circuit_breaker_until,
  CAST(FALSE AS BOOL) AS manual_override_required,
  CAST('processed_successfully' AS STRING) AS processing_decision_reason,
  CAST(1 AS INT64) AS context_version,
  CAST(cc.season_boundary AS BOOL) AS season_boundary_detected,
  CAST(cc.bootstrap AS BOOL) AS backfill_bootstrap_mode,
  CAST(cc.expected_30 AS INT64) AS expected_games_count,
  CAST(cc.actual_30 AS INT64) AS actual_games_count,
  CAST(cc.pct_l30d AS FLOAT64) AS completeness_percentage,
  CAST(cc.missing_30 AS INT64) AS missing_games_count,
  CAST(cc.season_boundary OR cc.bootstrap OR cc.all_ready AS BOOL) AS is_production_ready,
  CAST(cc.pct_l5 AS FLOAT64) AS l5_completeness_pct,
  CAST(cc.complete_l5 AS BOOL) AS l5_is_complete,
  CAST(cc.pct_l10 AS FLOAT64) AS l10_completeness_pct,
  CAST(cc.complete_l10 AS BOOL) AS l10_is_complete,
  CAST(cc.pct_l7d AS FLOAT64) AS l7d_completeness_pct,
  CAST(cc.complete_l7d AS BOOL) AS l7d_is_complete,
  CAST(cc.pct_l14d AS FLOAT64) AS l14d_completeness_pct,
  CAST(cc.complete_l14d AS BOOL) AS l14d_is_complete,
  CAST(cc.pct_l30d AS FLOAT64) AS l30d_completeness_pct,
  CAST(cc.complete_l30d AS BOOL) AS l30d_is_complete,
  CAST(cc.all_complete AS BOOL) AS all_windows_complete,
  CAST(NULL AS INT64) AS travel_miles,
  CAST(NULL AS INT64) AS time_zone_changes,
  CAST(
    CASE
      WHEN COALESCE(f.games_last_30_days, 0) >= 10 THEN 'gold'
      WHEN COALESCE(f.games_last_30_days, 0) >= 5 THEN 'silver'
      ELSE 'bronze'
    END AS STRING
  ) AS quality_tier,
  CAST(
    CASE
      WHEN COALESCE(f.games_last_30_days, 0) >= 10 THEN 'gold'
      WHEN COALESCE(f.games_last_30_days, 0) >= 5 THEN 'silver'
      ELSE 'bronze'
    END AS STRING
  ) AS data_quality_tier,
  CAST(
    CASE
      WHEN COALESCE(f.games_last_30_days, 0) >= 10 THEN 95
      WHEN COALESCE(f.games_last_30_days, 0) >= 5 THEN 75
      ELSE 50
    END AS FLOAT64
  ) AS quality_score,
  CAST(
    ARRAY_CONCAT(
      IF(ln.game_spread IS NULL, ARRAY<STRING>['missing_game_spread'], ARRAY<STRING>[]),
      IF(ln.game_total IS NULL, ARRAY<STRING>['missing_game_total'], ARRAY<STRING>[]),
      IF(
        COALESCE(f.games_last_30_days, 0) < 3,
        ARRAY<STRING>[CONCAT('thin_sample:', CAST(COALESCE(f.games_last_30_days, 0) AS STRING), '/3')],
        ARRAY<STRING>[]
      )
    ) AS ARRAY<STRING>
  ) AS quality_issues,
  CAST(ARRAY<STRING>['player_game_summary'] AS ARRAY<STRING>) AS data_sources,
  CAST('player_game_summary' AS STRING) AS primary_source_used,
  CAST(
    ln.game_spread IS NULL OR ln.game_total IS NULL OR COALESCE(f.games_last_30_days, 0) < 3
    AS BOOL
  ) AS processed_with_issues,
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
LEFT JOIN lines AS ln
  ON ln.game_date = r.game_date
  AND ln.player_lookup = r.player_lookup
LEFT JOIN injuries AS inj
  ON inj.game_date = r.game_date
  AND inj.player_lookup = r.player_lookup
LEFT JOIN registry AS reg
  ON reg.player_lookup = r.player_lookup
LEFT JOIN streaks AS st
  ON st.game_date = r.game_date
  AND st.player_lookup = r.player_lookup
LEFT JOIN team_form AS tf
  ON tf.game_date = r.game_date
  AND tf.team_abbr = r.team_abbr
LEFT JOIN team_form AS otf
  ON otf.game_date = r.game_date
  AND otf.team_abbr = r.opponent_team_abbr
LEFT JOIN tip_offs AS tip
  ON tip.game_id = r.game_id
  AND tip.game_date = r.game_date
INNER JOIN completeness AS cc
  ON cc.game_date = r.game_date
  AND cc.player_lookup = r.player_lookup
