-- nba_backfill_views.shots
-- One row = one field-goal attempt of the event-level play-by-play on [@start_date, @end_date]
-- (shot_type 2PT / 3PT; free throws and other events are not shots): the latest load of each
-- (game_id, event_id) wins, so a play-by-play loaded twice counts once. Zones as production's
-- shot-zone analyzer classifies them: 3PT = three, 2PT within 8 ft = paint, farther =
-- mid_range. player_1 is the shooter; player_2 the assister of a made shot and player_3 the
-- blocker of a missed one (NBA.com's play-by-play convention): blocker_lookup.
SELECT
  game_id,
  player_1_team_abbr AS team_abbr,
  player_1_lookup AS player_lookup,
  CASE
    WHEN shot_type = '3PT' THEN 'three'
    WHEN shot_distance <= 8.0 THEN 'paint'
    WHEN shot_distance > 8.0 THEN 'mid_range'
  END AS shot_zone,
  COALESCE(shot_made, FALSE) AS shot_made,
  COALESCE(shot_made AND player_2_lookup IS NOT NULL, FALSE) AS assisted,
  COALESCE(NOT shot_made AND player_3_lookup IS NOT NULL, FALSE) AS blocked,
  IF(NOT shot_made, player_3_lookup, NULL) AS blocker_lookup
FROM nba_raw.nbac_play_by_play
WHERE game_date BETWEEN @start_date AND @end_date
  AND shot_type IN ('2PT', '3PT')
QUALIFY ROW_NUMBER() OVER (PARTITION BY game_id, event_id ORDER BY processed_at DESC) = 1
