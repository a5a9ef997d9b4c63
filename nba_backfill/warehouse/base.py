"""The warehouse protocol: what a run needs from a warehouse (planner, runner, validation),
and :class:`Loader`, what seeding and test fixtures need on top (Phase 2 loads, deletes).

Queries are written once in BigQuery dialect; an adapter only renders and runs them.
Identifiers come from the catalog (validated there); values are always query parameters.
The reads the planner and validation share (schedule, openers, per-date profiles, key counts)
are SQL files (``nba_backfill/sql/reads/``, ``nba_backfill/sql/audits/``) run through
:meth:`Warehouse.fetch`, so a wrapper that changes ``fetch`` (retries, faults, latency)
changes them too without forwarding them.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import sqlglot
from sqlglot import exp

from nba_backfill import audits
from nba_backfill.audits import KeyAudit
from nba_backfill.calendar import Openers
from nba_backfill.catalog import SCHEDULE, TableSpec
from nba_backfill.errors import UsageError
from nba_backfill.phase2 import RawTable
from nba_backfill.settings import Settings
from nba_backfill.sqlfiles import (
    LOGICAL_DATASETS,
    READS_DIR,
    load_model,
    render_file,
    splice_views,
    table_slots,
)

Params = Mapping[str, Any]
# The shared schedule pieces filter on the reader's window; these bounds read all of it (the
# schedule's required partition filter is still satisfied).
_WHOLE_SCHEDULE: Params = {"start_date": dt.date(1901, 1, 1), "end_date": dt.date(2999, 12, 31)}


@dataclass(frozen=True)
class DateProfile:
    rows: int
    teams: int
    # What the table's key audits find that date: rows with a NULL key column, surplus rows of
    # duplicated keys (readiness counts such a date incomplete).
    null_keys: int = 0
    duplicate_keys: int = 0
    # At the table's grain (its catalog ``expected_set``): entities the inputs hold that have no
    # row, rows for entities the inputs do not hold (orphans), and the first orphan's entity.
    missing_entities: int = 0
    surplus_entities: int = 0
    surplus_example: str | None = None


@dataclass(frozen=True)
class MissingGame:
    """An expected (final) game whose Phase 2 results never arrived."""

    nba_game_id: str
    game_date: dt.date
    away: str
    home: str

    @property
    def label(self) -> str:
        return f"{self.nba_game_id} {self.away}@{self.home} {self.game_date}"


def _plus(a: int | None, b: int | None) -> int | None:
    return a if b is None else b if a is None else a + b


@dataclass(frozen=True)
class JobCost:
    """What jobs actually cost, from their statistics: bytes processed, bytes billed and slot
    milliseconds. A figure the warehouse did not report is None (the emulator reports 0 bytes
    processed and nothing else); a sum keeps None only where every part was None."""

    bytes_processed: int | None = None
    bytes_billed: int | None = None
    slot_ms: int | None = None

    def __add__(self, other: JobCost) -> JobCost:
        return JobCost(
            _plus(self.bytes_processed, other.bytes_processed),
            _plus(self.bytes_billed, other.bytes_billed),
            _plus(self.slot_ms, other.slot_ms),
        )

    @classmethod
    def total(cls, costs: Iterable[JobCost | None]) -> JobCost | None:
        """The sum of the known ``costs``; None when none is known (an embedded warehouse)."""
        known = [c for c in costs if c is not None]
        if not known:
            return None
        out = known[0]
        for c in known[1:]:
            out = out + c
        return out


@dataclass(frozen=True)
class WriteResult:
    table: str
    start: dt.date
    end: dt.date
    rows_deleted: int
    rows_written: int
    jobs: int = 1
    cost: JobCost | None = None  # None: nothing billed per job (DuckDB)


@lru_cache(maxsize=32)
def _read(name: str, table: TableSpec | None = None) -> str:
    """The shared read ``nba_backfill/sql/reads/<name>.sql``, slots filled from ``table``."""
    return render_file(READS_DIR / f"{name}.sql", table_slots(table) if table else None)


@lru_cache(maxsize=64)
def _profile_sql(table: TableSpec) -> str:
    """``date_profile``'s one query: the date's rows and teams, left-joined on the date to its
    key audits (``audits.key_dates_sql``) and its grain (``reads/grain_dates.sql``; NULLs
    without an expected set). Every part reads ``[@start_date, @end_date]``."""
    read = "date_profile" if table.team_from is None else "date_profile_team_from"

    def part(sql: str, alias: str) -> exp.Subquery:
        tree = sqlglot.parse_one(sql, read="bigquery")
        return exp.Subquery(this=tree, alias=exp.TableAlias(this=exp.to_identifier(alias)))

    def on(alias: str) -> exp.Expr:
        return exp.EQ(this=exp.column("day", table=alias), expression=exp.column("day", table="p"))

    cols: list[exp.Expr] = [exp.column(c, table="p") for c in ("day", "n", "teams")]
    cols += [exp.column(c, table="k") for c in ("null_keys", "duplicate_keys")]
    query = (
        exp.select(*cols)
        .from_(part(_read(read, table), "p"))
        .join(part(audits.key_dates_sql(table), "k"), on=on("k"), join_type="left")
    )
    if table.expected_set is not None:
        query = query.select(
            *(exp.column(c, table="g") for c in ("missing", "surplus", "surplus_example"))
        ).join(part(_read("grain_dates", table), "g"), on=on("g"), join_type="left")
    else:
        query = query.select(
            exp.alias_(exp.cast(exp.null(), "INT64"), "missing"),
            exp.alias_(exp.cast(exp.null(), "INT64"), "surplus"),
            exp.alias_(exp.cast(exp.null(), "STRING"), "surplus_example"),
        )
    return query.sql(dialect="bigquery")


def _written_rows(
    rows: Iterable[Mapping[str, Any]],
) -> dict[dt.date, tuple[dt.datetime, dt.datetime]]:
    """``written_at`` rows as date -> (first, last) written; rows without a time dropped."""
    return {
        _as_date(r["day"]): (r["first_written"], r["last_written"])
        for r in rows
        if r["first_written"] is not None
    }


def _profile_row(r: Mapping[str, Any]) -> DateProfile:
    """One date's :class:`DateProfile` from a row of :func:`_profile_sql`."""
    return DateProfile(
        int(r["n"]),
        int(r["teams"]),
        int(r["null_keys"] or 0),
        int(r["duplicate_keys"] or 0),
        int(r["missing"] or 0),
        int(r["surplus"] or 0),
        r["surplus_example"] if r["missing"] is not None else None,
    )


