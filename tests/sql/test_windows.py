"""Every look-back window of a table's SQL is the catalog's: each ``DATE_SUB(x, INTERVAL n
unit)`` bounding a date column is traced (through CTEs and subqueries, with sqlglot's scopes) to
the table it filters, and the (table, n, unit) found must be exactly the catalog's — the
dependencies' ``lookback_days`` plus the declared ``TableSpec.windows``. A window changed in the
SQL or in the catalog alone fails here."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from nba_backfill.catalog import MLFS, PDC, PGS, TABLES, UPCG, Dependency, TableSpec

Window = tuple[str, int, str]  # (input table, span, unit)


def _source(scope: Scope, column: str, alias: str) -> str:
    """The table (``dataset.table``) that ``alias.column`` of ``scope`` reads, followed through
    CTEs and subqueries down to a table; ``?…`` when it cannot be told."""
    if alias:
        src = scope.sources.get(alias)
    elif len(scope.selected_sources) == 1:
        (_, src), *_ = scope.selected_sources.values()
    else:
        return f"?{column} (unqualified among {sorted(scope.selected_sources)})"
    if isinstance(src, exp.Table):
        return f"{src.db}.{src.name}"
    if not isinstance(src, Scope) or not isinstance(src.expression, exp.Select):
        return f"?{column} ({alias or 'source'} is not a table or a SELECT)"
    for proj in src.expression.selects:
        if proj.alias_or_name == column:
            cols = list(proj.find_all(exp.Column))
            if len(cols) == 1:
                return _source(src, cols[0].name, cols[0].table)
            return f"?{column} (computed in {alias or 'a subquery'})"
    stars = [p for p in src.expression.selects if isinstance(p, exp.Star | exp.Column)]
    for p in stars:
        if isinstance(p, exp.Star) or isinstance(p.this, exp.Star):
            return _source(src, column, p.table if isinstance(p, exp.Column) else "")
    return f"?{column} (not selected by {alias or 'a subquery'})"


def _contains(node: exp.Expr | None, target: exp.Expr) -> bool:
    return node is not None and any(n is target for n in node.walk())


def sql_windows(sql: str) -> tuple[set[Window], set[str], list[str]]:
    """Of one table's SQL: the look-back windows (lower bounds ``col BETWEEN DATE_SUB(d, n)``
    or ``col >= DATE_SUB(d, n)``), the tables read strictly before the date (an upper bound
    ``DATE_SUB(d, INTERVAL 1 DAY)``), and the intervals that are neither."""
    windows: set[Window] = set()
    before: set[str] = set()
    odd: list[str] = []
    for scope in traverse_scope(sqlglot.parse_one(sql, read="bigquery")):
        for sub in _own(scope, exp.DateSub):
            span, unit = int(sub.expression.name), sub.unit.name if sub.unit else "DAY"
            bound = sub.find_ancestor(exp.Between, exp.GTE, exp.GT, exp.LTE, exp.LT)
            lower = upper = False
            column: exp.Expr | None = None
            if isinstance(bound, exp.Between):
                column = bound.this
                lower, upper = _contains(bound.args["low"], sub), _contains(bound.args["high"], sub)
            elif isinstance(bound, exp.GTE | exp.GT | exp.LTE | exp.LT):
                on_right = _contains(bound.expression, sub)
                column = bound.this if on_right else bound.expression
                lower = on_right == isinstance(bound, exp.GTE | exp.GT)
                upper = not lower
            if not isinstance(column, exp.Column):
                odd.append(f"{span} {unit} bounds no column: {sub.sql('bigquery')}")
                continue
            table = _source(scope, column.name, column.table)
            if lower:
                windows.add((table, span, unit))
            elif upper and (span, unit) == (1, "DAY"):
                before.add(table)
            else:
                odd.append(f"{span} {unit} as an upper bound of {table}")
    return windows, before, odd


def _own(scope: Scope, kind: type[exp.Expr]) -> Iterator[exp.Expr]:
    """Nodes of ``kind`` in ``scope``'s own SELECT (not in the scopes nested in it)."""
    for node in scope.expression.find_all(kind):
        if node.find_ancestor(exp.Select) is scope.expression:
            yield node


def catalog_windows(spec: TableSpec) -> set[Window]:
    deps = {(d.table, d.lookback_days, "DAY") for d in spec.depends_on if d.lookback_days > 0}
    return deps | {(w.table, w.span, w.unit) for w in spec.windows}


