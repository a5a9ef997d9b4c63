"""Loading the per-table SQL files (BigQuery Standard SQL, one source of truth).

A file refers to tables by their logical ``dataset.table`` names and filters on ``@start_date`` /
``@end_date``. :func:`load_model` parses it as BigQuery and maps logical datasets to the
physical names from settings; rendering for a dialect happens in ``warehouse/`` only.

The files never aggregate FLOAT64 (they cast to ``NUMERIC(38, 9)`` first): float sums depend on
row order, so reruns and other chunkings could otherwise write different bits.
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp

from nba_backfill import outputs
from nba_backfill.catalog import TableSpec
from nba_backfill.errors import BackfillError

LOGICAL_DATASETS = (
    "nba_raw",
    "nba_reference",
    "nba_analytics",
    "nba_precompute",
    "nba_predictions",
    "nba_backfill_meta",
)


@lru_cache(maxsize=64)
def _parse(path: str) -> exp.Expr:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    try:
        tree = sqlglot.parse_one(text, read="bigquery")
    except sqlglot.errors.ParseError as exc:
        raise BackfillError(f"{path}: not valid BigQuery SQL: {exc}") from exc
    if tree is None:
        raise BackfillError(f"{path}: empty SQL file")
    return tree


def load_query(table: TableSpec) -> exp.Expr:
    """The table's SQL file as written (its own columns, logical dataset names)."""
    return _parse(str(table.sql_path)).copy()


def load_model(table: TableSpec, datasets: dict[str, str]) -> exp.Expr:
    """What a write of the table inserts: its SQL file's SELECT wrapped to production's full
    schema (``outputs.write_select``: every live column, typed, in production's order), table
    references mapped to physical datasets.

    ``datasets`` maps logical -> physical dataset names (identity when they match)."""
    tree = outputs.write_select(table.name, load_query(table))
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for ref in tree.find_all(exp.Table):
        db = ref.args.get("db")
        if db is None:
            if ref.name not in ctes and not isinstance(ref.this, exp.Func):
                raise BackfillError(f"{table.sql_path}: table {ref.name!r} has no dataset")
            continue
        logical = db.name
        if logical not in datasets:
            raise BackfillError(f"{table.sql_path}: unknown dataset {logical!r}")
        ref.set("db", exp.to_identifier(datasets[logical]))
    return tree
