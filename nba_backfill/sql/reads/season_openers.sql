-- read season_openers
-- One row = one season of the schedule and its opener (what bootstrap days count from).
SELECT season_year, opener_date
FROM nba_backfill_views.season_openers
