-- read date_profile
-- One row = one date of the profiled table on [@start_date, @end_date] that has rows: how many
-- (`n`) and how many distinct teams (`teams`). What the completeness rule compares with the
-- schedule's games (planner.is_complete).
-- Slots (filled from the catalog entry): :this_table, :date_column, :team_column.
SELECT :date_column AS day, COUNT(*) AS n, COUNT(DISTINCT :team_column) AS teams
FROM :this_table
WHERE :date_column BETWEEN @start_date AND @end_date
GROUP BY :date_column
