-- expected context_players
-- One row = one player a Phase 4 player table writing every upcoming_player_game_context row
-- of its date must hold (day, entity = player_lookup): player_daily_cache,
-- player_composite_factors and ml_feature_store_v2 (their models' player list). A player the
-- context no longer holds (the context was refilled) is a surplus row; one it gained, missing.
SELECT game_date AS day, player_lookup AS entity
FROM nba_analytics.upcoming_player_game_context
WHERE game_date BETWEEN @start_date AND @end_date
