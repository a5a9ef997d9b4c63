-- nba_backfill_views.game_line_points
-- One row = one bookmaker's spread or total for one game at one snapshot on [@start_date,
-- @end_date]. The feed is one row per bookmaker x market x outcome x snapshot; its game_id is
-- the odds feed's event id, so games are keyed here as the analytics tables key them
-- (YYYYMMDD_AWAY_HOME). spread = the home team's 'spreads' outcome point; total = the 'totals'
-- Over point. A reloaded row counts once.
WITH game_line_rows AS (
  SELECT *
  FROM nba_raw.odds_api_game_lines
  WHERE game_date BETWEEN @start_date AND @end_date
    AND market_key IN ('spreads', 'totals')
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_id, bookmaker_key, market_key, outcome_name, snapshot_timestamp
    ORDER BY processed_at DESC, outcome_point
  ) = 1
)

SELECT
  CONCAT(FORMAT_DATE('%Y%m%d', game_date), '_', away_team_abbr, '_', home_team_abbr)
    AS game_id,
  game_date,
  home_team_abbr,
  away_team_abbr,
  bookmaker_key AS bookmaker,
  IF(market_key = 'spreads' AND outcome_name = home_team, outcome_point, NULL) AS spread,
  IF(market_key = 'totals' AND outcome_name = 'Over', outcome_point, NULL) AS total,
  snapshot_timestamp
FROM game_line_rows
