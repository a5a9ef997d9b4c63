-- nba_backfill_views.expected_games
-- One row = one game nba-backfill must fill: production's gate (bin/backfill/
-- verify_phase3_for_phase4.py, nbac_schedule_processor.is_business_relevant_game) over the latest
-- schedule: final (game_status 3), regular season or playoffs (the play-in is a playoff game in
-- the schedule), never All-Star (NBA.com flags All-Star weekend games with a regular-season
-- "week") and never preseason (neither flag set). Columns: production's schedule columns.
-- A postponed game is not played on its date: NBA.com marks it game_status 4 (its latest
-- version on that date, schedule_latest), and production's bin/fixes/fix_postponed_game.py
-- rewrites a "Final" row's game_status_text to "Postponed" / "Rescheduled to <date>"; the
-- make-up game is the final row on its new date. One game per (date, matchup): the same game
-- listed under two ids (a scraper version that keyed it differently) counts once — the latest
-- load wins; a team plays at most once a day.
SELECT *
FROM nba_backfill_views.schedule_latest
WHERE game_status = 3
  AND (COALESCE(is_regular_season, FALSE) OR COALESCE(is_playoffs, FALSE))
  AND NOT COALESCE(is_all_star, FALSE)
  AND NOT STARTS_WITH(LOWER(COALESCE(game_status_text, '')), 'postponed')
  AND NOT STARTS_WITH(LOWER(COALESCE(game_status_text, '')), 'rescheduled')
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY game_date, away_team_tricode, home_team_tricode
  ORDER BY processed_at DESC, game_id DESC
) = 1
