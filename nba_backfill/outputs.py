"""What a write puts in each production column: the roles of a table's columns and the SELECT
that fills production's full schema from a model.

Every live column of a production output table (``nba_backfill/contract``) is exactly one of:

* **computed** — the table's SQL model selects it, under production's name;
* **tracked** — production's processing metadata, filled from what the model read:
  ``processed_at`` / ``created_at`` (the write's time; ``quality_calculated_at`` too where a
  table's model computes the quality columns and ``derivation.yaml`` tracks it),
  ``data_hash`` (a fingerprint of the row's computed values, as production's processors hash
  their analytic fields), and the
  constants production stamps on every row (the feature store's ``feature_count`` /
  ``feature_version``); a model may also compute a tracked column itself (its ``source_*``
  columns), it is still reported as tracked;
* **not derived** — NULL (NULLABLE columns only), with a one-line reason from
  ``contract/derivation.yaml``.

The feature store's per-feature columns (``feature_N_value`` / ``_quality`` / ``_source``, one
triple per position of ``features``) are *computed*: the model selects them as arrays, under
helper names starting with ``_`` (``_feature_quality``, ``_feature_source``: production's quality
scorer per position), and the write SELECT spreads them into the columns by position. Helper
columns are never written. ``feature_N_value`` is ``features[N]``, NULL where the feature's source
is ``default`` (production's dual write: a defaulted feature has its default in the array, which
cannot hold NULL, and NULL in its own column).

The write SELECT casts every column to production's exact type: ``NUMERIC(p,s)`` is rounded to
``s`` digits (half away from zero) as BigQuery stores it, arrays never NULL (BigQuery stores a
NULL array as empty; DuckDB is given the empty array too).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from nba_backfill import contract
from nba_backfill.contract import Column

DERIVATION_PATH = Path(__file__).parent / "contract" / "derivation.yaml"
MODEL_ALIAS = "m"
# Model columns named with this prefix are helpers of the write SELECT, never written.
HELPER_PREFIX = "_"
# feature_N_<kind> <- the model's array column for <kind>, element N (see the module docstring).
PER_FEATURE = re.compile(r"feature_(\d+)_(value|quality|source)")
PER_FEATURE_ARRAYS = {
    "value": "features",
    "quality": "_feature_quality",
    "source": "_feature_source",
}
# Tracked columns whose value is the write's time (or an input's): two runs that read the same
# values differ only here. data_hash covers the computed values and is stable.
VOLATILE_PATTERNS = (
    "processed_at",
    "created_at",
    "quality_calculated_at",
    "source_*_last_updated",
    "source_*_hash",
)
# Tracked columns filled with the write's time. quality_calculated_at (when the row's quality
# columns were assessed) is tracked only by tables whose model computes those columns.
WRITE_TIME_COLUMNS = ("processed_at", "created_at", "quality_calculated_at")
# source_<prefix>_<field>: per-input tracking, production's dependency framework.
SOURCE_FIELD = re.compile(r"source_(\w+?)_(last_updated|rows_found|completeness_pct|hash)")


def is_volatile(column: str) -> bool:
    """Whether ``column`` holds a write time (its own or an input's): left out when two runs'
    rows are compared."""
    return any(fnmatch.fnmatchcase(column, p) for p in VOLATILE_PATTERNS)


@dataclass(frozen=True)
class Source:
    """An input production tracks per row as ``source_<prefix>_*``: ``table``'s rows on the
    output row's date (``lookback_days`` 0) or on the N days before it."""

    prefix: str
    table: str
    lookback_days: int = 0

    @property
    def alias(self) -> str:
        return f"src_{self.prefix}"


@dataclass(frozen=True)
class ColumnRoles:
    """The roles of one table's live production columns (contract order inside each)."""

    table: str
    computed: tuple[str, ...]
    tracked: tuple[str, ...]
    not_derived: dict[str, str]  # column -> reason

    @property
    def total(self) -> int:
        return len(self.computed) + len(self.tracked) + len(self.not_derived)


@cache
def _derivation() -> dict[str, Any]:
    data = yaml.safe_load(DERIVATION_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def sources(table: str) -> dict[str, Source]:
    """The inputs ``table`` tracks (``derivation.yaml``: ``tables.<table>.sources``)."""
    raw = _derivation().get("tables", {}).get(table, {}).get("sources", {})
    out: dict[str, Source] = {}
    for prefix, spec in raw.items():
        spec = {"table": spec} if isinstance(spec, str) else spec
        out[prefix] = Source(prefix, str(spec["table"]), int(spec.get("lookback_days", 0)))
    return out


def _source_of(table: str, column: str) -> tuple[Source, str] | None:
    match = SOURCE_FIELD.fullmatch(column)
    if match is None:
        return None
    src = sources(table).get(match.group(1))
    return None if src is None else (src, match.group(2))


def _source_subquery(table: str, src: Source) -> exp.Expr:
    """Per output date of the window: the source's last update, rows, completeness and a
    fingerprint of both. Completeness (production's metadata mixin: found / expected, capped
    at 100) counts the schedule's expected games a same-date source covers (its dates when it
    has no game key), or the expected game dates of the look-back window it covers."""
    tc = contract.table(src.table)
    sd = tc.partition_by
    assert sd is not None, f"{src.table} has no date column to track"
    fp = (
        "SUBSTR(TO_HEX(SHA256(CONCAT(CAST(COUNT({c}) AS STRING), ':', "
        "CAST(UNIX_MICROS(MAX(s.processed_at)) AS STRING)))), 1, 16)"
    )
    if src.lookback_days == 0:
        unit = "s.game_id" if "game_id" in tc.column_names else f"s.{sd}"
        expected = (
            "SELECT game_date AS day, COUNT(*) AS expected FROM nba_backfill_views.expected_games "
            "WHERE game_date BETWEEN @start_date AND @end_date GROUP BY game_date"
            if unit == "s.game_id"
            else "SELECT DISTINCT game_date AS day, 1 AS expected "
            "FROM nba_backfill_views.expected_games "
            "WHERE game_date BETWEEN @start_date AND @end_date"
        )
        sql = f"""
        SELECT f.day, f.last_updated, f.rows_found, f.hash,
          LEAST(100, 100 * f.units / e.expected) AS completeness_pct
        FROM (
          SELECT s.{sd} AS day, MAX(s.processed_at) AS last_updated, COUNT(*) AS rows_found,
            COUNT(DISTINCT {unit}) AS units, {fp.format(c="*")} AS hash
          FROM {src.table} AS s
          WHERE s.{sd} BETWEEN @start_date AND @end_date
          GROUP BY s.{sd}
        ) AS f
        LEFT JOIN ({expected}) AS e ON e.day = f.day
        """
    else:
        lb = src.lookback_days
        window = (
            f"BETWEEN DATE_SUB(days.day, INTERVAL {lb} DAY) AND DATE_SUB(days.day, INTERVAL 1 DAY)"
        )
        bounds = f"BETWEEN DATE_SUB(@start_date, INTERVAL {lb} DAY) AND @end_date"
        sql = f"""
        WITH days AS (
          SELECT day FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date)) AS day
        ),
        found AS (
          SELECT days.day, MAX(s.processed_at) AS last_updated, COUNT(s.{sd}) AS rows_found,
            COUNT(DISTINCT s.{sd}) AS units, {fp.format(c=f"s.{sd}")} AS hash
          FROM days
          LEFT JOIN (
            -- The date filter in a WHERE: tables with require_partition_filter demand it there.
            SELECT {sd}, processed_at FROM {src.table} WHERE {sd} {bounds}
          ) AS s ON s.{sd} {window}
          GROUP BY days.day
        ),
        expected AS (
          SELECT days.day, COUNT(DISTINCT g.game_date) AS expected
          FROM days
          JOIN nba_backfill_views.expected_games AS g
            ON g.game_date {window} AND g.game_date {bounds}
          GROUP BY days.day
        )
        SELECT found.day, found.last_updated, found.rows_found, found.hash,
          LEAST(100, 100 * found.units / expected.expected) AS completeness_pct
        FROM found LEFT JOIN expected ON expected.day = found.day
        """
    return sqlglot.parse_one(sql, read="bigquery")


def _tracked_patterns(table: str) -> list[str]:
    d = _derivation()
    return [*d.get("tracked", []), *d.get("tables", {}).get(table, {}).get("tracked", [])]


def not_derived_reason(table: str, column: str) -> str | None:
    """The reason production's ``column`` of ``table`` is left NULL, or None when unexplained
    (table-specific reasons first, then the shared ones; first matching pattern wins)."""
    d = _derivation()
    groups = [
        *d.get("tables", {}).get(table, {}).get("not_derived", []),
        *d.get("not_derived", []),
    ]
    for group in groups:
        if any(fnmatch.fnmatchcase(column, p) for p in group["columns"]):
            return str(group["reason"])
    return None


def _generic_tracked(
    table: str, column: Column, computed: tuple[str, ...], exprs: dict[str, exp.Expr]
) -> exp.Expr | None:
    """The expression filling a tracked column the model does not compute, or None."""
    tc = contract.table(table)
    if column.name in WRITE_TIME_COLUMNS:
        return exp.func("CURRENT_TIMESTAMP")
    tracked_source = _source_of(table, column.name)
    if tracked_source is not None:
        src, field = tracked_source
        return exp.column(field, table=src.alias)
    if column.name == "data_hash":
        # First 16 hex digits of the SHA-256 of the computed values (production's processors
        # hash their analytic fields the same way: sha256(...).hexdigest()[:16]).
        # Over the values as stored (NUMERIC rounded): the last bits of an unrounded float
        # may differ between engines, what is written does not.
        fields = ", ".join(
            f"{as_stored(exprs[c].copy(), tc.column(c)).sql(dialect='bigquery')} AS {c}"
            for c in computed
        )
        return sqlglot.parse_one(
            f"SUBSTR(TO_HEX(SHA256(TO_JSON_STRING(STRUCT({fields})))), 1, 16)", read="bigquery"
        )
    if column.name in ("feature_count", "feature_version") and column.name in tc.extra:
        value = tc.extra[column.name]
        return exp.Literal.number(value) if isinstance(value, int) else exp.Literal.string(value)
    if column.name in ("feature_names", "available_feature_names") and "feature_names" in tc.extra:
        # The names of ``features``' positions, in order (production writes the same list to
        # both: feature_names and the quality scorer's available_feature_names).
        names = [exp.Literal.string(n) for n in tc.extra["feature_names"]]
        return exp.Array(expressions=names)
    return None


def _ref(column: str) -> exp.Column:
    return exp.column(column, table=MODEL_ALIAS)


def as_stored(value: exp.Expr, column: Column) -> exp.Expr:
    """``value`` as production stores ``column``: NUMERIC(p,s) rounded to s digits, half away
    from zero (ROUND on the computed FLOAT64 or NUMERIC value; no intermediate bare NUMERIC,
    which the emulator reads as DECIMAL(18,3)). A float exactly at a decimal tie (1.005) may
    round differently in BigQuery and DuckDB; within one engine a rerun is bit-identical."""
    if column.scale is not None:
        value = exp.func("ROUND", value, exp.Literal.number(column.scale))
    return exp.cast(value, column.data_type.copy())


def empty_value(column: Column) -> exp.Expr:
    if column.mode == "REPEATED":
        return exp.cast(exp.Array(expressions=[]), column.data_type.copy())
    return exp.cast(exp.null(), column.data_type.copy())


def model_columns(query: exp.Expr) -> tuple[str, ...]:
    """The output column names of a model's SELECT (helpers included)."""
    assert isinstance(query, exp.Query)
    return tuple(query.named_selects)


def is_helper(name: str) -> bool:
    return name.startswith(HELPER_PREFIX)


def _per_feature(name: str, produced: set[str]) -> exp.Expr | None:
    """The expression filling ``feature_N_value|quality|source`` from the model's arrays, or None
    when the column is not one of them or the model does not select its array."""
    match = PER_FEATURE.fullmatch(name)
    if match is None:
        return None
    n, kind = int(match.group(1)), match.group(2)
    needed = {PER_FEATURE_ARRAYS[kind]} | ({"_feature_source"} if kind == "value" else set())
    if not needed <= produced:
        return None

    def at(array: str) -> str:
        return f"{MODEL_ALIAS}.{array}[OFFSET({n})]"

    if kind != "value":
        return sqlglot.parse_one(at(PER_FEATURE_ARRAYS[kind]), read="bigquery")
    text = f"IF({at('_feature_source')} = 'default', NULL, {at('features')})"
    return sqlglot.parse_one(text, read="bigquery")


def _computed_exprs(table: str, query: exp.Expr) -> dict[str, exp.Expr]:
    """Each computed production column's expression over the model: its own column, or its
    element of a per-feature array."""
    produced = set(model_columns(query))
    out: dict[str, exp.Expr] = {}
    for col in contract.table(table).live_columns:
        if col.name in produced:
            out[col.name] = _ref(col.name)
        else:
            spread = _per_feature(col.name, produced)
            if spread is not None:
                out[col.name] = spread
    return out


def roles(table: str, query: exp.Expr) -> ColumnRoles:
    """Classify every live production column of ``table`` given its model ``query``.

    Raises ValueError naming the columns when the model selects a column production does not
    have, or a production column is neither computed, tracked nor explained."""
    tc = contract.table(table)
    produced = model_columns(query)
    live = {c.name: c for c in tc.live_columns}
    unknown = [c for c in produced if c not in live and not is_helper(c)]
    if unknown:
        raise ValueError(f"{table}: the model selects columns production lacks: {unknown}")
    tracked_p = _tracked_patterns(table)
    is_tracked = {c: any(fnmatch.fnmatchcase(c, p) for p in tracked_p) for c in live}
    exprs = _computed_exprs(table, query)
    computed = tuple(c for c in live if c in exprs and not is_tracked[c])
    tracked: list[str] = []
    not_derived: dict[str, str] = {}
    unexplained: list[str] = []
    for name, col in live.items():
        if name in computed:
            continue
        if is_tracked[name] and (
            name in produced or _generic_tracked(table, col, computed, exprs) is not None
        ):
            tracked.append(name)
            continue
        reason = not_derived_reason(table, name)
        if reason is None or col.required:
            unexplained.append(name + (" (REQUIRED)" if col.required else ""))
        else:
            not_derived[name] = reason
    if unexplained:
        raise ValueError(f"{table}: columns neither computed, tracked nor explained: {unexplained}")
    return ColumnRoles(table, computed, tuple(tracked), not_derived)


def write_select(table: str, query: exp.Expr) -> exp.Select:
    """``SELECT <every live production column, typed> FROM (<query>) AS m``: what a write of
    ``table`` inserts, columns in production's order."""
    r = roles(table, query)
    exprs = _computed_exprs(table, query)
    out: list[exp.Expr] = []
    joined: dict[str, Source] = {}
    for col in contract.table(table).live_columns:
        if col.name in exprs:
            value: exp.Expr = as_stored(exprs[col.name].copy(), col)
        elif col.name in r.tracked:
            generic = _generic_tracked(table, col, r.computed, exprs)
            assert generic is not None
            value = as_stored(generic, col)
            tracked_source = _source_of(table, col.name)
            if tracked_source is not None:
                joined[tracked_source[0].prefix] = tracked_source[0]
        else:
            value = empty_value(col)
        out.append(exp.alias_(value, col.name))
    alias = exp.TableAlias(this=exp.to_identifier(MODEL_ALIAS))
    select = exp.select(*out).from_(exp.Subquery(this=query, alias=alias))
    date_column = contract.table(table).partition_by
    for src in joined.values():
        sub = exp.Subquery(
            this=_source_subquery(table, src),
            alias=exp.TableAlias(this=exp.to_identifier(src.alias)),
        )
        select = select.join(
            sub, on=f"{src.alias}.day = {MODEL_ALIAS}.{date_column}", join_type="left"
        )
    return select
