-- nba_backfill_views.schedule_latest
-- One row = one game of nba_raw.nbac_schedule in its latest version: production's
-- v_nbac_schedule_latest rule (schemas/bigquery/raw/nbac_schedule_tables.sql). The schedule is
-- appended to as games are rescheduled and finished, so a game can have several rows (e.g.
-- game_status 1 and 3); the one with the highest game_status, then the latest processed_at, wins.
-- The partition is (game_id, game_date) because NBA.com reuses game ids across dates.
-- Production's view also keeps only 365 days back / 30 ahead of CURRENT_DATE; a backfill reads
-- history, so the window here is the reader's: 366 days before @start_date (the longest look-back
-- of any reader: a season's opener) to @end_date. Filtering on game_date before deduplicating is
-- exact (game_date is part of the partition) and satisfies the table's required partition filter.
SELECT * EXCEPT (version_rank)
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY game_id, game_date
      ORDER BY game_status DESC NULLS LAST, processed_at DESC, source_file_path DESC
    ) AS version_rank
  FROM nba_raw.nbac_schedule
  WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 366 DAY) AND @end_date
)
WHERE version_rank = 1
