-- nba_backfill_views.season_openers
-- One row = one season of the schedule: its opener, the first regular-season game date (any
-- game_status: a season that has not started yet has an opener too; All-Star and preseason games
-- never open a season). Bootstrap days are opener + 0..13.
SELECT season_year, MIN(game_date) AS opener_date
FROM nba_backfill_views.schedule_latest
WHERE COALESCE(is_regular_season, FALSE)
  AND NOT COALESCE(is_all_star, FALSE)
GROUP BY season_year