class Warehouse(abc.ABC):
    """A warehouse holding the logical datasets of SPEC §1 (physical names from settings).

    Adapters implement the primitives (``fetch``, ``replace_range``, ``table_exists``,
    ``ensure_tables``, and where they differ ``live_columns``, ``partition_expiration_days``,
    ``estimate_bytes``, ``close``); the shared reads below are thin calls of SQL files through
    ``fetch`` and ``table_exists``, the same for every adapter and wrapper."""

    dialect: str = "bigquery"
    name: str = "warehouse"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.datasets = {d: settings.warehouse.datasets.physical(d) for d in LOGICAL_DATASETS}
        self.jobs_run = 0
        # Test seam, not part of the protocol's behaviour (fault injection,
        # ``warehouse/faults.py``): called by ``replace_range`` inside its write — on DuckDB
        # after the DELETE and before the COMMIT — so a test can stop a process in the middle
        # of a write. None in normal runs; only the innermost adapter's is called.
        self.mid_write: Callable[[TableSpec, dt.date, dt.date], None] | None = None

    # --- adapter primitives -----------------------------------------------------------------
    @abc.abstractmethod
    def fetch(
        self,
        sql: str | exp.Expr,
        params: Params | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Run one query written in BigQuery dialect with logical table names; return rows."""

    @abc.abstractmethod
    def ensure_tables(self, tables: Sequence[TableSpec]) -> None:
        """Create the datasets and tables (schema = the table's SQL) that do not exist yet."""

    @abc.abstractmethod
    def replace_range(
        self,
        table: TableSpec,
        start: dt.date,
        end: dt.date,
        *,
        labels: Mapping[str, str] | None = None,
        dates: Sequence[dt.date] | None = None,
    ) -> WriteResult:
        """Atomically replace ``table``'s rows on ``[start, end]`` with its SQL's output:
        a rerun never duplicates, a failure leaves the old rows. With ``dates`` (within
        ``[start, end]``), only those dates are replaced, in the same one write: the model
        still computes over ``[start, end]``, the dates between keep their rows untouched
        (complete dates, maybe production's own: scattered gaps cost one job, not one each)."""

    @abc.abstractmethod
    def table_exists(self, name: str) -> bool: ...

    def estimate_bytes(self, table: TableSpec, start: dt.date, end: dt.date) -> int | None:
        """Bytes that replacing ``[start, end]`` of ``table`` would process (what BigQuery bills
        on demand), or None: not applicable, or not known. Only BigQuery answers (a dry run)."""
        return None

    def cancel_jobs(self, labels: Mapping[str, str]) -> list[str]:
        """Cancel this warehouse's jobs still pending or running that carry all of ``labels``
        (a cancelled or crashed run's); return their ids. Nothing to cancel where statements
        run in this process (DuckDB): they end with it."""
        return []

    def partition_expiration_days(self, table: TableSpec) -> float | None:
        """Days after which the warehouse drops a partition of ``table`` (None: never). The
        contract's value here; BigQuery reads the live table's setting instead."""
        return table.partition_expiration_days

    def live_columns(self, name: str) -> list[tuple[str, str, str]] | None:
        """The live table's columns as (name, BigQuery type, mode), in table order, or None
        when the table does not exist. Used by the drift check."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def handoff(self) -> AbstractContextManager[object]:
        """A block during which another process may write the warehouse (an external
        processor, ``nba_backfill/producers.py``): nothing to do where many clients write at
        once (BigQuery); an embedded file lets go of itself meanwhile (DuckDB)."""
        return nullcontext()

    # --- shared helpers -----------------------------------------------------------------------
    def parse(self, sql: str) -> exp.Expr:
        """Parse BigQuery SQL with logical names (shared pieces spliced in) and map datasets to
        physical ones."""
        tree = splice_views(sqlglot.parse_one(sql, read="bigquery"))
        for ref in tree.find_all(exp.Table):
            db = ref.args.get("db")
            if db is not None and db.name in self.datasets:
                ref.set("db", exp.to_identifier(self.datasets[db.name]))
        return tree

    def model(self, table: TableSpec) -> exp.Expr:
        return load_model(table, self.datasets)

    # --- reads shared by planner and validation (nba_backfill/sql/reads/) -------------------
    def schedule(self, start: dt.date, end: dt.date) -> dict[dt.date, int]:
        """Expected games per game date on ``[start, end]``: production's gate (final,
        regular season or playoffs, latest version of each game)."""
        rows = self.fetch(_read("schedule"), {"start_date": start, "end_date": end})
        return {_as_date(r["game_date"]): int(r["games"]) for r in rows}

    def games_missing_inputs(self, start: dt.date, end: dt.date) -> list[MissingGame]:
        """The expected games on ``[start, end]`` whose box scores or gamebook never arrived
        (``nba_backfill/views/games_missing_inputs.sql``), by date."""
        rows = self.fetch(_read("games_missing_inputs"), {"start_date": start, "end_date": end})
        return [
            MissingGame(
                str(r["nba_game_id"]),
                _as_date(r["game_date"]),
                str(r["away_team_abbr"]),
                str(r["home_team_abbr"]),
            )
            for r in rows
        ]

    def schedule_bounds(self) -> tuple[dt.date, dt.date] | None:
        """First and last expected game date in the schedule, or None when it is empty or
        missing."""
        if not self.table_exists(SCHEDULE):
            return None
        rows = self.fetch(_read("schedule_bounds"), _WHOLE_SCHEDULE)
        if not rows or rows[0]["lo"] is None:
            return None
        return _as_date(rows[0]["lo"]), _as_date(rows[0]["hi"])

    def season_openers(self) -> Openers:
        """Every season of the schedule with its opener (first regular-season game date): what
        bootstrap days are counted from. Empty when there is no schedule."""
        if not self.table_exists(SCHEDULE):
            return Openers({})
        rows = self.fetch(_read("season_openers"), _WHOLE_SCHEDULE)
        return Openers({int(r["season_year"]): _as_date(r["opener_date"]) for r in rows})

    def date_profile(
        self, table: TableSpec, start: dt.date, end: dt.date
    ) -> dict[dt.date, DateProfile]:
        """Rows, distinct teams, key problems (the key audits, per date) and, for a table with
        an expected set, the entities missing from it or surplus to it, per date of ``table``
        on ``[start, end]`` (dates without rows are absent; empty when the table does not
        exist). One query job: the profile, the key audits and (with an expected set) the
        grain, each a subquery over the same window, joined on the date (each was a job of
        its own: a chunk reads profiles before and after its write)."""
        if not self.table_exists(table.name):
            return {}
        rows = self.fetch(_profile_sql(table), {"start_date": start, "end_date": end})
        out: dict[dt.date, DateProfile] = {}
        for r in rows:
            out[_as_date(r["day"])] = _profile_row(r)
        return out

    def fetch_windows(
        self, parts: Sequence[tuple[str, dt.date, dt.date]]
    ) -> list[list[dict[str, Any]]]:
        """Several reads, each a query over its own ``[@start_date, @end_date]``, in one query
        job: the queries (shared views spliced in) joined by UNION ALL, each row tagged with
        its part, each part's window as its own parameters; the rows of each part, in order.
        The parts must return the same columns. A BigQuery job start per read saved."""
        out: list[list[dict[str, Any]]] = [[] for _ in parts]
        if not parts:
            return out
        pieces: list[exp.Query] = []
        params: dict[str, object] = {}
        for n, (sql, lo, hi) in enumerate(parts):
            tag = f"p{n}"
            # The shared views spliced in first: their window parameters are renamed too.
            piece = splice_views(sqlglot.parse_one(sql, read="bigquery"))
            for param in list(piece.find_all(exp.Parameter)):
                param.replace(exp.Parameter(this=exp.var(f"{param.name}_{tag}")))
            params[f"start_date_{tag}"], params[f"end_date_{tag}"] = lo, hi
            sub = exp.Subquery(this=piece, alias=exp.TableAlias(this=exp.to_identifier("q")))
            pieces.append(
                exp.select(exp.alias_(exp.Literal.number(n), "part_"), exp.Star()).from_(sub)
            )
        query = pieces[0]
        for piece_ in pieces[1:]:
            query = exp.union(query, piece_, distinct=False)
        for r in self.fetch(query.sql(dialect="bigquery"), params):
            out[int(r.pop("part_"))].append(r)
        return out

    def date_profiles(
        self, asks: Sequence[tuple[TableSpec, dt.date, dt.date]]
    ) -> dict[str, dict[dt.date, DateProfile]]:
        """:meth:`date_profile` of several tables (each over its own ``[start, end]``) in one
        query job (:meth:`fetch_windows`). Table name -> its profile (empty when the table
        does not exist; asking a table twice reads the union of its windows). A chunk checks
        all its required inputs this way in one job, a plan or a validation all its tables."""
        out: dict[str, dict[dt.date, DateProfile]] = {t.name: {} for t, _, _ in asks}
        there = [(t, lo, hi) for t, lo, hi in asks if self.table_exists(t.name)]
        rows = self.fetch_windows([(_profile_sql(t), lo, hi) for t, lo, hi in there])
        for (table, _, _), part in zip(there, rows, strict=True):
            for r in part:
                out[table.name][_as_date(r["day"])] = _profile_row(r)
        return out

    def written_at(
        self, table: TableSpec, start: dt.date, end: dt.date
    ) -> dict[dt.date, tuple[dt.datetime, dt.datetime]]:
        """When each date of ``table`` on ``[start, end]`` was written: (first, last) of its
        rows' written column (dates without rows, or without a time, are absent; empty when
        the table does not exist). One query."""
        if not self.table_exists(table.name):
            return {}
        rows = self.fetch(_read("written_at", table), {"start_date": start, "end_date": end})
        return _written_rows(rows)

    def written_at_many(
        self, asks: Sequence[tuple[TableSpec, dt.date, dt.date]]
    ) -> dict[str, dict[dt.date, tuple[dt.datetime, dt.datetime]]]:
        """:meth:`written_at` of several tables (each over its own ``[start, end]``) in one
        query job (:meth:`fetch_windows`). Table name -> its dates (empty when the table does
        not exist). A plan's stale-date check reads all its tables this way."""
        out: dict[str, dict[dt.date, tuple[dt.datetime, dt.datetime]]] = {
            t.name: {} for t, _, _ in asks
        }
        there = [(t, lo, hi) for t, lo, hi in asks if self.table_exists(t.name)]
        rows = self.fetch_windows([(_read("written_at", t), lo, hi) for t, lo, hi in there])
        for (table, _, _), part in zip(there, rows, strict=True):
            out[table.name].update(_written_rows(part))
        return out

    def grain_dates(
        self, table: TableSpec, start: dt.date, end: dt.date
    ) -> dict[dt.date, dict[str, Any]]:
        """The dates of ``[start, end]`` where ``table``'s entities differ from its expected
        set (``reads/grain_dates.sql``: missing, surplus, surplus_example); empty for a table
        without one."""
        if table.expected_set is None:
            return {}
        rows = self.fetch(_read("grain_dates", table), {"start_date": start, "end_date": end})
        return {_as_date(r["day"]): r for r in rows}

    def key_audit(self, table: TableSpec, start: dt.date, end: dt.date) -> KeyAudit:
        """Row count, rows with a NULL key column, and surplus rows of duplicated keys: the
        table's key audits (:func:`nba_backfill.audits.key_counts`), one query."""
        return audits.key_counts(self, table, start, end)

    def row_count(self, table: TableSpec, start: dt.date, end: dt.date) -> int:
        return self.key_audit(table, start, end).rows


