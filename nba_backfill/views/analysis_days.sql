-- nba_backfill_views.analysis_days
-- One row = one expected game date on [@start_date, @end_date] past its season's bootstrap:
-- production's Phase 4 processors write nothing in a season's first 14 days (days 0..13 after
-- the opener; the same rule as nba_backfill.calendar.BOOTSTRAP_DAYS, tested to agree).
-- season_openers reads the schedule 366 days back, longer than a season, so every date's
-- season is in view.
SELECT DISTINCT
  s.game_date,
  s.season_year,
  DATE_DIFF(s.game_date, o.opener_date, DAY) AS days_since_opener
FROM nba_backfill_views.expected_games AS s
JOIN nba_backfill_views.season_openers AS o ON o.season_year = s.season_year
WHERE s.game_date BETWEEN @start_date AND @end_date
  AND DATE_DIFF(s.game_date, o.opener_date, DAY) >= 14