def window_problems(spec: TableSpec, sql: str) -> list[str]:
    """Where the SQL and the catalog disagree on ``spec``'s windows; empty when they agree."""
    found, before, odd = sql_windows(sql)
    declared = catalog_windows(spec)
    problems = [f"{spec.table}: {o}" for o in odd]
    problems += [
        f"{spec.table}: SQL reads {t} over {n} {u}, not a catalog window (a Dependency's "
        "lookback_days or TableSpec.windows)"
        for t, n, u in sorted(found - declared)
    ]
    problems += [
        f"{spec.table}: catalog window {n} {u} on {t} is not in the SQL"
        for t, n, u in sorted(declared - found)
    ]
    problems += [
        f"{spec.table}: {d.table} must be read strictly before the date (same_date=False), "
        "the SQL's window does not end at DATE_SUB(…, INTERVAL 1 DAY)"
        for d in spec.depends_on
        if d.lookback_days > 0 and not d.same_date and d.table not in before
    ]
    return problems


@pytest.mark.parametrize("name", list(TABLES))
def test_the_sql_windows_are_the_catalogs(name: str) -> None:
    spec = TABLES[name]
    assert window_problems(spec, spec.sql_path.read_text()) == []


def test_every_look_back_dependency_is_checked() -> None:
    """The look-back dependencies the test above covers, so none is silently skipped."""
    checked = {
        (s.table, d.table, d.lookback_days)
        for s in TABLES.values()
        for d in s.depends_on
        if d.lookback_days > 0
    }
    assert ("player_daily_cache", PGS, 180) in checked
    for table, dep, days in checked:
        spec = next(s for s in TABLES.values() if s.table == table)
        found, _, _ = sql_windows(spec.sql_path.read_text())
        assert (dep, days, "DAY") in found, (table, dep, days)


def _sql(name: str) -> str:
    return TABLES[name].sql_path.read_text()


# One side changed only: the SQL (all or one of its occurrences), or the catalog.
ONE_SIDED: list[tuple[str, str, TableSpec, str]] = [
    (
        "sql: player_daily_cache reads 120 days",
        _sql(PDC).replace("INTERVAL 180 DAY", "INTERVAL 120 DAY"),
        TABLES[PDC],
        "reads nba_analytics.player_game_summary over 120 DAY",
    ),
    (
        "sql: one of two 180-day filters changed",
        _sql(PDC).replace("INTERVAL 180 DAY", "INTERVAL 120 DAY", 1),
        TABLES[PDC],
        "over 120 DAY, not a catalog window",
    ),
    (
        "sql: upcoming_player_game_context reads 31 days",
        _sql(UPCG).replace("INTERVAL 30 DAY", "INTERVAL 31 DAY"),
        TABLES[UPCG],
        "catalog window 30 DAY on nba_analytics.player_game_summary is not in the SQL",
    ),
    (
        "sql: a declared window (not a dependency) changed",
        _sql(MLFS).replace("INTERVAL 366 DAY", "INTERVAL 365 DAY"),
        TABLES[MLFS],
        "over 365 DAY",
    ),
    (
        "sql: the window no longer ends before the date",
        _sql(UPCG)
        .replace("DATE_SUB(@end_date, INTERVAL 1 DAY)", "@end_date")
        .replace("DATE_SUB(r.game_date, INTERVAL 1 DAY)", "r.game_date"),
        TABLES[UPCG],
        "must be read strictly before the date",
    ),
    (
        "catalog: player_daily_cache looks back 120 days",
        _sql(PDC),
        dataclasses.replace(
            TABLES[PDC],
            depends_on=tuple(
                dataclasses.replace(d, lookback_days=120) if d.lookback_days == 180 else d
                for d in TABLES[PDC].depends_on
            ),
        ),
        "catalog window 120 DAY on nba_analytics.player_game_summary is not in the SQL",
    ),
    (
        "catalog: a new look-back dependency the SQL does not read",
        _sql(UPCG),
        dataclasses.replace(
            TABLES[UPCG],
            depends_on=(*TABLES[UPCG].depends_on, Dependency(PDC, lookback_days=7)),
        ),
        "catalog window 7 DAY on nba_precompute.player_daily_cache is not in the SQL",
    ),
]


@pytest.mark.parametrize(
    ("sql", "spec", "needle"),
    [case[1:] for case in ONE_SIDED],
    ids=[case[0] for case in ONE_SIDED],
)
def test_a_window_changed_in_one_place_only_fails(sql: str, spec: TableSpec, needle: str) -> None:
    problems = window_problems(spec, sql)
    assert any(needle in p for p in problems), problems
