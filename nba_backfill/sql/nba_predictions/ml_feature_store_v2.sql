-- nba_predictions.ml_feature_store_v2
-- One row = one player with a game on game_date (every upcoming_player_game_context row of a
-- non-bootstrap date): the model's feature vector, known before tip-off, and its quality.
-- Follows data_processors/precompute/ml_feature_store/ of the platform (P below):
-- ml_feature_store_processor.py (_extract_all_features: value, fallback chain and source of each
-- feature), feature_extractor.py (the inputs), feature_calculator.py (the "calculated" features)
-- and quality_scorer.py (per-feature quality, source and the aggregate quality columns).
--
-- features = production's 60 features in production's order (feature_names, feature_count and
-- feature_version are stamped by the write from production's contract, not restated here).
-- Each feature's source is one of production's raw source types: phase4, phase3, calculated,
-- vegas, opponent_history, minutes_ppm (a real input), default (P's default value used) or
-- missing (no input and no default: P leaves None/NaN, which its writer turns into 0.0 in the
-- array). BigQuery arrays cannot hold NULL: the array always has the default (or 0.0).
-- "-> x" below = the value when the input is absent and the source it then gets.
--  i  name                        input (our tables)                                  -> absent
--  0  points_avg_last_5           player_daily_cache; else his last 10 games (phase3) -> 10 default
--  1  points_avg_last_10          player_daily_cache; else his last 10 games (phase3) -> 10 default
--  2  points_avg_season           player_daily_cache; else season avg of his games (phase3) -> 10
--  3  points_std_last_10          player_daily_cache                                  -> 5 default
--  4  games_in_last_7_days        upcoming_player_game_context (phase3; our cache lacks it) -> 3
--  5  fatigue_score               player_composite_factors                            -> 50 default
--  6  shot_zone_mismatch_score    player_composite_factors                            -> 0 default
--  7  pace_score                  player_composite_factors                            -> 0 default
--  8  usage_spike_score           player_composite_factors                            -> 0 default
--  9  rest_advantage              calculated: his days_rest (upcoming context) - the opponent's
--                                 days_since_last_game (upcoming team context), -2..2; 0 if either
--                                 is unknown
-- 10  injury_risk                 calculated from the player's injury status; our upcoming
--                                 context has no player_status: P's rule for an empty status
--                                 (available) gives 0.0, source 'calculated' as P always writes
-- 11  recent_trend                calculated: last 10 games (player_game_summary, 60 days), avg
--                                 points of the 2 newest - of the 3 before, -2..2; 0 if < 5 games
-- 12  minutes_change              calculated: player_daily_cache minutes_avg_last_10 (else last
--                                 10 games) vs his season avg minutes, -2..2
-- 13  opponent_def_rating         team_defense_zone_analysis of the opponent         -> 112 default
-- 14  opponent_pace               team_defense_zone_analysis of the opponent         -> 100 default
-- 15  home_away                   upcoming context home_game (phase3)
-- 16  back_to_back                upcoming context back_to_back (phase3)
-- 17  playoff_game                upcoming context season_phase = 'playoffs' (phase3)
-- 18  pct_paint                   player_shot_zone_analysis paint_rate_last_10 / 100   -> 0 missing
-- 19  pct_mid_range               player_shot_zone_analysis mid_range_rate_last_10 / 100
--                                                                                -> 0 missing
-- 20  pct_three                   player_shot_zone_analysis three_pt_rate_last_10 / 100
--                                                                                -> 0 missing
-- 21  pct_free_throw              calculated: ft makes / points, last 10 games, 0..0.5; 0.15 if < 5
-- 22  team_pace                   player_daily_cache team_pace_last_10               -> 100 default
-- 23  team_off_rating             player_daily_cache team_off_rating_last_10         -> 112 default
-- 24  team_win_pct                calculated: team_offense_game_summary wins / games of the
--                                 season before the date; 0.5 if < 5 games
-- 25  vegas_points_line           upcoming context current_points_line (vegas)         -> 0 missing
-- 26  vegas_opening_line          upcoming context opening_points_line, else the line  -> 0 missing
-- 27  vegas_line_move             line - opening line (vegas)                          -> 0 missing
-- 28  has_vegas_line              calculated: 1 when a line, else 0
-- 29  avg_points_vs_opponent      player_game_summary vs this opponent, 1 year (opponent_history);
--                                 none: feature 2's season average, else 10 (calculated)
-- 30  games_vs_opponent           player_game_summary vs this opponent, 1 year (opponent_history;
--                                 'calculated' 0 without an opponent)
-- 31  minutes_avg_last_10         player_game_summary minutes > 0, 30 days (minutes_ppm); else
--                                 player_daily_cache (phase4)                         -> 28 default
-- 32  ppm_avg_last_10             player_game_summary points / minutes, 30 days (minutes_ppm)
--                                                                              -> 0.4 default
-- 33  dnp_rate                    calculated: is_dnp share of the last 10 games; 0 if < 3
-- 34  pts_slope_10g               calculated: least-squares slope of points, last 10 games
--                                 (oldest first); 0 if < 5
-- 35  pts_vs_season_zscore        calculated: (feature 0 - feature 2) / feature 3 inputs, -3..3;
--                                 0 when one is absent or the std is 0
-- 36  breakout_flag               calculated: 1 when L5 > season + 1.5 x std, else 0
-- 37  star_teammates_out          no input (injury reports not read)                   -> 0 default
-- 38  game_total_line             upcoming context game_total (phase3)                 -> 0 missing
-- 39  days_rest                   upcoming context days_rest (phase3)                  -> 0 missing
-- 40  minutes_load_last_7d        upcoming context minutes_in_last_7_days (phase3)     -> 0 missing
-- 41  spread_magnitude            |upcoming context game_spread| (phase3)              -> 0 missing
-- 42  implied_team_total          (game_total - spread) / 2 at home, (total + spread) / 2 away
--                                 (phase3)                                             -> 0 missing
-- 43  points_avg_last_3           calculated: played games (minutes > 0, points known) of the
--                                 60 days before, newest 3                             -> 0 missing
-- 44  scoring_trend_slope         calculated: slope of points over the newest 7 of them (>= 4)
-- 45  deviation_from_avg_last3    calculated: (last-3 avg - 60-day avg) / 60-day std (5 if < 2)
-- 46  consecutive_games_below_avg calculated: newest games in a row below the 60-day avg
-- 47  teammate_usage_available    no input (injury reports not read)                  -> 0 missing
-- 48  usage_rate_last_5           calculated: avg usage of the newest 5 with a usage rate;
--                                 20 with fewer than 3
-- 49  games_since_structural_change calculated: games since his team changed or a > 14-day gap
--                                 between games, else min(games, 30)
-- 50  multi_book_line_std         no input (per-book prop lines not read)              -> 0 missing
-- 51  prop_over_streak            no input (our upcoming context lacks it)             -> 0 missing
-- 52  prop_under_streak           no input (our upcoming context lacks it)             -> 0 missing
-- 53  line_vs_season_avg          calculated: feature 25 - feature 2, when a line      -> 0 missing
-- 54  prop_line_delta             no input (per-book prop lines not read)              -> 0 missing
-- 55  over_rate_last_10           no input (P reads nba_predictions.prediction_accuracy)
--                                                                                -> 0 missing
-- 56  margin_vs_line_avg_last_5   no input (same)                                      -> 0 missing
-- 57  blowout_minutes_risk        calculated: his team's share of its last 10 games (60 days,
--                                 team_offense_game_summary) decided by >= 15, 0.2 if none;
--                                 only for players with minutes volatility (58)        -> 0 missing
-- 58  minutes_volatility_last_10  calculated: std of minutes, his last 10 games with minutes
--                                 (60 days), at least 3                                -> 0 missing
-- 59  opponent_pace_mismatch      calculated: feature 22 - feature 14 (as in the array)
-- Where P's definition differs from what this file computed before (25 features, 'v2'), P is
-- followed: fatigue default 50 (was 100), games_in_last_7_days default 3 (was 0), rest_advantage
-- without the cap at 4 days and 0 when unknown (unknown was 4), shot-zone shares 0 + 'missing'
-- when absent (were 0.40 / 0.20 / 0.40), a composite score counts as phase4 whenever the row has
-- it (missing_data_fields no longer turns it into a default), phase3 fallbacks of features 0-2
-- from player_game_summary (were upcoming context's averages, 0-1 only); usage_rate_last_10,
-- ts_pct_last_10, days_rest, game_spread, game_total are no longer positions of their own
-- (days_rest and game_total moved to 39 and 38, the spread enters 41-42).
-- universal_player_id: copied from the date's upcoming_player_game_context row, as P's
-- feature_extractor.py selects it with the day's players (NULL where the context has none).
-- Deviations from P, by input: vegas lines come from upcoming_player_game_context (P reads the
-- raw odds tables itself); P's daily-cache miss fallback (cache fields recomputed from the last
-- 10 games) is not needed (our cache has a row for every upcoming player); 57-58 group a traded
-- player's minutes across teams and take the upcoming team's blowout rate (P groups by team).
--
-- Quality (quality_scorer.py): per feature, quality = the source's weight (phase4 / calculated /
-- vegas 100, minutes_ppm 95, opponent_history 90, phase3 87, default 40, missing 0) and the
-- canonical source (vegas / opponent_history / minutes_ppm -> phase4, missing -> default); the
-- write spreads them into feature_N_quality / feature_N_source (feature_N_value = features[N],
-- NULL where the source is default). feature_quality_score = mean weight, optional features
-- (25-27, 37-59) left out when defaulted, capped at 69 with a required default, 49 with 5.
-- is_training_ready = tier gold/silver (>= 85), matchup quality >= 70 and player history >= 80.
-- feature_fallback_reasons_json = P's reason for each defaulted position (JSON, ascending).
-- It deliberately does not look at whether the player then played (the label, joined at training
-- time): no same-date outcome leaks in.
WITH analysis_days AS (
  -- Dates past the season's bootstrap (nba_backfill/views/analysis_days.sql).
  SELECT game_date, season_year
  FROM nba_backfill_views.analysis_days
),
players AS (
  SELECT u.*, d.season_year AS day_season
  FROM nba_analytics.upcoming_player_game_context AS u
  JOIN analysis_days AS d ON d.game_date = u.game_date
  WHERE u.game_date BETWEEN @start_date AND @end_date
),
cache AS (
  SELECT *
  FROM nba_precompute.player_daily_cache
  WHERE cache_date BETWEEN @start_date AND @end_date
),
factors AS (
  SELECT *
  FROM nba_precompute.player_composite_factors
  WHERE game_date BETWEEN @start_date AND @end_date
),
zones AS (
  SELECT *
  FROM nba_precompute.player_shot_zone_analysis
  WHERE analysis_date BETWEEN @start_date AND @end_date
),
defense AS (
  SELECT *
  FROM nba_precompute.team_defense_zone_analysis
  WHERE analysis_date BETWEEN @start_date AND @end_date
),
team_context AS (
  SELECT game_date, team_abbr, days_since_last_game
  FROM nba_analytics.upcoming_team_game_context
  WHERE game_date BETWEEN @start_date AND @end_date
),
games AS (
  -- His games in the year before the date (every window below is a subset), newest first.
  SELECT
    p.game_date AS day,
    p.player_lookup,
    p.opponent_team_abbr AS day_opponent,
    p.day_season,
    g.game_date,
    g.season_year,
    g.team_abbr,
    g.opponent_team_abbr,
    g.points,
    g.minutes_played,  -- NUMERIC
    g.ft_makes,
    g.is_dnp,
    g.usage_rate,  -- NUMERIC
    -- P's last 10 games: any row (DNPs included) of the 60 days before.
    g.game_date >= DATE_SUB(p.game_date, INTERVAL 60 DAY)
      AND ROW_NUMBER() OVER (PARTITION BY p.game_date, p.player_lookup ORDER BY g.game_date DESC)
      <= 10 AS in10,
    ROW_NUMBER() OVER (PARTITION BY p.game_date, p.player_lookup ORDER BY g.game_date DESC) AS rn,
    -- P's rolling-stats games: minutes > 0 and points known, 60 days.
    g.game_date >= DATE_SUB(p.game_date, INTERVAL 60 DAY) AND g.points IS NOT NULL
      AND g.minutes_played > 0 AS rolled
  FROM players AS p
  JOIN nba_analytics.player_game_summary AS g
    ON g.player_lookup = p.player_lookup
    AND g.game_date < p.game_date
    AND g.game_date >= DATE_SUB(p.game_date, INTERVAL 366 DAY)
  WHERE g.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 366 DAY) AND @end_date
),
ranked AS (
  SELECT
    *,
    -- P's "played" games among the last 10 (points known; minutes known or points > 0).
    in10 AND points IS NOT NULL AND (minutes_played IS NOT NULL OR points > 0) AS played10,
    ROW_NUMBER() OVER (
      PARTITION BY day, player_lookup,
        in10 AND points IS NOT NULL AND (minutes_played IS NOT NULL OR points > 0)
      ORDER BY game_date DESC
    ) AS prn,
    ROW_NUMBER() OVER (PARTITION BY day, player_lookup, rolled ORDER BY game_date DESC) AS rrn,
    ROW_NUMBER() OVER (
      PARTITION BY day, player_lookup, rolled AND usage_rate IS NOT NULL ORDER BY game_date DESC
    ) AS urn,
    AVG(IF(rolled, points, NULL)) OVER (PARTITION BY day, player_lookup) AS roll_avg,
    -- A structural change before this rolled game: another team, or > 14 days since the last.
    team_abbr != LAG(team_abbr) OVER (
      PARTITION BY day, player_lookup, rolled ORDER BY game_date
    )
    OR DATE_DIFF(
      game_date, LAG(game_date) OVER (PARTITION BY day, player_lookup, rolled ORDER BY game_date),
      DAY
    ) > 14 AS changed,
    -- Minutes volatility games (P's V17): minutes > 0, 60 days.
    game_date >= DATE_SUB(day, INTERVAL 60 DAY) AND minutes_played > 0 AS with_minutes,
    ROW_NUMBER() OVER (
      PARTITION BY day, player_lookup,
        game_date >= DATE_SUB(day, INTERVAL 60 DAY) AND minutes_played > 0
      ORDER BY game_date DESC
    ) AS mrn
  FROM games
),
history AS (
  SELECT
    day,
    player_lookup,
    -- last 10 games (phase3 data of P)
    COUNTIF(in10) AS n10,
    SUM(IF(in10 AND rn <= 2, COALESCE(points, 0), 0)) AS pts_newest_2,
    SUM(IF(in10 AND rn BETWEEN 3 AND 5, COALESCE(points, 0), 0)) AS pts_next_3,
    SUM(IF(in10, COALESCE(minutes_played, 0), 0)) AS minutes_10,
    SUM(IF(in10, COALESCE(ft_makes, 0), 0)) AS ft_makes_10,
    SUM(IF(in10, COALESCE(points, 0), 0)) AS points_10,
    COUNTIF(in10 AND is_dnp IS TRUE) AS dnp_10,
    SUM(IF(in10, rn, 0)) AS sum_r,
    SUM(IF(in10, rn * rn, 0)) AS sum_r2,
    SUM(IF(in10, rn * COALESCE(points, 0), 0)) AS sum_ry,
    COUNTIF(played10) AS n_played,
    AVG(IF(played10, points, NULL)) AS played_avg_10,
    AVG(IF(played10 AND prn <= 5, points, NULL)) AS played_avg_5,
    -- season (P's season stats: every row of the date's season before the date)
    AVG(IF(season_year = day_season, points, NULL)) AS season_points,
    AVG(IF(season_year = day_season, minutes_played, NULL)) AS season_minutes,
    -- vs the opponent, 1 year
    COUNTIF(opponent_team_abbr = day_opponent AND game_date >= DATE_SUB(day, INTERVAL 1 YEAR))
      AS opp_games,
    AVG(IF(opponent_team_abbr = day_opponent AND game_date >= DATE_SUB(day, INTERVAL 1 YEAR),
           points, NULL)) AS opp_points,
    -- minutes and points per minute, minutes > 0, 30 days
    AVG(IF(game_date >= DATE_SUB(day, INTERVAL 30 DAY) AND minutes_played > 0,
           minutes_played, NULL)) AS minutes_30,
    AVG(IF(game_date >= DATE_SUB(day, INTERVAL 30 DAY) AND minutes_played > 0,
           CAST(SAFE_DIVIDE(points, minutes_played) AS NUMERIC(38, 9)), NULL)) AS ppm_30,
    -- rolling stats (played games of 60 days)
    COUNTIF(rolled) AS n_rolled,
    AVG(IF(rolled AND rrn <= 3, points, NULL)) AS avg_last_3,
    AVG(IF(rolled, points, NULL)) AS avg_rolled,
    -- Sample std from exact sums (n Σx² - (Σx)²) / (n (n - 1)): STDDEV_SAMP accumulates in
    -- floating point, so its last bit would depend on row order (and so on the chunking).
    SQRT(SAFE_DIVIDE(
      COUNTIF(rolled) * SUM(IF(rolled, points * points, 0))
        - SUM(IF(rolled, points, 0)) * SUM(IF(rolled, points, 0)),
      COUNTIF(rolled) * (COUNTIF(rolled) - 1)
    )) AS std_rolled,
    SUM(IF(rolled AND rrn <= 7, rrn, 0)) AS sum7_r,
    SUM(IF(rolled AND rrn <= 7, rrn * rrn, 0)) AS sum7_r2,
    SUM(IF(rolled AND rrn <= 7, rrn * points, 0)) AS sum7_ry,
    SUM(IF(rolled AND rrn <= 7, points, 0)) AS sum7_y,
    MIN(IF(rolled AND points >= roll_avg, rrn, NULL)) AS first_not_below,
    COUNTIF(rolled AND usage_rate IS NOT NULL) AS n_usage,
    AVG(IF(rolled AND usage_rate IS NOT NULL AND urn <= 5, usage_rate, NULL)) AS usage_5,
    MIN(IF(rolled AND changed, rrn, NULL)) AS newest_change,
    COUNTIF(with_minutes AND mrn <= 10) AS n_minutes_10,
    SQRT(SAFE_DIVIDE(
      COUNTIF(with_minutes AND mrn <= 10)
        * SUM(IF(with_minutes AND mrn <= 10, minutes_played * minutes_played, 0))
        - SUM(IF(with_minutes AND mrn <= 10, minutes_played, 0))
        * SUM(IF(with_minutes AND mrn <= 10, minutes_played, 0)),
      COUNTIF(with_minutes AND mrn <= 10) * (COUNTIF(with_minutes AND mrn <= 10) - 1)
    )) AS minutes_std_10
  FROM ranked
  GROUP BY day, player_lookup
),
team_days AS (
  SELECT DISTINCT game_date AS day, team_abbr, day_season
  FROM players
),
team_games AS (
  SELECT
    t.day,
    t.team_abbr,
    t.day_season,
    o.season_year,
    o.game_date,
    o.win_flag,
    o.margin_of_victory,
    ROW_NUMBER() OVER (PARTITION BY t.day, t.team_abbr ORDER BY o.game_date DESC) AS rn
  FROM team_days AS t
  JOIN nba_analytics.team_offense_game_summary AS o
    ON o.team_abbr = t.team_abbr
    AND o.game_date < t.day
    AND o.game_date >= DATE_SUB(t.day, INTERVAL 366 DAY)
  WHERE o.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 366 DAY) AND @end_date
),
team_history AS (
  SELECT
    day,
    team_abbr,
    COUNTIF(season_year = day_season) AS season_games,
    COUNTIF(season_year = day_season AND win_flag) AS season_wins,
    COUNTIF(rn <= 10 AND game_date >= DATE_SUB(day, INTERVAL 60 DAY)) AS recent_games,
    COUNTIF(rn <= 10 AND game_date >= DATE_SUB(day, INTERVAL 60 DAY)
            AND ABS(margin_of_victory) >= 15) AS recent_blowouts
  FROM team_games
  GROUP BY day, team_abbr
),
raw_features AS (
  -- Each feature's input; NULL = absent (the default or 0.0 applies in `vectors`).
  SELECT
    p.game_date,
    p.player_lookup,
    p.universal_player_id,
    p.game_id,
    p.opponent_team_abbr,
    p.home_game,
    p.days_rest,
    CAST(c.points_avg_last_5 AS FLOAT64) AS p4_00,
    CAST(IF(h.n_played >= 5, h.played_avg_5, NULL) AS FLOAT64) AS p3_00,
    CAST(c.points_avg_last_10 AS FLOAT64) AS p4_01,
    CAST(IF(h.n_played > 0, h.played_avg_10, NULL) AS FLOAT64) AS p3_01,
    CAST(c.points_avg_season AS FLOAT64) AS p4_02,
    CAST(h.season_points AS FLOAT64) AS p3_02,
    CAST(c.points_std_last_10 AS FLOAT64) AS f03,
    CAST(p.games_in_last_7_days AS FLOAT64) AS f04,
    CAST(f.fatigue_score AS FLOAT64) AS f05,
    CAST(f.shot_zone_mismatch_score AS FLOAT64) AS f06,
    CAST(f.pace_score AS FLOAT64) AS f07,
    CAST(f.usage_spike_score AS FLOAT64) AS f08,
    CAST(
      IF(p.days_rest IS NULL OR otc.days_since_last_game IS NULL, 0,
         GREATEST(-2, LEAST(2, p.days_rest - otc.days_since_last_game))) AS FLOAT64
    ) AS f09,
    CAST(
      CASE
        WHEN COALESCE(h.n10, 0) < 5 THEN 0
        WHEN h.pts_newest_2 / 2 - h.pts_next_3 / 3 >= 5 THEN 2
        WHEN h.pts_newest_2 / 2 - h.pts_next_3 / 3 >= 2 THEN 1
        WHEN h.pts_newest_2 / 2 - h.pts_next_3 / 3 <= -5 THEN -2
        WHEN h.pts_newest_2 / 2 - h.pts_next_3 / 3 <= -2 THEN -1
        ELSE 0
      END AS FLOAT64
    ) AS f11,
    -- minutes_change inputs: recent (cache, else the last 10 games, else 0) and season.
    CAST(
      COALESCE(c.minutes_avg_last_10, IF(h.n10 > 0, h.minutes_10 / h.n10, NULL), 0) AS FLOAT64
    ) AS minutes_recent,
    CAST(COALESCE(h.season_minutes, 0) AS FLOAT64) AS minutes_season,
    CAST(df.defensive_rating_last_15 AS FLOAT64) AS f13,
    CAST(df.opponent_pace AS FLOAT64) AS f14,
    CAST(IF(p.home_game, 1, 0) AS FLOAT64) AS f15,
    CAST(IF(p.back_to_back, 1, 0) AS FLOAT64) AS f16,
    CAST(IF(LOWER(COALESCE(p.season_phase, '')) = 'playoffs', 1, 0) AS FLOAT64) AS f17,
    CAST(z.paint_rate_last_10 / 100 AS FLOAT64) AS f18,
    CAST(z.mid_range_rate_last_10 / 100 AS FLOAT64) AS f19,
    CAST(z.three_pt_rate_last_10 / 100 AS FLOAT64) AS f20,
    CAST(
      IF(COALESCE(h.n10, 0) < 5 OR h.points_10 = 0, 0.15,
         ROUND(GREATEST(0, LEAST(0.5, h.ft_makes_10 / h.points_10)), 9)) AS FLOAT64
    ) AS f21,
    CAST(c.team_pace_last_10 AS FLOAT64) AS f22,
    CAST(c.team_off_rating_last_10 AS FLOAT64) AS f23,
    CAST(
      IF(COALESCE(th.season_games, 0) < 5, 0.5,
         ROUND(th.season_wins / th.season_games, 9)) AS FLOAT64
    ) AS f24,
    CAST(p.current_points_line AS FLOAT64) AS f25,
    CAST(
      IF(p.current_points_line IS NULL, NULL,
         COALESCE(p.opening_points_line, p.current_points_line)) AS FLOAT64
    ) AS f26,
    CAST(
      p.current_points_line - COALESCE(p.opening_points_line, p.current_points_line) AS FLOAT64
    ) AS f27,
    CAST(h.opp_points AS FLOAT64) AS f29,
    CAST(COALESCE(h.opp_games, 0) AS FLOAT64) AS f30,
    CAST(h.minutes_30 AS FLOAT64) AS mp_31,
    CAST(c.minutes_avg_last_10 AS FLOAT64) AS p4_31,
    CAST(h.ppm_30 AS FLOAT64) AS f32,
    CAST(IF(COALESCE(h.n10, 0) < 3, 0, ROUND(h.dnp_10 / h.n10, 9)) AS FLOAT64) AS f33,
    -- Slope over x = 0 (oldest) .. n - 1 (newest) = minus the slope over rn (1 = newest).
    CAST(
      IF(COALESCE(h.n10, 0) < 5, 0,
         ROUND(-(h.n10 * h.sum_ry - h.sum_r * h.points_10)
               / (h.n10 * h.sum_r2 - h.sum_r * h.sum_r), 9)) AS FLOAT64
    ) AS f34,
    CAST(p.game_total AS FLOAT64) AS f38,
    CAST(p.days_rest AS FLOAT64) AS f39,
    CAST(p.minutes_in_last_7_days AS FLOAT64) AS f40,
    CAST(ABS(p.game_spread) AS FLOAT64) AS f41,
    CAST(
      IF(p.home_game, (p.game_total - p.game_spread) / 2, (p.game_total + p.game_spread) / 2)
      AS FLOAT64
    ) AS f42,
    CAST(IF(h.n_rolled > 0, h.avg_last_3, NULL) AS FLOAT64) AS f43,
    CAST(
      CASE
        WHEN COALESCE(h.n_rolled, 0) = 0 THEN NULL
        WHEN h.n_rolled < 4 THEN 0
        ELSE -(LEAST(h.n_rolled, 7) * h.sum7_ry - h.sum7_r * h.sum7_y)
          / (LEAST(h.n_rolled, 7) * h.sum7_r2 - h.sum7_r * h.sum7_r)
      END AS FLOAT64
    ) AS f44,
    CAST(
      CASE
        WHEN COALESCE(h.n_rolled, 0) = 0 THEN NULL
        WHEN h.n_rolled < 2 THEN (h.avg_last_3 - h.avg_rolled) / 5
        WHEN h.std_rolled > 0 THEN (h.avg_last_3 - h.avg_rolled) / h.std_rolled
        ELSE 0
      END AS FLOAT64
    ) AS f45,
    CAST(IF(h.n_rolled > 0, COALESCE(h.first_not_below - 1, h.n_rolled), NULL) AS FLOAT64) AS f46,
    CAST(IF(h.n_rolled > 0, IF(h.n_usage >= 3, h.usage_5, 20), NULL) AS FLOAT64) AS f48,
    CAST(
      IF(h.n_rolled > 0, COALESCE(h.newest_change - 1, LEAST(h.n_rolled, 30)), NULL) AS FLOAT64
    ) AS f49,
    CAST(
      IF(COALESCE(h.n_minutes_10, 0) < 3, NULL,
         ROUND(IF(th.recent_games > 0, th.recent_blowouts / th.recent_games, 0.2), 4))
      AS FLOAT64
    ) AS f57,
    CAST(IF(COALESCE(h.n_minutes_10, 0) < 3, NULL, ROUND(h.minutes_std_10, 2)) AS FLOAT64) AS f58
  FROM players AS p
  LEFT JOIN cache AS c ON c.cache_date = p.game_date AND c.player_lookup = p.player_lookup
  LEFT JOIN factors AS f ON f.game_date = p.game_date AND f.player_lookup = p.player_lookup
  LEFT JOIN zones AS z ON z.analysis_date = p.game_date AND z.player_lookup = p.player_lookup
  LEFT JOIN defense AS df
    ON df.analysis_date = p.game_date AND df.team_abbr = p.opponent_team_abbr
  LEFT JOIN team_context AS otc
    ON otc.game_date = p.game_date AND otc.team_abbr = p.opponent_team_abbr
  LEFT JOIN history AS h ON h.day = p.game_date AND h.player_lookup = p.player_lookup
  LEFT JOIN team_history AS th ON th.day = p.game_date AND th.team_abbr = p.team_abbr
),
resolved AS (
  -- Fallback chains resolved: f00..f02 = the value P uses (phase4, else phase3), NULL = default.
  SELECT
    *,
    COALESCE(p4_00, p3_00) AS f00,
    COALESCE(p4_01, p3_01) AS f01,
    COALESCE(p4_02, p3_02) AS f02,
    COALESCE(mp_31, p4_31) AS f31
  FROM raw_features
),
vectors AS (
  -- One entry per feature: (position, value as the array holds it, P's raw source).
  SELECT
    game_date,
    player_lookup,
    universal_player_id,
    game_id,
    opponent_team_abbr,
    home_game,
    days_rest,
    ARRAY<STRUCT<i INT64, v FLOAT64, s STRING>>[
      (0, COALESCE(f00, 10.0), IF(f00 IS NULL, 'default', IF(p4_00 IS NULL, 'phase3', 'phase4'))),
      (1, COALESCE(f01, 10.0), IF(f01 IS NULL, 'default', IF(p4_01 IS NULL, 'phase3', 'phase4'))),
      (2, COALESCE(f02, 10.0), IF(f02 IS NULL, 'default', IF(p4_02 IS NULL, 'phase3', 'phase4'))),
      (3, COALESCE(f03, 5.0), IF(f03 IS NULL, 'default', 'phase4')),
      (4, COALESCE(f04, 3.0), IF(f04 IS NULL, 'default', 'phase3')),
      (5, COALESCE(f05, 50.0), IF(f05 IS NULL, 'default', 'phase4')),
      (6, COALESCE(f06, 0.0), IF(f06 IS NULL, 'default', 'phase4')),
      (7, COALESCE(f07, 0.0), IF(f07 IS NULL, 'default', 'phase4')),
      (8, COALESCE(f08, 0.0), IF(f08 IS NULL, 'default', 'phase4')),
      (9, f09, 'calculated'),
      (10, 0.0, 'calculated'),
      (11, f11, 'calculated'),
      (
        12,
        CASE
          WHEN minutes_season = 0 OR minutes_recent = 0 THEN 0.0
          WHEN (minutes_recent - minutes_season) / minutes_season >= 0.20 THEN 2.0
          WHEN (minutes_recent - minutes_season) / minutes_season >= 0.10 THEN 1.0
          WHEN (minutes_recent - minutes_season) / minutes_season <= -0.20 THEN -2.0
          WHEN (minutes_recent - minutes_season) / minutes_season <= -0.10 THEN -1.0
          ELSE 0.0
        END,
        'calculated'
      ),
      (13, COALESCE(f13, 112.0), IF(f13 IS NULL, 'default', 'phase4')),
      (14, COALESCE(f14, 100.0), IF(f14 IS NULL, 'default', 'phase4')),
      (15, f15, 'phase3'),
      (16, f16, 'phase3'),
      (17, f17, 'phase3'),
      (18, COALESCE(f18, 0.0), IF(f18 IS NULL, 'missing', 'phase4')),
      (19, COALESCE(f19, 0.0), IF(f19 IS NULL, 'missing', 'phase4')),
      (20, COALESCE(f20, 0.0), IF(f20 IS NULL, 'missing', 'phase4')),
      (21, f21, 'calculated'),
      (22, COALESCE(f22, 100.0), IF(f22 IS NULL, 'default', 'phase4')),
      (23, COALESCE(f23, 112.0), IF(f23 IS NULL, 'default', 'phase4')),
      (24, f24, 'calculated'),
      (25, COALESCE(f25, 0.0), IF(f25 IS NULL, 'missing', 'vegas')),
      (26, COALESCE(f26, 0.0), IF(f26 IS NULL, 'missing', 'vegas')),
      (27, COALESCE(f27, 0.0), IF(f27 IS NULL, 'missing', 'vegas')),
      (28, IF(f25 IS NULL, 0.0, 1.0), 'calculated'),
      (
        29,
        COALESCE(f29, NULLIF(p4_02, 0), NULLIF(p3_02, 0), 10.0),
        IF(f29 IS NULL, 'calculated', 'opponent_history')
      ),
      (30, f30, IF(opponent_team_abbr IS NULL, 'calculated', 'opponent_history')),
      (
        31,
        COALESCE(f31, 28.0),
        IF(f31 IS NULL, 'default', IF(mp_31 IS NULL, 'phase4', 'minutes_ppm'))
      ),
      (32, COALESCE(f32, 0.4), IF(f32 IS NULL, 'default', 'minutes_ppm')),
      (33, f33, 'calculated'),
      (34, f34, 'calculated'),
      (
        35,
        IF(f00 IS NULL OR f02 IS NULL OR f03 IS NULL OR f03 = 0, 0.0,
           ROUND(GREATEST(-3.0, LEAST(3.0, (f00 - f02) / f03)), 9)),
        'calculated'
      ),
      (
        36,
        IF(f00 IS NOT NULL AND f02 IS NOT NULL AND f03 IS NOT NULL AND f00 > f02 + 1.5 * f03,
           1.0, 0.0),
        'calculated'
      ),
      (37, 0.0, 'default'),
      (38, COALESCE(f38, 0.0), IF(f38 IS NULL, 'missing', 'phase3')),
      (39, COALESCE(f39, 0.0), IF(f39 IS NULL, 'missing', 'phase3')),
      (40, COALESCE(f40, 0.0), IF(f40 IS NULL, 'missing', 'phase3')),
      (41, COALESCE(f41, 0.0), IF(f41 IS NULL, 'missing', 'phase3')),
      (42, COALESCE(f42, 0.0), IF(f42 IS NULL, 'missing', 'phase3')),
      (43, COALESCE(f43, 0.0), IF(f43 IS NULL, 'missing', 'calculated')),
      (44, COALESCE(f44, 0.0), IF(f44 IS NULL, 'missing', 'calculated')),
      (45, COALESCE(f45, 0.0), IF(f45 IS NULL, 'missing', 'calculated')),
      (46, COALESCE(f46, 0.0), IF(f46 IS NULL, 'missing', 'calculated')),
      (47, 0.0, 'missing'),
      (48, COALESCE(f48, 0.0), IF(f48 IS NULL, 'missing', 'calculated')),
      (49, COALESCE(f49, 0.0), IF(f49 IS NULL, 'missing', 'calculated')),
      (50, 0.0, 'missing'),
      (51, 0.0, 'missing'),
      (52, 0.0, 'missing'),
      (
        53,
        IF(f25 IS NULL, 0.0, f25 - COALESCE(f02, 10.0)),
        IF(f25 IS NULL, 'missing', 'calculated')
      ),
      (54, 0.0, 'missing'),
      (55, 0.0, 'missing'),
      (56, 0.0, 'missing'),
      (57, COALESCE(f57, 0.0), IF(f57 IS NULL, 'missing', 'calculated')),
      (58, COALESCE(f58, 0.0), IF(f58 IS NULL, 'missing', 'calculated')),
      (59, COALESCE(f22, 100.0) - COALESCE(f14, 100.0), 'calculated')
    ] AS fs
  FROM resolved
),
per_feature AS (
  -- One row per (player, date, feature), P's quality scorer per feature: weight, canonical
  -- source, default?, optional?, category. Every per-row array and count below is one GROUP BY
  -- over it: an ARRAY(SELECT ... FROM UNNEST(...)) per column is a correlated subquery per row,
  -- which took a 92-day chunk to 2.6 GB on DuckDB.
  SELECT
    s.game_date,
    s.player_lookup,
    d.v,
    d.i,
    d.s,
    CASE d.s
      WHEN 'phase4' THEN 100 WHEN 'phase3' THEN 87 WHEN 'calculated' THEN 100
      WHEN 'vegas' THEN 100 WHEN 'bettingpros' THEN 100 WHEN 'opponent_history' THEN 90
      WHEN 'minutes_ppm' THEN 95 WHEN 'missing' THEN 0 ELSE 40
    END AS w,
    CASE
      WHEN d.s IN ('phase4', 'vegas', 'opponent_history', 'minutes_ppm') THEN 'phase4'
      WHEN d.s IN ('phase3', 'calculated', 'bettingpros') THEN d.s
      ELSE 'default'
    END AS canonical,
    d.s IN ('default', 'fallback', 'missing') AS is_default,
    d.i IN (25, 26, 27) OR d.i >= 37 AS optional,
    CASE
      WHEN d.i IN (5, 6, 7, 8, 13, 14) THEN 'matchup'
      WHEN d.i IN (0, 1, 2, 3, 4, 29, 30, 31, 32, 33, 34, 35, 36, 37, 43, 44, 45, 46, 48, 49,
                   54, 55, 56, 58) THEN 'player_history'
      WHEN d.i IN (22, 23, 24, 57) THEN 'team_context'
      WHEN d.i IN (25, 26, 27, 28) THEN 'vegas'
      ELSE 'game_context'
    END AS category
  FROM vectors AS s, UNNEST(s.fs) AS d
),
feature_counts AS (
  SELECT
    q.game_date,
    q.player_lookup,
    COUNT(*) AS n_features,
    ARRAY_AGG(q.v ORDER BY q.i) AS features,
    ARRAY_AGG(IF(q.is_default, q.i, NULL) IGNORE NULLS ORDER BY q.i) AS default_indices,
    ARRAY_AGG(CAST(q.w AS FLOAT64) ORDER BY q.i) AS feature_weights,
    ARRAY_AGG(q.canonical ORDER BY q.i) AS canonical_sources,
    -- The reason of each defaulted feature, as P's DEFAULT_FALLBACK_REASONS (ascending).
    STRING_AGG(
      IF(q.is_default, CONCAT('"', CAST(q.i AS STRING), '": "',
          CASE
            WHEN q.i IN (5, 6, 7, 8) THEN 'composite_factors_missing'
            WHEN q.i IN (13, 14) THEN 'opponent_defense_missing'
            WHEN q.i IN (18, 19, 20) THEN 'shot_zone_data_missing'
            WHEN q.i IN (25, 26, 27) THEN 'vegas_line_unavailable'
            WHEN q.i IN (29, 30) THEN 'no_opponent_history'
            WHEN q.i IN (31, 32) THEN 'minutes_ppm_unavailable'
            WHEN q.i = 37 THEN 'star_teammates_out_unavailable'
            WHEN q.i = 38 THEN 'game_total_line_unavailable'
            WHEN q.i = 39 THEN 'days_rest_unavailable'
            WHEN q.i = 40 THEN 'minutes_load_unavailable'
            WHEN q.i = 41 THEN 'spread_unavailable'
            WHEN q.i = 42 THEN 'implied_team_total_unavailable'
            WHEN q.i IN (43, 44, 45, 46, 48, 49) THEN 'rolling_stats_unavailable'
            WHEN q.i IN (47, 50) THEN 'dead_feature'
            WHEN q.i IN (51, 52) THEN 'prop_streaks_unavailable'
            WHEN q.i = 53 THEN 'line_vs_season_unavailable'
            WHEN q.i = 54 THEN 'no_prior_line'
            WHEN q.i IN (55, 56) THEN 'insufficient_prop_history'
            WHEN q.i = 57 THEN 'team_history_unavailable'
            WHEN q.i = 58 THEN 'insufficient_minutes_history'
            WHEN q.i = 59 THEN 'pace_unavailable'
            ELSE 'data_unavailable'
          END, '"'), NULL),
      ', ' ORDER BY q.i
    ) AS fallback_reasons,
    SUM(IF(NOT (q.is_default AND q.optional), CAST(q.w AS INT64), NULL)) AS counted_weight,
    COUNTIF(NOT (q.is_default AND q.optional)) AS counted,
    COUNTIF(q.is_default) AS n_default,
    COUNTIF(q.is_default AND NOT q.optional) AS n_required_default,
    COUNTIF(q.s = 'phase4') AS n_raw_phase4,
    COUNTIF(q.s = 'phase3') AS n_raw_phase3,
    ROUND(AVG(IF(q.category = 'matchup', CAST(q.w AS INT64), NULL)), 1) AS matchup_pct,
    ROUND(AVG(IF(q.category = 'player_history', CAST(q.w AS INT64), NULL)), 1) AS player_history_pct,
    ROUND(AVG(IF(q.category = 'team_context', CAST(q.w AS INT64), NULL)), 1) AS team_context_pct,
    ROUND(AVG(IF(q.category = 'vegas', CAST(q.w AS INT64), NULL)), 1) AS vegas_pct,
    ROUND(AVG(IF(q.category = 'game_context', CAST(q.w AS INT64), NULL)), 1) AS game_context_pct,
    COUNTIF(q.is_default AND (q.category = 'matchup')) AS matchup_defaults,
    COUNTIF(q.is_default AND (q.i IN (5, 6, 7, 8))) AS composite_defaults,
    COUNTIF(q.is_default AND (q.i IN (13, 14))) AS defense_defaults,
    COUNTIF(q.canonical = 'phase4') AS n_phase4,
    COUNTIF(q.canonical = 'phase3') AS n_phase3,
    COUNTIF(q.canonical = 'calculated') AS n_calculated,
    COUNTIF(q.w >= 85) AS n_training_quality,
    COUNTIF(q.is_default AND (q.category = 'player_history')) AS player_history_defaults,
    COUNTIF(q.is_default AND (q.category = 'team_context')) AS team_context_defaults,
    COUNTIF(q.is_default AND (q.category = 'vegas')) AS vegas_defaults,
    COUNTIF(q.is_default AND (q.category = 'game_context')) AS game_context_defaults,
    COUNTIF(q.is_default AND (q.i = 28)) AS vegas_line_defaults,
    COUNTIF(q.w < 85 AND (q.category = 'matchup')) AS matchup_below_85,
    COUNTIF(q.w >= 85 AND (q.category = 'matchup')) AS matchup_at_85,
    COUNTIF(NOT q.is_default AND (q.category != 'matchup')) AS optional_present
  FROM per_feature AS q
  GROUP BY q.game_date, q.player_lookup
),
aggregated AS (
  -- USING: the key columns come once (no qualified stars: not every engine reads them).
  SELECT *
  FROM (SELECT * EXCEPT (fs) FROM vectors) AS v
  JOIN feature_counts USING (game_date, player_lookup)
),
quality AS (
  SELECT
    *,
    ROUND(
      CASE
        WHEN n_required_default >= 5 THEN LEAST(counted_weight / counted, 49.0)
        WHEN n_required_default >= 1 THEN LEAST(counted_weight / counted, 69.0)
        ELSE counted_weight / counted
      END,
      2
    ) AS score
  FROM aggregated
)
SELECT
  CAST(game_date AS DATE) AS game_date,
  CAST(player_lookup AS STRING) AS player_lookup,
  -- the context row's registry id, as P's extractor selects it with the day's players
  CAST(universal_player_id AS STRING) AS universal_player_id,
  CAST(game_id AS STRING) AS game_id,
  CAST(features AS ARRAY<FLOAT64>) AS features,  -- never a NULL element
  CAST(opponent_team_abbr AS STRING) AS opponent_team_abbr,
  CAST(home_game AS BOOL) AS is_home,
  CAST(days_rest AS INT64) AS days_rest,
  CAST(score AS FLOAT64) AS feature_quality_score,
  -- determine_primary_source: shares of raw 'phase4' / 'phase3' sources among the 60.
  CAST(
    CASE
      WHEN n_raw_phase4 >= 0.9 * n_features THEN 'phase4'
      WHEN n_raw_phase4 >= 0.5 * n_features THEN 'phase4_partial'
      WHEN n_raw_phase3 >= 0.5 * n_features THEN 'phase3'
      ELSE 'mixed'
    END AS STRING
  ) AS data_source,
  CAST(
    CASE
      WHEN score >= 95 THEN 'gold' WHEN score >= 85 THEN 'silver' WHEN score >= 70 THEN 'bronze'
      WHEN score >= 50 THEN 'poor' ELSE 'critical'
    END AS STRING
  ) AS quality_tier,
  CAST(
    CASE
      WHEN matchup_pct < 50 OR score < 50 THEN 'red'
      WHEN n_required_default > 0 OR score < 70 OR matchup_pct < 70 THEN 'yellow'
      ELSE 'green'
    END AS STRING
  ) AS quality_alert_level,
  CAST(
    ARRAY_CONCAT(
      IF(matchup_defaults = 6,
         ['all_matchup_features_defaulted'], ARRAY<STRING>[]),
      IF(composite_defaults > 0,
         ['composite_factors_missing'], ARRAY<STRING>[]),
      IF(defense_defaults > 0,
         ['opponent_defense_missing'], ARRAY<STRING>[]),
      IF(n_default / n_features > 0.20,
         [CONCAT('high_default_rate_',
                 CAST(CAST(ROUND(100 * n_default / n_features) AS INT64) AS STRING), 'pct')],
         ARRAY<STRING>[]),
      IF(matchup_pct < 50, ['matchup_quality_critical'], ARRAY<STRING>[]),
      IF(game_context_pct < 50, ['game_context_quality_critical'], ARRAY<STRING>[])
    ) AS ARRAY<STRING>
  ) AS quality_alerts,
  CAST(n_default AS INT64) AS default_feature_count,
  CAST(n_required_default AS INT64) AS required_default_count,
  CAST(COALESCE(default_indices, ARRAY<INT64>[]) AS ARRAY<INT64>) AS default_feature_indices,
  CAST(n_phase4 AS INT64)
    AS phase4_feature_count,
  CAST(n_phase3 AS INT64)
    AS phase3_feature_count,
  CAST(n_calculated AS INT64)
    AS calculated_feature_count,
  CAST(score >= 85 AND matchup_pct >= 70 AND player_history_pct >= 80 AS BOOL)
    AS is_training_ready,
  CAST(n_training_quality AS INT64)
    AS training_quality_feature_count,
  CAST(score >= 70 AND matchup_pct >= 50 AND n_required_default = 0 AS BOOL) AS is_quality_ready,
  CAST(matchup_pct AS FLOAT64) AS matchup_quality_pct,
  CAST(player_history_pct AS FLOAT64) AS player_history_quality_pct,
  CAST(team_context_pct AS FLOAT64) AS team_context_quality_pct,
  CAST(vegas_pct AS FLOAT64) AS vegas_quality_pct,
  CAST(game_context_pct AS FLOAT64) AS game_context_quality_pct,
  CAST(matchup_defaults AS INT64)
    AS matchup_default_count,
  CAST(
    player_history_defaults
    AS INT64
  ) AS player_history_default_count,
  CAST(
    team_context_defaults
    AS INT64
  ) AS team_context_default_count,
  CAST(vegas_defaults AS INT64)
    AS vegas_default_count,
  CAST(
    game_context_defaults
    AS INT64
  ) AS game_context_default_count,
  CAST(composite_defaults = 0 AS BOOL)
    AS has_composite_factors,
  CAST(defense_defaults = 0 AS BOOL)
    AS has_opponent_defense,
  -- P reads the "default" flag of feature 28 (has_vegas_line), which is always 'calculated'.
  CAST(vegas_line_defaults = 0 AS BOOL)
    AS has_vegas_line,
  CAST(matchup_below_85 = 0 AS BOOL)
    AS critical_features_training_quality,
  CAST(matchup_at_85 AS INT64)
    AS critical_feature_count,
  CAST(
    optional_present
    AS INT64
  ) AS optional_feature_count,
  CAST(
    CASE
      WHEN matchup_pct >= 95 THEN 'gold' WHEN matchup_pct >= 85 THEN 'silver'
      WHEN matchup_pct >= 70 THEN 'bronze' WHEN matchup_pct >= 50 THEN 'poor' ELSE 'critical'
    END AS STRING
  ) AS matchup_quality_tier,
  CAST(
    CASE
      WHEN game_context_pct >= 95 THEN 'gold' WHEN game_context_pct >= 85 THEN 'silver'
      WHEN game_context_pct >= 70 THEN 'bronze' WHEN game_context_pct >= 50 THEN 'poor'
      ELSE 'critical'
    END AS STRING
  ) AS game_context_quality_tier,
  -- P's DEFAULT_FALLBACK_REASONS as JSON (feature_counts: the reasons, ascending).
  CAST(CONCAT('{', COALESCE(fallback_reasons, ''), '}') AS STRING)
    AS feature_fallback_reasons_json,
  CAST('{}' AS STRING) AS feature_sample_sizes_json,
  CAST('{}' AS STRING) AS feature_expected_values_json,
  CAST('{}' AS STRING) AS feature_value_ranges_valid_json,
  CAST('{}' AS STRING) AS feature_last_updated_json,
  CAST(CONCAT('v2_', CAST(n_features AS STRING), 'features') AS STRING)
    AS feature_schema_version,
  CAST(['v2_14features'] AS ARRAY<STRING>) AS breakout_model_compatible,
  CAST(FALSE AS BOOL) AS breakout_v3_features_available,
  CAST('v1_hybrid_20260205' AS STRING) AS quality_schema_version,
  CAST(
    CASE
      WHEN n_raw_phase4 >= 0.9 * n_features THEN 'phase4'
      WHEN n_raw_phase4 >= 0.5 * n_features THEN 'phase4_partial'
      WHEN n_raw_phase3 >= 0.5 * n_features THEN 'phase3'
      ELSE 'mixed'
    END AS STRING
  ) AS primary_data_source,
  CAST(IF(matchup_pct < 50, 'MATCHUP_UNAVAILABLE', 'COMPLETE') AS STRING) AS matchup_data_status,
  -- Helpers (never written): the write spreads them into feature_N_quality / feature_N_source.
  CAST(feature_weights AS ARRAY<FLOAT64>) AS _feature_quality,
  CAST(canonical_sources AS ARRAY<STRING>) AS _feature_source
FROM quality
