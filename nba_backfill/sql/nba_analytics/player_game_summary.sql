-- nba_analytics.player_game_summary
-- One row = one player in one final game (key: game_date, player_lookup): the gamebook's
-- 'active' and 'dnp' players (inactive excluded) of the schedule's games on
-- [@start_date, @end_date]. DNP rows have minutes_played 0 and zero stats.
--   minutes_played = "MM:SS" parsed as MM + SS/60 (or a plain number of minutes), rounded
--                    to 1 decimal. A value that does not parse (NULL, "", "-", seconds
--                    >= 60, "1:2:3", …) is NULL for an active player, never 0: production's
--                    _parse_minutes_to_decimal returns None; the unparsed_minutes audit
--                    reports those rows.
--   usage_rate     = 100 * (FGA + 0.44*FTA + TOV) * 48
--                    / (minutes_played * (team FGA + 0.44*team FTA + team TOV)),
--                    team totals from team_offense_game_summary; NULL when the team row is
--                    missing, minutes_played is 0 or NULL, or the result exceeds 100
--   ts_pct  = PTS / (2 * (FGA + 0.44*FTA));  efg_pct = (FGM + 0.5*3PM) / FGA (NULL on 0 shots)
--   starter_flag = minutes_played > 20 (FALSE when minutes_played is NULL: REQUIRED)
--   points_line = the current line: the latest snapshot, ties broken by the alphabetically
--   first bookmaker. over_under_result = 'OVER' when points >= line else 'UNDER', and
--   margin = points - line; both NULL without a line, and NULL for players who did not
--   play (minutes_played = 0): sportsbooks void those bets, so they are not outcomes.
-- Zone columns come from the play-by-play: NULL when the game has none (partial history).
-- win_flag: the team's gamebook points beat the opponent's. is_active from the status; is_dnp
-- also for an active player with 0 minutes (production's processor).
-- Follows data_processors/analytics/player_game_summary/player_game_summary_processor.py of
-- the platform (formulas, columns; margin = points - line as production names it). Per column
-- group, the processor path it follows (paths under data_processors/analytics/
-- player_game_summary/):
--   universal_player_id: sources/player_registry.py (shared/utils/player_registry/reader.py,
--     get_universal_ids_batch: the registry's id of the player_lookup, any season; the
--     smallest id when a lookup has several). Production skips a player the registry lacks;
--     the row is kept here with a NULL id (the expected set is the gamebook's players).
--   paint_blocks / mid_range_blocks / three_pt_blocks (the blocker's blocked shots by the
--     shot's zone), and1_count (his 'Free Throw 1 of 1' events, the and-one free throw):
--     sources/shot_zone_analyzer.py (_extract_from_bigdataball's block_aggregates and
--     and1_events, read from the NBA.com play-by-play like the zones); 0 for a player without
--     such events in a game with play-by-play, NULL when the game has none, as the zones.
--   points_line_source (the current line's bookmaker), opening_line (the same bookmaker's
--     earliest snapshot of the date), opening_line_source, line_movement (closing - opening):
--     sources/prop_calculator.py (production's schema defines opening_line / line_movement;
--     its processor leaves them NULL as a "Pass 3 enhancement")
--   dnp_reason (the gamebook's reason of a player who did not play) and dnp_reason_category
--     (its keywords: injury, rest, personal, coach_decision, else other; first match wins):
--     the processor's _categorize_dnp_reason
--   quality: data_quality_tier / quality_tier 'gold', data_sources / primary_source_used
--     'nbac_gamebook' (the gamebook is the only primary source read), quality_score 100 less
--     5 without a gamebook plus_minus and 5 when the game has no play-by-play (with the
--     issues 'missing_plus_minus', 'missing_shot_zones'), quality_used_fallback /
--     quality_reconstructed / processed_with_issues FALSE, quality_metadata
--     {"early_season": false, "sources_used": ["nbac_gamebook"]}: calculators/quality_scorer.py
--   usage_rate_raw (uncapped), usage_rate_capped (at 50), usage_rate_valid and
--     usage_rate_anomaly_reason ('partial_team_data' without the team's row, 'exceeds_max'
--     over 50; NULL for a player without minutes); dedup_key game_id|player_lookup,
--     record_version 1 (a first write), is_partial_game_data FALSE and
--     game_status_at_processing 'final' (final games only): production's schema
--     (schemas/bigquery/analytics/player_game_summary_tables.sql), which defines them
WITH gamebook AS (
  SELECT
    *,
    LOWER(player_status) AS status,
    SPLIT(REPLACE(TRIM(minutes), ' ', ''), ':') AS minute_parts,
    REPLACE(TRIM(minutes), ' ', '') AS minutes_text
  FROM nba_raw.nbac_gamebook_player_stats
  WHERE game_date BETWEEN @start_date AND @end_date
    AND player_lookup IS NOT NULL  -- the key is REQUIRED in production's output
    AND LOWER(player_status) IN ('active', 'dnp')
  -- One row per (game_id, player_lookup): the latest load wins, as in production's processor.
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_id, player_lookup
    ORDER BY processed_at DESC NULLS LAST, minutes DESC, team_abbr, player_status
  ) = 1
),

players AS (
  SELECT
    g.game_id,
    g.game_date,
    g.season_year,
    p.player_lookup,
    p.player_name,
    p.team_abbr,
    IF(p.team_abbr = g.home_team_abbr, g.away_team_abbr, g.home_team_abbr) AS opponent_team_abbr,
    p.team_abbr = g.home_team_abbr AS home_game,
    p.status AS player_status,
    IF(p.status = 'active', NULL, NULLIF(p.dnp_reason, '')) AS dnp_reason,
    p.plus_minus IS NOT NULL AS has_plus_minus,
    -- Tenths of a minute from whole seconds: the .5 cases are exact, so rounding (half away
    -- from zero) agrees across engines.
    -- "MM:SS" with seconds 0..59, or a plain number of minutes; anything else is NULL.
    IF(
      p.status = 'dnp',
      0,
      ROUND(
        IF(
          REGEXP_CONTAINS(p.minutes_text, r'^[0-9]+:[0-9]+$'),
          IF(
            SAFE_CAST(p.minute_parts[SAFE_OFFSET(1)] AS INT64) < 60,
            SAFE_CAST(p.minute_parts[SAFE_OFFSET(0)] AS INT64) * 60
            + SAFE_CAST(p.minute_parts[SAFE_OFFSET(1)] AS INT64),
            NULL
          ),
          SAFE_CAST(p.minutes_text AS FLOAT64) * 60
        ) / 6
      )
    ) / 10 AS minutes,
    IF(p.status = 'dnp', 0, COALESCE(p.points, 0)) AS points,
    IF(p.status = 'dnp', 0, COALESCE(p.field_goals_made, 0)) AS fg_makes,
    IF(p.status = 'dnp', 0, COALESCE(p.field_goals_attempted, 0)) AS fg_attempts,
    IF(p.status = 'dnp', 0, COALESCE(p.three_pointers_made, 0)) AS three_pt_makes,
    IF(p.status = 'dnp', 0, COALESCE(p.three_pointers_attempted, 0)) AS three_pt_attempts,
    IF(p.status = 'dnp', 0, COALESCE(p.free_throws_made, 0)) AS ft_makes,
    IF(p.status = 'dnp', 0, COALESCE(p.free_throws_attempted, 0)) AS ft_attempts,
    IF(p.status = 'dnp', 0, COALESCE(p.offensive_rebounds, 0)) AS offensive_rebounds,
    IF(p.status = 'dnp', 0, COALESCE(p.defensive_rebounds, 0)) AS defensive_rebounds,
    IF(p.status = 'dnp', 0, COALESCE(p.total_rebounds, 0)) AS total_rebounds,
    IF(p.status = 'dnp', 0, COALESCE(p.assists, 0)) AS assists,
    IF(p.status = 'dnp', 0, COALESCE(p.steals, 0)) AS steals,
    IF(p.status = 'dnp', 0, COALESCE(p.blocks, 0)) AS blocks,
    IF(p.status = 'dnp', 0, COALESCE(p.turnovers, 0)) AS turnovers,
    IF(p.status = 'dnp', 0, COALESCE(p.personal_fouls, 0)) AS personal_fouls,
    IF(p.status = 'dnp', 0, COALESCE(p.plus_minus, 0)) AS plus_minus
  FROM nba_backfill_views.games AS g
  INNER JOIN gamebook AS p
    ON p.game_id = g.game_id
    AND p.game_date = g.game_date
    AND p.team_abbr IN (g.home_team_abbr, g.away_team_abbr)
),

-- Each team's points in the game, summed from its gamebook rows: win_flag (REQUIRED) needs no
-- other table.
team_points AS (
  SELECT game_id, team_abbr, SUM(points) AS points
  FROM players
  GROUP BY game_id, team_abbr
),

team_totals AS (
  SELECT game_date, team_abbr, fg_attempts, ft_attempts, turnovers
  FROM nba_analytics.team_offense_game_summary
  WHERE game_date BETWEEN @start_date AND @end_date
),

pbp_games AS (
  SELECT DISTINCT game_id
  FROM nba_backfill_views.shots AS pbp
),

-- The registry's id of each player (any season: production's batch lookup has no season).
registry AS (
  SELECT player_lookup, MIN(universal_player_id) AS universal_player_id
  FROM nba_reference.nba_players_registry
  WHERE universal_player_id IS NOT NULL
  GROUP BY player_lookup
),

-- Shots each player blocked, by the zone of the shot (the blocker's side).
blocks AS (
  SELECT
    game_id,
    blocker_lookup AS player_lookup,
    COUNTIF(shot_zone = 'paint') AS paint_blocks,
    COUNTIF(shot_zone = 'mid_range') AS mid_range_blocks,
    COUNTIF(shot_zone = 'three') AS three_pt_blocks
  FROM nba_backfill_views.shots AS pbp
  WHERE blocker_lookup IS NOT NULL
  GROUP BY game_id, blocker_lookup
),

-- And-ones: the single free throw after a made shot (a play-by-play loaded twice counts once).
and1s AS (
  SELECT game_id, player_lookup, COUNT(*) AS and1_count
  FROM (
    SELECT game_id, player_1_lookup AS player_lookup
    FROM nba_raw.nbac_play_by_play
    WHERE game_date BETWEEN @start_date AND @end_date
      AND event_type = 'freethrow'
      AND event_action_type = 'Free Throw 1 of 1'
      AND player_1_lookup IS NOT NULL
    QUALIFY ROW_NUMBER() OVER (PARTITION BY game_id, event_id ORDER BY processed_at DESC) = 1
  )
  GROUP BY game_id, player_lookup
),

-- The current line's bookmaker's first line of the date: the opening line.
opening_lines AS (
  SELECT o.game_date, o.player_lookup, o.points_line AS opening_line
  FROM nba_backfill_views.player_points_props AS o
  INNER JOIN nba_backfill_views.current_points_lines AS c
    ON c.game_date = o.game_date
    AND c.player_lookup = o.player_lookup
    AND c.bookmaker = o.bookmaker
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY o.game_date, o.player_lookup
    ORDER BY o.snapshot_timestamp, o.points_line
  ) = 1
),

zones AS (
  SELECT
    game_id,
    player_lookup,
    COUNTIF(shot_zone = 'paint') AS paint_attempts,
    COUNTIF(shot_zone = 'paint' AND shot_made) AS paint_makes,
    COUNTIF(shot_zone = 'mid_range') AS mid_range_attempts,
    COUNTIF(shot_zone = 'mid_range' AND shot_made) AS mid_range_makes,
    COUNTIF(shot_zone = 'three') AS three_zone_attempts,
    COUNTIF(shot_zone = 'three' AND shot_made) AS three_zone_makes,
    COUNTIF(shot_made AND assisted) AS assisted_fg_makes,
    COUNTIF(shot_made AND NOT assisted) AS unassisted_fg_makes
  FROM nba_backfill_views.shots AS pbp
  GROUP BY game_id, player_lookup
),

joined AS (
  SELECT
    p.*,
    SAFE_DIVIDE(
      100 * (p.fg_attempts + 0.44 * p.ft_attempts + p.turnovers) * 48,
      p.minutes * (t.fg_attempts + 0.44 * t.ft_attempts + t.turnovers)
    ) AS raw_usage_rate,
    t.team_abbr IS NOT NULL AS has_team_stats,
    r.universal_player_id,
    b.paint_blocks,
    b.mid_range_blocks,
    b.three_pt_blocks,
    a.and1_count,
    l.bookmaker AS points_line_source,
    ol.opening_line,
    pg.game_id IS NOT NULL AS has_pbp,
    z.paint_attempts,
    z.paint_makes,
    z.mid_range_attempts,
    z.mid_range_makes,
    z.three_zone_attempts,
    z.three_zone_makes,
    z.assisted_fg_makes,
    z.unassisted_fg_makes,
    tp.points > op.points AS win_flag,
    l.points_line,
    p.minutes > 0 AND l.points_line IS NOT NULL AS graded
  FROM players AS p
  LEFT JOIN team_totals AS t
    ON t.game_date = p.game_date
    AND t.team_abbr = p.team_abbr
  LEFT JOIN pbp_games AS pg
    ON pg.game_id = p.game_id
  LEFT JOIN zones AS z
    ON z.game_id = p.game_id
    AND z.player_lookup = p.player_lookup
  LEFT JOIN nba_backfill_views.current_points_lines AS l
    ON l.game_date = p.game_date
    AND l.player_lookup = p.player_lookup
  LEFT JOIN opening_lines AS ol
    ON ol.game_date = p.game_date
    AND ol.player_lookup = p.player_lookup
  LEFT JOIN registry AS r
    ON r.player_lookup = p.player_lookup
  LEFT JOIN blocks AS b
    ON b.game_id = p.game_id
    AND b.player_lookup = p.player_lookup
  LEFT JOIN and1s AS a
    ON a.game_id = p.game_id
    AND a.player_lookup = p.player_lookup
  LEFT JOIN team_points AS tp
    ON tp.game_id = p.game_id
    AND tp.team_abbr = p.team_abbr
  LEFT JOIN team_points AS op
    ON op.game_id = p.game_id
    AND op.team_abbr = p.opponent_team_abbr
  WHERE TRUE
  -- One row per key even if the gamebook lists a player twice: most minutes, then game_id.
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY p.game_date, p.player_lookup
    ORDER BY p.minutes DESC NULLS LAST, p.game_id, p.team_abbr, p.player_status
  ) = 1
)

SELECT
  CAST(game_id AS STRING) AS game_id,
  CAST(game_date AS DATE) AS game_date,
  CAST(season_year AS INT64) AS season_year,
  CAST(player_lookup AS STRING) AS player_lookup,
  CAST(player_name AS STRING) AS player_full_name,
  CAST(team_abbr AS STRING) AS team_abbr,
  CAST(opponent_team_abbr AS STRING) AS opponent_team_abbr,
  CAST(player_status AS STRING) AS player_status,
  CAST(player_status = 'active' AS BOOL) AS is_active,
  -- An active player at 0:00 did not play either (the processor's is_dnp).
  CAST(
    player_status = 'dnp' OR (player_status = 'active' AND COALESCE(minutes = 0, FALSE)) AS BOOL
  ) AS is_dnp,
  CAST(COALESCE(win_flag, FALSE) AS BOOL) AS win_flag,
  CAST(minutes AS NUMERIC(5, 1)) AS minutes_played,
  CAST(points AS INT64) AS points,
  CAST(fg_makes AS INT64) AS fg_makes,
  CAST(fg_attempts AS INT64) AS fg_attempts,
  CAST(three_pt_makes AS INT64) AS three_pt_makes,
  CAST(three_pt_attempts AS INT64) AS three_pt_attempts,
  CAST(ft_makes AS INT64) AS ft_makes,
  CAST(ft_attempts AS INT64) AS ft_attempts,
  CAST(offensive_rebounds AS INT64) AS offensive_rebounds,
  CAST(defensive_rebounds AS INT64) AS defensive_rebounds,
  CAST(assists AS INT64) AS assists,
  CAST(steals AS INT64) AS steals,
  CAST(blocks AS INT64) AS blocks,
  CAST(turnovers AS INT64) AS turnovers,
  CAST(personal_fouls AS INT64) AS personal_fouls,
  CAST(plus_minus AS INT64) AS plus_minus,
  CAST(IF(raw_usage_rate > 100, NULL, raw_usage_rate) AS FLOAT64) AS usage_rate,
  CAST(SAFE_DIVIDE(points, 2 * (fg_attempts + 0.44 * ft_attempts)) AS FLOAT64) AS ts_pct,
  CAST(SAFE_DIVIDE(fg_makes + 0.5 * three_pt_makes, fg_attempts) AS FLOAT64) AS efg_pct,
  CAST(COALESCE(minutes > 20, FALSE) AS BOOL) AS starter_flag,
  CAST(has_pbp AS BOOL) AS has_complete_shot_zones,
  CAST(IF(has_pbp, COALESCE(paint_attempts, 0), NULL) AS INT64) AS paint_attempts,
  CAST(IF(has_pbp, COALESCE(paint_makes, 0), NULL) AS INT64) AS paint_makes,
  CAST(IF(has_pbp, COALESCE(mid_range_attempts, 0), NULL) AS INT64) AS mid_range_attempts,
  CAST(IF(has_pbp, COALESCE(mid_range_makes, 0), NULL) AS INT64) AS mid_range_makes,
  CAST(IF(has_pbp, COALESCE(three_zone_attempts, 0), NULL) AS INT64) AS three_attempts_pbp,
  CAST(IF(has_pbp, COALESCE(three_zone_makes, 0), NULL) AS INT64) AS three_makes_pbp,
  CAST(IF(has_pbp, COALESCE(assisted_fg_makes, 0), NULL) AS INT64) AS assisted_fg_makes,
  CAST(IF(has_pbp, COALESCE(unassisted_fg_makes, 0), NULL) AS INT64) AS unassisted_fg_makes,
  CAST(points_line AS FLOAT64) AS points_line,
  CAST(IF(graded, IF(points >= points_line, 'OVER', 'UNDER'), NULL) AS STRING)
    AS over_under_result,
  CAST(IF(graded, points - points_line, NULL) AS FLOAT64) AS margin,
  CAST(universal_player_id AS STRING) AS universal_player_id,
  CAST(IF(has_pbp, COALESCE(paint_blocks, 0), NULL) AS INT64) AS paint_blocks,
  CAST(IF(has_pbp, COALESCE(mid_range_blocks, 0), NULL) AS INT64) AS mid_range_blocks,
  CAST(IF(has_pbp, COALESCE(three_pt_blocks, 0), NULL) AS INT64) AS three_pt_blocks,
  CAST(IF(has_pbp, COALESCE(and1_count, 0), NULL) AS INT64) AS and1_count,
  CAST(points_line_source AS STRING) AS points_line_source,
  CAST(opening_line AS FLOAT64) AS opening_line,
  CAST(IF(opening_line IS NULL, NULL, points_line_source) AS STRING) AS opening_line_source,
  CAST(points_line - opening_line AS FLOAT64) AS line_movement,
  CAST(dnp_reason AS STRING) AS dnp_reason,
  CAST(
    CASE
      WHEN dnp_reason IS NULL THEN NULL
      WHEN REGEXP_CONTAINS(
        LOWER(dnp_reason),
        r'injury|injured|illness|sprain|strain|sore|pain|surgery|concussion|knee|ankle|back|hamstring|shoulder|hip|foot|calf|quad|groin|wrist|elbow'
      ) THEN 'injury'
      WHEN REGEXP_CONTAINS(
        LOWER(dnp_reason), r'rest|load management|recovery|maintenance|precautionary'
      ) THEN 'rest'
      WHEN REGEXP_CONTAINS(LOWER(dnp_reason), r'personal|family|birth|funeral|bereavement')
        THEN 'personal'
      WHEN REGEXP_CONTAINS(
        LOWER(dnp_reason), r'coach|decision|not with team|suspension|disciplinary'
      ) THEN 'coach_decision'
      ELSE 'other'
    END AS STRING
  ) AS dnp_reason_category,
  CAST('gold' AS STRING) AS data_quality_tier,
  CAST('nbac_gamebook' AS STRING) AS primary_source_used,
  CAST(FALSE AS BOOL) AS processed_with_issues,
  CAST('gold' AS STRING) AS quality_tier,
  CAST(100 - IF(has_plus_minus, 0, 5) - IF(has_pbp, 0, 5) AS FLOAT64) AS quality_score,
  CAST(
    ARRAY_CONCAT(
      IF(has_plus_minus, [], ['missing_plus_minus']), IF(has_pbp, [], ['missing_shot_zones'])
    ) AS ARRAY<STRING>
  ) AS quality_issues,
  CAST(['nbac_gamebook'] AS ARRAY<STRING>) AS data_sources,
  CAST(FALSE AS BOOL) AS quality_used_fallback,
  CAST(FALSE AS BOOL) AS quality_reconstructed,
  PARSE_JSON('{"early_season": false, "sources_used": ["nbac_gamebook"]}') AS quality_metadata,
  CAST(IF(usage_rate_raw < 10000, usage_rate_raw, NULL) AS FLOAT64) AS usage_rate_raw,
  CAST(LEAST(usage_rate_raw, 50) AS FLOAT64) AS usage_rate_capped,
  CAST(
    CASE
      WHEN NOT COALESCE(minutes > 0, FALSE) THEN NULL
      WHEN NOT has_team_stats OR usage_rate_raw IS NULL THEN FALSE
      ELSE usage_rate_raw <= 50
    END AS BOOL
  ) AS usage_rate_valid,
  CAST(
    CASE
      WHEN NOT COALESCE(minutes > 0, FALSE) THEN NULL
      WHEN NOT has_team_stats OR usage_rate_raw IS NULL THEN 'partial_team_data'
      WHEN usage_rate_raw > 50 THEN 'exceeds_max'
    END AS STRING
  ) AS usage_rate_anomaly_reason,
  CAST(CONCAT(game_id, '|', player_lookup) AS STRING) AS dedup_key,
  CAST(1 AS INT64) AS record_version,
  CAST(FALSE AS BOOL) AS is_partial_game_data,
  CAST('final' AS STRING) AS game_status_at_processing
FROM (
  -- usage_rate_raw: the usage rate before production's > 100 rule.
  SELECT *, raw_usage_rate AS usage_rate_raw FROM joined
)
