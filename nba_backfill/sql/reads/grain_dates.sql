-- read grain_dates
-- One row = one date on [@start_date, @end_date] where the profiled table's entities (the key
-- column beside the date: a player, a team) differ from the set its inputs say it must hold
-- (the catalog's `expected_set`, a file of nba_backfill/sql/reads/expected/): how many expected
-- entities have no row (`missing`), how many rows name an entity the inputs do not hold
-- (`surplus`: orphans a crashed or older write left), and the first such entity
-- (`surplus_example`). Readiness counts such a date incomplete: the next run replaces it,
-- which writes the missing rows and drops the orphans. One query per table and range.
-- The teams and gamebook players of a game whose results never arrived
-- (nba_backfill_views.games_missing_inputs) are neither missing nor surplus in a table written
-- from game results (`:excuse_skipped`): readiness reports that game as skipped, once, and a
-- table may hold part of it (box scores arrived, the gamebook did not).
-- Slots: :this_table, :date_column, :entity_column, :expected_set (a query: day, entity),
-- :excuse_skipped (TRUE for a table whose catalog entry says `from_game_results`).
WITH skipped_games AS (
  SELECT game_id, game_date, away_team_abbr, home_team_abbr
  FROM nba_backfill_views.games_missing_inputs
  WHERE :excuse_skipped
),

excused AS (
  SELECT game_date AS day, home_team_abbr AS entity FROM skipped_games
  UNION DISTINCT
  SELECT game_date AS day, away_team_abbr AS entity FROM skipped_games
  UNION DISTINCT
  SELECT p.game_date AS day, p.player_lookup AS entity
  FROM nba_raw.nbac_gamebook_player_stats AS p
  INNER JOIN skipped_games AS s ON p.game_id = s.game_id AND p.game_date = s.game_date
  WHERE p.game_date BETWEEN @start_date AND @end_date
),

entities AS (
  SELECT :date_column AS day, :entity_column AS entity, 1 AS in_table, 0 AS in_inputs
  FROM :this_table
  WHERE :date_column BETWEEN @start_date AND @end_date
    AND :entity_column IS NOT NULL
  UNION ALL
  SELECT day, entity, 0 AS in_table, 1 AS in_inputs
  FROM :expected_set
  WHERE day BETWEEN @start_date AND @end_date
),

per_entity AS (
  SELECT e.day, e.entity, MAX(e.in_table) AS in_table, MAX(e.in_inputs) AS in_inputs
  FROM entities AS e
  LEFT JOIN excused AS x ON x.day = e.day AND x.entity = e.entity
  WHERE x.entity IS NULL
  GROUP BY e.day, e.entity
)

SELECT
  day,
  COUNTIF(in_inputs = 1 AND in_table = 0) AS missing,
  COUNTIF(in_table = 1 AND in_inputs = 0) AS surplus,
  MIN(IF(in_table = 1 AND in_inputs = 0, entity, NULL)) AS surplus_example
FROM per_entity
WHERE in_table != in_inputs
GROUP BY day
