-- read input_fingerprint_whole
-- An input table without a date partition (the players registry): its rows and the fingerprint
-- of their content, for every date of a reader (nba_backfill/fingerprints.py).
-- Slots: :this_table, :content.
SELECT COUNT(*) AS n, BIT_XOR(FARM_FINGERPRINT(:content)) AS h
FROM :this_table AS s
