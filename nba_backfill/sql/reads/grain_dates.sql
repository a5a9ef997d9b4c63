-- read grain_dates
-- One row = one date on [@start_date, @end_date] where the profiled table's entities (the key
-- column beside the date: a player, a team) differ from the set its inputs say it must hold
-- (the catalog's `expected_set`, a file of nba_backfill/sql/reads/expected/): how many expected
-- entities have no row (`missing`), how many rows name an entity the inputs do not hold
-- (`surplus`: orphans a crashed or older write left), and the first such entity
-- (`surplus_example`). Readiness counts such a date incomplete: the next run replaces it,
-- which writes the missing rows and drops the orphans. One query per table and range.
-- Slots: :this_table, :date_column, :entity_column, :expected_set (a query: day, entity).
WITH entities AS (
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
  SELECT day, entity, MAX(in_table) AS in_table, MAX(in_inputs) AS in_inputs
  FROM entities
  GROUP BY day, entity
)

SELECT
  day,
  COUNTIF(in_inputs = 1 AND in_table = 0) AS missing,
  COUNTIF(in_table = 1 AND in_inputs = 0) AS surplus,
  MIN(IF(in_table = 1 AND in_inputs = 0, entity, NULL)) AS surplus_example
FROM per_entity
WHERE in_table != in_inputs
GROUP BY day
