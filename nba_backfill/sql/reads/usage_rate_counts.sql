-- read usage_rate_counts
-- One row: the player-games on [@start_date, @end_date] where the player played (`played`:
-- minutes > 0, or active with points but unparsed minutes — the usage_rate audit's rule) and,
-- of those, the rows the usage_rate audit returns (`without_usage`).
-- ML readiness is the share (played - without_usage) / played.
-- Slots: :this_table, :date_column (catalog), :usage_rate (the audit).
SELECT
  (
    SELECT COUNT(*)
    FROM :this_table
    WHERE :date_column BETWEEN @start_date AND @end_date
      AND (minutes_played > 0 OR (is_active AND minutes_played IS NULL AND points > 0))
  ) AS played,
  (SELECT COUNT(*) FROM :usage_rate) AS without_usage
