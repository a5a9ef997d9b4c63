-- nba_backfill_views.team_boxscores
-- One row = one team's box score in one game on [@start_date, @end_date]: the latest load of
-- each (game_id, team_abbr) wins, as in production's team processors (a scraper that ran twice
-- counts once). minutes is the team's "MMM:SS" player-minutes ("265:00" after one overtime),
-- read as whole minutes; columns renamed to the analytics tables' terms.
SELECT
  game_id,
  nba_game_id,
  game_date,
  team_abbr,
  points,
  fg_made AS field_goals_made,
  fg_attempted AS field_goals_attempted,
  three_pt_made AS three_pointers_made,
  three_pt_attempted AS three_pointers_attempted,
  ft_made AS free_throws_made,
  ft_attempted AS free_throws_attempted,
  offensive_rebounds,
  defensive_rebounds,
  assists,
  steals,
  blocks,
  turnovers,
  personal_fouls,
  SAFE_CAST(SPLIT(TRIM(minutes), ':')[SAFE_OFFSET(0)] AS INT64) AS minutes
FROM nba_raw.nbac_team_boxscore
WHERE game_date BETWEEN @start_date AND @end_date
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY game_id, team_abbr
  ORDER BY processed_at DESC, points DESC
) = 1
