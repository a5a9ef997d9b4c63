-- read date_profile_team_from
-- One row = one date of the profiled table on [@start_date, @end_date] that has rows: how many
-- (`n`) and how many distinct teams (`teams`). Production's player-grain Phase 4 tables hold no
-- team: a row's team is the player's team that date in the catalog's `team_from` table (the
-- upcoming player context); a player missing there counts no team.
-- Slots (filled from the catalog entry): :this_table, :date_column, :team_from,
-- :team_from_date_column, :team_column (a column of :team_from).
WITH profiled AS (
  SELECT :date_column AS day, player_lookup
  FROM :this_table
  WHERE :date_column BETWEEN @start_date AND @end_date
),
teams AS (
  SELECT :team_from_date_column AS day, player_lookup, :team_column AS team
  FROM :team_from
  WHERE :team_from_date_column BETWEEN @start_date AND @end_date
)
SELECT p.day, COUNT(*) AS n, COUNT(DISTINCT t.team) AS teams
FROM profiled AS p
LEFT JOIN teams AS t
  ON t.day = p.day AND t.player_lookup = p.player_lookup
GROUP BY p.day
