-- read schedule_bounds
-- One row: the first and last expected game date of the window (NULLs when there is none).
-- The reader passes a window wider than any schedule to read all of it.
SELECT MIN(game_date) AS lo, MAX(game_date) AS hi
FROM nba_backfill_views.expected_games
