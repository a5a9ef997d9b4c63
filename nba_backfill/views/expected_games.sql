-- nba_backfill_views.expected_games
-- One row = one game nba-backfill must fill: production's gate (bin/backfill/
-- verify_phase3_for_phase4.py, nbac_schedule_processor.is_business_relevant_game) over the latest
-- schedule: final (game_status 3), regular season or playoffs (the play-in is a playoff game in
-- the schedule), never All-Star (NBA.com flags All-Star weekend games with a regular-season
-- "week") and never preseason (neither flag set). Columns: production's schedule columns.
SELECT *
FROM nba_backfill_views.schedule_latest
WHERE game_status = 3
  AND (COALESCE(is_regular_season, FALSE) OR COALESCE(is_playoffs, FALSE))
  AND NOT COALESCE(is_all_star, FALSE)
