"""Audits: each ``nba_backfill/sql/audits/<name>.sql`` is a query in BigQuery dialect that
returns the rows of one table breaking one rule on ``[@start_date, @end_date]`` — no rows means
pass (SQLMesh's audits). A file names the table and its columns with ``:slot`` placeholders
filled from the catalog entry (``sqlfiles.table_slots``), so one file serves every table; the
catalog says which audits a table runs (``TableSpec.audits``, by default ``KEY_AUDITS``).

They run through any warehouse's ``fetch`` (DuckDB transpiles them, BigQuery runs them as
written), and the gate, ``validate`` and the tests share them:

* :func:`offending_rows` — the rows an audit returns (what to look at when it fails);
* :func:`rows_by_date` — an audit's offending rows counted per date (the data problems
  validation reports, ``TableSpec.data_audits``);
* :func:`key_counts` — one query: the table's rows, the rows ``null_keys`` returns and the
  surplus rows of the keys ``duplicate_keys`` returns (``TableCheck``'s key counts);
* :func:`key_dates` — the same counts per date, only the dates where they are not zero
  (readiness: such a date is incomplete);
* :func:`usage_rate_counts` — player-games played and the rows ``usage_rate`` returns (ML
  readiness).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from sqlglot import exp

from nba_backfill.catalog import AUDITS_DIR, KEY_AUDITS, TableSpec
from nba_backfill.errors import BackfillError
from nba_backfill.sqlfiles import READS_DIR, fill_slots, load_file, render_file, table_slots


class Reader(Protocol):
    """What running an audit needs from a warehouse (``warehouse.base.Warehouse`` has it)."""

    def fetch(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def table_exists(self, name: str) -> bool: ...


class WindowsReader(Reader, Protocol):
    """A :class:`Reader` that runs several windowed reads in one job (``Warehouse`` has it)."""

    def fetch_windows(
        self, parts: Sequence[tuple[str, dt.date, dt.date]]
    ) -> list[list[dict[str, Any]]]: ...


@dataclass(frozen=True)
class KeyAudit:
    """Rows of a table on a window, rows with a NULL key column, and surplus rows of keys held
    by more than one row (a key held by c rows counts c - 1)."""

    rows: int
    null_keys: int
    duplicate_keys: int


def audit_names() -> tuple[str, ...]:
    """Every audit file's name, sorted."""
    return tuple(sorted(p.stem for p in AUDITS_DIR.glob("*.sql")))


def _path(name: str) -> Path:
    path = AUDITS_DIR / f"{name}.sql"
    if not path.is_file():
        raise BackfillError(f"unknown audit {name!r}; audits: {', '.join(audit_names())}")
    return path


@lru_cache(maxsize=128)
def render(name: str, table: TableSpec) -> str:
    """Audit ``name`` for ``table``: BigQuery SQL with the table's identifiers filled in and
    ``@start_date`` / ``@end_date`` left as parameters. Raises BackfillError for an unknown
    audit."""
    return render_file(_path(name), table_slots(table))


def _window(start: dt.date, end: dt.date) -> dict[str, dt.date]:
    return {"start_date": start, "end_date": end}


