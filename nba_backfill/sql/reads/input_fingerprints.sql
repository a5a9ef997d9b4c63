-- read input_fingerprints
-- One row = one date of an input table on [@start_date, @end_date] that has rows: how many, and
-- an order-free fingerprint of their content (the XOR of one hash per row). What a write
-- records of the inputs it read and stale detection compares (nba_backfill/fingerprints.py):
-- a corrected row changes it even when its row count and processed_at stay the same.
-- Slots: :this_table, :date_column, :content (a catalog table's data_hash, which a rewrite of
-- the same values keeps; a Phase 2 table's whole row).
SELECT :date_column AS day, COUNT(*) AS n, BIT_XOR(FARM_FINGERPRINT(:content)) AS h
FROM :this_table AS s
WHERE :date_column BETWEEN @start_date AND @end_date
GROUP BY :date_column
