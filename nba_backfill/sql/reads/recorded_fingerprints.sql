-- read recorded_fingerprints
-- One row = one date of a table on [@start_date, @end_date] written with fingerprints: what its
-- latest write recorded of the model and of the inputs it read (the ledger is appended to; the
-- latest row of a date wins). Compared with the inputs now by readiness.fingerprint_stale.
SELECT game_date, model_sha, inputs_fingerprint
FROM nba_backfill_meta.write_fingerprints
WHERE table_name = @table_name AND game_date BETWEEN @start_date AND @end_date
QUALIFY ROW_NUMBER() OVER (PARTITION BY game_date ORDER BY written_at DESC) = 1
