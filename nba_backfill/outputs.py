"""What a write puts in each production column: the roles of a table's columns and the SELECT
that fills production's full schema from a model.

Every live column of a production output table (``nba_backfill/contract``) is exactly one of:

* **computed** — the table's SQL model selects it, under production's name;
* **tracked** — production's processing metadata, filled from what the model read:
  ``processed_at`` / ``created_at`` (the write's time), ``data_hash`` (a fingerprint of the
  row's computed values, as production's processors hash their analytic fields), and the
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
# Tracked columns whose value is the write's time: equal rows of two runs differ only here.
VOLATILE = frozenset({"processed_at", "created_at"})


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
    if column.name in VOLATILE:
        return exp.func("CURRENT_TIMESTAMP")
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
    from zero (ROUND on the computed FLOAT64 or NUMERIC value: the same in BigQuery and
    DuckDB, and no intermediate bare NUMERIC, which the emulator reads as DECIMAL(18,3))."""
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
    for col in contract.table(table).live_columns:
        if col.name in exprs:
            value: exp.Expr = as_stored(exprs[col.name].copy(), col)
        elif col.name in r.tracked:
            generic = _generic_tracked(table, col, r.computed, exprs)
            assert generic is not None
            value = as_stored(generic, col)
        else:
            value = empty_value(col)
        out.append(exp.alias_(value, col.name))
    alias = exp.TableAlias(this=exp.to_identifier(MODEL_ALIAS))
    return exp.select(*out).from_(exp.Subquery(this=query, alias=alias))