_run_labels: dict[str, str] = {}


def set_run_labels(labels: Mapping[str, str]) -> None:
    """Labels every job this process starts carries from now on (the running backfill's flow
    run id: what a cancellation finds its BigQuery jobs by)."""
    _run_labels.clear()
    _run_labels.update(labels)


def run_labels() -> dict[str, str]:
    return dict(_run_labels)


@runtime_checkable
class Loader(Protocol):
    """Seeding and test fixtures: what they need from a warehouse beyond :class:`Warehouse`
    (Phase 2 loads, whole-date deletes). Both adapters implement it; a run loads only its own
    ledger of write fingerprints (``fingerprints.record``), and deletes only for an external
    producer's ``pre_delete`` (``runner._produce``), so the
    wrappers of a run (retries, faults, latency) do not:
    :func:`nba_backfill.warehouse.wrapper.loader` finds the adapter under them."""

    def ensure_raw_tables(self, tables: Sequence[RawTable]) -> None:
        """Create the Phase 2 tables that do not exist yet (production's columns)."""
        ...

    def load_raw(
        self, table: RawTable, rows: Iterable[Sequence[Any]], *, replace: bool = True
    ) -> int:
        """Write Phase 2 rows (values in ``table.column_names`` order: production's live
        columns); ``replace`` empties the table first. Returns the rows written."""
        ...

    def delete_dates(self, table: TableSpec, dates: Sequence[dt.date]) -> int:
        """Delete ``table``'s rows on ``dates``; returns the rows deleted."""
        ...


def write_dates(
    start: dt.date, end: dt.date, dates: Sequence[dt.date] | None
) -> list[dt.date] | None:
    """The sorted distinct ``dates`` a write replaces, or None for every day of ``[start,
    end]``; UsageError when one falls outside it (a write never reaches past its window)."""
    if dates is None:
        return None
    days = sorted(set(dates))
    if not days:
        raise UsageError(f"no dates to write within {start}..{end}")
    if days[0] < start or days[-1] > end:
        raise UsageError(f"write dates {days[0]}..{days[-1]} not within {start}..{end}")
    return days


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


__all__ = [
    "DateProfile",
    "JobCost",
    "KeyAudit",
    "Loader",
    "Params",
    "Warehouse",
    "WriteResult",
    "write_dates",
]
