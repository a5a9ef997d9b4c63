"""Loading the per-table SQL files (BigQuery Standard SQL, one source of truth).

A file refers to tables by their logical ``dataset.table`` names and filters on ``@start_date`` /
``@end_date``. :func:`load_model` parses it as BigQuery and maps logical datasets to the
physical names from settings; rendering for a dialect happens in ``warehouse/`` only.

Shared pieces of SQL that several readers need the same way (the latest version of each
schedule game, the expected games, the season openers) are written once under
``nba_backfill/views/``; a query names one as ``nba_backfill_views.<name>`` and
:func:`splice_views` replaces that reference with the piece's SELECT (they are never created as
warehouse objects: nothing to deploy, and the same text runs on BigQuery and DuckDB). A piece
filters on the reader's ``@start_date`` / ``@end_date``.

The files never aggregate FLOAT64 (they cast to ``NUMERIC(38, 9)`` first): float sums depend on
row order, so reruns and other chunkings could otherwise write different bits.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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
VIEWS_DATASET = "nba_backfill_views"
VIEWS_DIR = Path(__file__).parent / "views"


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


def view_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in VIEWS_DIR.glob("*.sql")))


def splice_views(tree: exp.Expr, *, _depth: int = 0) -> exp.Expr:
    """Replace every ``nba_backfill_views.<name>`` reference in ``tree`` (in place) with the
    piece's SELECT as a subquery under the reference's alias (or its name)."""
    if _depth > 5:
        raise BackfillError("nba_backfill/views: pieces reference each other in a cycle")
    for ref in list(tree.find_all(exp.Table)):
        db = ref.args.get("db")
        if db is None or db.name != VIEWS_DATASET:
            continue
        path = VIEWS_DIR / f"{ref.name}.sql"
        if not path.exists():
            raise BackfillError(f"unknown shared SQL piece {VIEWS_DATASET}.{ref.name}")
        piece = splice_views(_parse(str(path)).copy(), _depth=_depth + 1)
        alias = ref.alias or ref.name
        ref.replace(exp.Subquery(this=piece, alias=exp.TableAlias(this=exp.to_identifier(alias))))
    return tree


def load_query(table: TableSpec) -> exp.Expr:
    """The table's SQL file as written (its own columns, logical dataset names)."""
    return _parse(str(table.sql_path)).copy()


def load_model(table: TableSpec, datasets: dict[str, str]) -> exp.Expr:
    """What a write of the table inserts: its SQL file's SELECT, shared pieces spliced in,
    wrapped to production's full schema (``outputs.write_select``: every live column, typed,
    in production's order), table references mapped to physical datasets.

    ``datasets`` maps logical -> physical dataset names (identity when they match)."""
    tree = splice_views(outputs.write_select(table.name, load_query(table)))
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
