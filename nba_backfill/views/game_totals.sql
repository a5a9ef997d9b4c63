-- nba_backfill_views.game_totals
-- One row = one game's latest total (the latest snapshot, then bookmaker, wins) on
-- [@start_date, @end_date].
SELECT game_id, game_date, total, bookmaker, snapshot_timestamp
FROM nba_backfill_views.game_line_points
WHERE total IS NOT NULL
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY game_id, game_date
  ORDER BY snapshot_timestamp DESC, bookmaker, total
) = 1
