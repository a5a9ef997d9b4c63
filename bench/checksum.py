"""Exact comparison of two runs' rows: a row count and an order-independent fingerprint of a
table's window, run through any warehouse's ``fetch`` (the benchmarks compare strategies with
it; tests compare a rerun, a crash or a retry with a clean run)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import sqlglot

from nba_backfill.catalog import TableSpec
from nba_backfill.outputs import is_volatile
from nba_backfill.sqlfiles import fill_slots, table_slots
from nba_backfill.warehouse.base import Warehouse

# BigQuery dialect like every query; DuckDB runs FARM_FINGERPRINT as its own HASH (the
# adapter maps it), so fingerprints compare within one engine, never across engines.
_CHECKSUM = """
SELECT COUNT(*) AS n,
       BIT_XOR(FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(:stable_columns)))) AS h
FROM :this_table AS t
WHERE :date_column BETWEEN @start_date AND @end_date
"""


def stable_columns(table: TableSpec) -> tuple[str, ...]:
    """The table's live columns whose value a rerun reproduces (all but the write's time)."""
    return tuple(c for c in table.contract.column_names if not is_volatile(c))


@lru_cache(maxsize=32)
def checksum_sql(table: TableSpec, columns: tuple[str, ...] | None = None) -> str:
    """The checksum query of ``table`` (BigQuery SQL, ``@start_date`` / ``@end_date``) over
    ``columns`` (default: the stable columns)."""
    slots = {**table_slots(table), "stable_columns": columns or stable_columns(table)}
    tree = fill_slots(sqlglot.parse_one(_CHECKSUM, read="bigquery"), slots, where="checksum")
    return tree.sql(dialect="bigquery", comments=False)


def checksum(
    wh: Warehouse,
    table: TableSpec,
    start: dt.date,
    end: dt.date,
    columns: tuple[str, ...] | None = None,
) -> tuple[int, str]:
    """(rows, fingerprint of every row's stable columns XORed) of ``table`` on ``[start, end]``:
    equal for the same rows in any order; the write-time columns (``outputs.is_volatile``) are
    left out (``columns``: a narrower set). ``(0, "")`` when the table does not exist."""
    if not wh.table_exists(table.name):
        return 0, ""
    rows = wh.fetch(checksum_sql(table, columns), {"start_date": start, "end_date": end})
    return int(rows[0]["n"]), str(rows[0]["h"])


__all__ = ["checksum", "checksum_sql", "stable_columns"]
