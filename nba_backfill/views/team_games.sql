-- nba_backfill_views.team_games
-- One row = one team's side of an expected game on [@start_date, @end_date] that has box
-- scores for both teams (nba_backfill_views.team_boxscores, deduplicated): the team's box
-- score columns and its opponent's as opp_<column>. A team's offense is its own columns, its
-- defense its opponent's; production's team summaries need both (win_flag, margin).
SELECT
  g.game_id,
  b.nba_game_id,
  g.game_date,
  g.season_year,
  b.team_abbr,
  o.team_abbr AS opponent_team_abbr,
  b.team_abbr = g.home_team_abbr AS home_game,
  b.points,
  b.field_goals_made,
  b.field_goals_attempted,
  b.three_pointers_made,
  b.three_pointers_attempted,
  b.free_throws_made,
  b.free_throws_attempted,
  b.offensive_rebounds,
  b.defensive_rebounds,
  b.assists,
  b.steals,
  b.blocks,
  b.turnovers,
  b.personal_fouls,
  b.minutes,
  o.points AS opp_points,
  o.field_goals_made AS opp_field_goals_made,
  o.field_goals_attempted AS opp_field_goals_attempted,
  o.three_pointers_made AS opp_three_pointers_made,
  o.three_pointers_attempted AS opp_three_pointers_attempted,
  o.free_throws_made AS opp_free_throws_made,
  o.free_throws_attempted AS opp_free_throws_attempted,
  o.offensive_rebounds AS opp_offensive_rebounds,
  o.defensive_rebounds AS opp_defensive_rebounds,
  o.assists AS opp_assists,
  o.steals AS opp_steals,
  o.blocks AS opp_blocks,
  o.turnovers AS opp_turnovers,
  o.personal_fouls AS opp_personal_fouls,
  o.minutes AS opp_minutes
FROM nba_backfill_views.games AS g
INNER JOIN nba_backfill_views.team_boxscores AS b
  ON b.game_id = g.game_id
  AND b.game_date = g.game_date
  AND b.team_abbr IN (g.home_team_abbr, g.away_team_abbr)
INNER JOIN nba_backfill_views.team_boxscores AS o
  ON o.game_id = b.game_id
  AND o.game_date = b.game_date
  AND o.team_abbr = IF(b.team_abbr = g.home_team_abbr, g.away_team_abbr, g.home_team_abbr)
