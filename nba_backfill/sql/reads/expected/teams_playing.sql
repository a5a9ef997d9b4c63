-- expected teams_playing
-- One row = one team a team-grain table must hold (day, entity = team_abbr): both teams of
-- every expected game on [@start_date, @end_date] (nba_backfill_views.games). A row for a team
-- that did not play that date is surplus (grain_dates).
SELECT game_date AS day, home_team_abbr AS entity
FROM nba_backfill_views.games
UNION DISTINCT
SELECT game_date AS day, away_team_abbr AS entity
FROM nba_backfill_views.games