def offending_rows(
    wh: Reader, name: str, table: TableSpec, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """The rows of ``table`` on ``[start, end]`` that audit ``name`` returns (its columns: see
    the file); empty when the audit passes or the table does not exist."""
    if not wh.table_exists(table.name):
        return []
    return wh.fetch(render(name, table), _window(start, end))


def rows_by_date(
    wh: Reader, name: str, table: TableSpec, start: dt.date, end: dt.date
) -> dict[dt.date, int]:
    """How many rows audit ``name`` returns on each date of ``[start, end]`` (its ``day``
    column); only dates with offending rows appear."""
    out: dict[dt.date, int] = {}
    for row in offending_rows(wh, name, table, start, end):
        day = row["day"]
        out[day] = out.get(day, 0) + 1
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class DateKeys:
    """One date's key problems: rows with a NULL key column, surplus rows of duplicated keys."""

    null_keys: int
    duplicate_keys: int


def _key_read_sql(read: str, table: TableSpec) -> str:
    """The shared read ``read`` over ``table``'s key audits (each filled in as a subquery)."""
    slots = table_slots(table)
    for name in KEY_AUDITS:
        audit = fill_slots(load_file(_path(name)), slots, where=f"audit {name}")
        assert isinstance(audit, exp.Query), f"audit {name} is not a query"
        # An audit the table does not run stands in with no rows: it counts nothing.
        slots[name] = audit if name in table.audits else audit.limit(0)
    return render_file(READS_DIR / f"{read}.sql", slots)


@lru_cache(maxsize=64)
def _key_counts_sql(table: TableSpec) -> str:
    return _key_read_sql("key_counts", table)


@lru_cache(maxsize=64)
def _key_dates_sql(table: TableSpec) -> str:
    return _key_read_sql("key_dates", table)


def key_dates_sql(table: TableSpec) -> str:
    """:func:`key_dates`' query (day, null_keys, duplicate_keys; ``@start_date``,
    ``@end_date``), for a read that joins it to others in one job."""
    return _key_dates_sql(table)


def key_counts(wh: Reader, table: TableSpec, start: dt.date, end: dt.date) -> KeyAudit:
    """Rows of ``table`` on ``[start, end]`` and what its key audits find, in one query
    (all zero when the table does not exist)."""
    if not wh.table_exists(table.name):
        return KeyAudit(0, 0, 0)
    row = wh.fetch(_key_counts_sql(table), _window(start, end))[0]
    return KeyAudit(int(row["n"]), int(row["null_keys"] or 0), int(row["duplicate_keys"] or 0))


def key_counts_many(
    wh: WindowsReader, asks: Sequence[tuple[TableSpec, dt.date, dt.date]]
) -> dict[str, KeyAudit]:
    """:func:`key_counts` of several tables (each over its own window) in one query job
    (``Warehouse.fetch_windows``): the gate's key checks cost one job start, not one a table."""
    there = [(t, lo, hi) for t, lo, hi in asks if wh.table_exists(t.name)]
    out = {t.name: KeyAudit(0, 0, 0) for t, _, _ in asks}
    parts = wh.fetch_windows([(_key_counts_sql(t), lo, hi) for t, lo, hi in there])
    for (table, _, _), rows in zip(there, parts, strict=True):
        row = rows[0]
        out[table.name] = KeyAudit(
            int(row["n"]), int(row["null_keys"] or 0), int(row["duplicate_keys"] or 0)
        )
    return out


def key_dates(
    wh: Reader, table: TableSpec, start: dt.date, end: dt.date
) -> dict[dt.date, DateKeys]:
    """The dates of ``table`` on ``[start, end]`` where its key audits find rows, with the
    counts (one query; empty when the table does not exist or every date is clean)."""
    if not wh.table_exists(table.name):
        return {}
    return {
        _as_date(r["day"]): DateKeys(int(r["null_keys"] or 0), int(r["duplicate_keys"] or 0))
        for r in wh.fetch(_key_dates_sql(table), _window(start, end))
    }


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@lru_cache(maxsize=8)
def _usage_rate_sql(table: TableSpec) -> str:
    slots = table_slots(table)
    slots["usage_rate"] = fill_slots(load_file(_path("usage_rate")), slots, where="usage_rate")
    return render_file(READS_DIR / "usage_rate_counts.sql", slots)


def usage_rate_counts(
    wh: Reader, table: TableSpec, start: dt.date, end: dt.date
) -> tuple[int, int] | None:
    """(player-games played, of those the rows the ``usage_rate`` audit returns) of ``table``
    on ``[start, end]``; None when the table does not exist."""
    if not wh.table_exists(table.name):
        return None
    row = wh.fetch(_usage_rate_sql(table), _window(start, end))[0]
    return int(row["played"] or 0), int(row["without_usage"] or 0)


__all__ = [
    "KEY_AUDITS",
    "DateKeys",
    "KeyAudit",
    "Reader",
    "audit_names",
    "key_counts",
    "key_dates",
    "offending_rows",
    "render",
    "rows_by_date",
    "usage_rate_counts",
]
