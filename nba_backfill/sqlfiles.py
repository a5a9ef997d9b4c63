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

Audits and the reads the planner and validation share are SQL files too
(``nba_backfill/sql/audits/``, ``nba_backfill/sql/reads/``): written once for any table, they
name the table and its columns with ``:slot`` placeholders that :func:`fill_slots` fills from
the table's catalog entry (:func:`table_slots`) as sqlglot nodes — identifiers come only from
the catalog, and values stay ``@`` query parameters, never text pasted into SQL.

The files never aggregate FLOAT64 (they cast to ``NUMERIC(38, 9)`` first): float sums depend on
row order, so reruns and other chunkings could otherwise write different bits.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import sqlglot
from sqlglot import exp

from nba_backfill import outputs
from nba_backfill.catalog import EXPECTED_DIR, SQL_DIR, TABLES, TableSpec
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
READS_DIR = SQL_DIR / "reads"

# A slot's value: a ``dataset.table`` or column name, several column names (spliced into a
# list: SELECT, GROUP BY), or a ready expression (a condition; a query in FROM position).
Slot = str | tuple[str, ...] | exp.Expr


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


def table_slots(table: TableSpec) -> dict[str, Slot]:
    """The slots a table fills in an audit or a shared read, all from its catalog entry:
    ``this_table``, ``date_column``, ``team_column``, ``written_column``, ``key_columns``,
    ``any_key_is_null`` and, for a table counting teams through another one, ``team_from`` /
    ``team_from_date_column``; for a table with an expected set, ``entity_column``,
    ``expected_set`` (the set's query) and ``excuse_skipped`` (its ``from_game_results``)."""
    slots: dict[str, Slot] = {
        "this_table": table.name,
        "date_column": table.date_column,
        "team_column": table.team_column,
        "written_column": table.written_column,
        "key_columns": table.key_columns,
        "any_key_is_null": exp.or_(*(exp.column(k).is_(exp.null()) for k in table.key_columns)),
    }
    if table.team_from is not None:
        source = TABLES[table.team_from]
        slots["team_from"] = source.name
        slots["team_from_date_column"] = source.date_column
    if table.expected_set is not None:
        slots["entity_column"] = table.entity_column
        slots["expected_set"] = load_file(EXPECTED_DIR / f"{table.expected_set}.sql")
        slots["excuse_skipped"] = exp.true() if table.from_game_results else exp.false()
    return slots


def fill_slots(tree: exp.Expr, slots: Mapping[str, Slot], *, where: str) -> exp.Expr:
    """Replace every ``:name`` placeholder of ``tree`` (in place) with ``slots[name]``: a
    ``dataset.table`` in FROM / JOIN position becomes that table (its alias kept), a query
    there becomes a subquery, a column name a column, several column names are spliced into
    the list holding the placeholder, an expression is put in as is.

    Raises BackfillError naming ``where`` for a slot without a value or used where its value
    cannot go."""
    for ph in list(tree.find_all(exp.Placeholder)):
        name = ph.name
        if name not in slots:
            raise BackfillError(f"{where}: no value for the slot :{name}")
        value = slots[name]
        parent = ph.parent
        if isinstance(parent, exp.Table) and ph.arg_key == "this":
            alias = parent.args.get("alias") or exp.TableAlias(this=exp.to_identifier(name))
            if isinstance(value, exp.Query):
                parent.replace(exp.Subquery(this=value.copy(), alias=alias))
            elif isinstance(value, str) and value.count(".") == 1:
                dataset, table = value.split(".")
                parent.set("this", exp.to_identifier(table))
                parent.set("db", exp.to_identifier(dataset))
            else:
                raise BackfillError(f"{where}: :{name} is in FROM but is not a table or query")
        elif isinstance(value, tuple):
            key = ph.arg_key
            siblings = parent.args.get(key) if parent is not None and key else None
            if parent is None or not key or not isinstance(siblings, list):
                raise BackfillError(f"{where}: :{name} names several columns; use it in a list")
            i = ph.index or 0
            columns = [exp.column(c) for c in value]
            parent.set(key, [*siblings[:i], *columns, *siblings[i + 1 :]])
        elif isinstance(value, str):
            ph.replace(exp.column(value))
        else:
            ph.replace(value.copy())
    return tree


def render_file(path: Path, slots: Mapping[str, Slot] | None = None) -> str:
    """The SQL file at ``path`` with its slots filled, as BigQuery SQL text (logical names:
    an adapter's ``fetch`` maps them and splices the shared pieces)."""
    tree = fill_slots(_parse(str(path)).copy(), slots or {}, where=str(path))
    # The file's comments are for its readers, not for every job's text.
    return tree.sql(dialect="bigquery", comments=False)


def load_file(path: Path) -> exp.Expr:
    """The SQL file at ``path`` parsed as BigQuery (a fresh copy, slots unfilled)."""
    return _parse(str(path)).copy()
