"""The warehouse interface: what the planner, runner, validation and seeding need from a
warehouse. Queries are written once in BigQuery dialect; an adapter only renders and runs them.
Identifiers come from the catalog (validated there); values are always query parameters."""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from nba_backfill.calendar import Openers
from nba_backfill.catalog import EXPECTED_GAMES, SCHEDULE, SEASON_OPENERS, TABLES, TableSpec
from nba_backfill.outputs import is_volatile
from nba_backfill.phase2 import RawTable
from nba_backfill.settings import Settings
from nba_backfill.sqlfiles import LOGICAL_DATASETS, load_model, splice_views

Params = Mapping[str, Any]
# The shared schedule pieces filter on the reader's window; these bounds read all of it (the
# schedule's required partition filter is still satisfied).
_WHOLE_SCHEDULE: Params = {"start_date": dt.date(1901, 1, 1), "end_date": dt.date(2999, 12, 31)}


@dataclass(frozen=True)
class DateProfile:
    rows: int
    teams: int


@dataclass(frozen=True)
class KeyAudit:
    rows: int
    null_keys: int
    duplicate_keys: int


@dataclass(frozen=True)
class WriteResult:
    table: str
    start: dt.date
    end: dt.date
    rows_deleted: int
    rows_written: int
    jobs: int = 1


class Warehouse(abc.ABC):
    """A warehouse holding the logical datasets of SPEC §1 (physical names from settings)."""

    dialect: str = "bigquery"
    name: str = "warehouse"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.datasets = {d: settings.warehouse.datasets.physical(d) for d in LOGICAL_DATASETS}
        self.jobs_run = 0
        # Test seam (fault injection, ``warehouse/faults.py``): called by ``replace_range``
        # inside its write — on DuckDB after the DELETE and before the COMMIT — so a test can
        # stop a process in the middle of a write. None in normal runs.
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
    def ensure_raw_tables(self, tables: Sequence[RawTable]) -> None: ...

    @abc.abstractmethod
    def load_raw(
        self, table: RawTable, rows: Iterable[Sequence[Any]], *, replace: bool = True
    ) -> int:
        """Write Phase 2 rows (values in ``table.column_names`` order: production's live columns);
        ``replace`` empties the table first."""

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
    ) -> WriteResult:
        """Atomically replace ``table``'s rows on ``[start, end]`` with its SQL's output:
        a rerun never duplicates, a failure leaves the old rows."""

    @abc.abstractmethod
    def delete_dates(self, table: TableSpec, dates: Sequence[dt.date]) -> int: ...

    @abc.abstractmethod
    def table_exists(self, name: str) -> bool: ...

    def estimate_bytes(self, table: TableSpec, start: dt.date, end: dt.date) -> int | None:
        """Bytes that replacing ``[start, end]`` of ``table`` would process (what BigQuery bills
        on demand), or None: not applicable, or not known. Only BigQuery answers (a dry run)."""
        return None

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

    # --- reads shared by planner and validation -----------------------------------------------
    def schedule(self, start: dt.date, end: dt.date) -> dict[dt.date, int]:
        """Expected games per game date on ``[start, end]``: production's gate (final,
        regular season or playoffs, latest version of each game)."""
        rows = self.fetch(
            f"SELECT game_date, COUNT(*) AS games FROM {EXPECTED_GAMES} "
            "WHERE game_date BETWEEN @start_date AND @end_date "
            "GROUP BY game_date",
            {"start_date": start, "end_date": end},
        )
        return {_as_date(r["game_date"]): int(r["games"]) for r in rows}

    def schedule_bounds(self) -> tuple[dt.date, dt.date] | None:
        """First and last expected game date in the schedule, or None when it is empty or
        missing."""
        if not self.table_exists(SCHEDULE):
            return None
        rows = self.fetch(
            f"SELECT MIN(game_date) AS lo, MAX(game_date) AS hi FROM {EXPECTED_GAMES}",
            _WHOLE_SCHEDULE,
        )
        if not rows or rows[0]["lo"] is None:
            return None
        return _as_date(rows[0]["lo"]), _as_date(rows[0]["hi"])

    def season_openers(self) -> Openers:
        """Every season of the schedule with its opener (first regular-season game date): what
        bootstrap days are counted from. Empty when there is no schedule."""
        if not self.table_exists(SCHEDULE):
            return Openers({})
        rows = self.fetch(f"SELECT season_year, opener_date FROM {SEASON_OPENERS}", _WHOLE_SCHEDULE)
        return Openers({int(r["season_year"]): _as_date(r["opener_date"]) for r in rows})

    def date_profile(
        self, table: TableSpec, start: dt.date, end: dt.date
    ) -> dict[dt.date, DateProfile]:
        """Rows and distinct teams per date of ``table`` on ``[start, end]``."""
        if not self.table_exists(table.name):
            return {}
        d, team = table.date_column, table.team_column
        if table.team_from is None:
            sql = (
                f"SELECT {d} AS day, COUNT(*) AS n, COUNT(DISTINCT {team}) AS teams "
                f"FROM {table.name} WHERE {d} BETWEEN @start_date AND @end_date GROUP BY {d}"
            )
        else:
            # Production's player-grain Phase 4 tables hold no team: a row's team is the
            # player's team that date in ``team_from`` (the upcoming player context).
            src = TABLES[table.team_from]
            sd = src.date_column
            sql = (
                f"SELECT t.{d} AS day, COUNT(*) AS n, COUNT(DISTINCT s.{team}) AS teams "
                f"FROM {table.name} AS t LEFT JOIN {src.name} AS s "
                f"ON s.{sd} = t.{d} AND s.player_lookup = t.player_lookup "
                f"AND s.{sd} BETWEEN @start_date AND @end_date "
                f"WHERE t.{d} BETWEEN @start_date AND @end_date GROUP BY t.{d}"
            )
        rows = self.fetch(sql, {"start_date": start, "end_date": end})
        return {_as_date(r["day"]): DateProfile(int(r["n"]), int(r["teams"])) for r in rows}

    def key_audit(self, table: TableSpec, start: dt.date, end: dt.date) -> KeyAudit:
        """Row count, rows with a NULL key column, and surplus rows of duplicated keys."""
        if not self.table_exists(table.name):
            return KeyAudit(0, 0, 0)
        d = table.date_column
        keys = ", ".join(table.key_columns)
        nulls = " OR ".join(f"{k} IS NULL" for k in table.key_columns)
        rows = self.fetch(
            f"WITH r AS (SELECT * FROM {table.name} WHERE {d} BETWEEN @start_date AND @end_date),"
            f" k AS (SELECT {keys}, COUNT(*) AS c FROM r GROUP BY {keys}) "
            f"SELECT (SELECT COUNT(*) FROM r) AS n, "
            f"(SELECT COUNTIF({nulls}) FROM r) AS null_keys, "
            f"(SELECT COALESCE(SUM(c - 1), 0) FROM k WHERE c > 1) AS dups",
            {"start_date": start, "end_date": end},
        )
        r = rows[0]
        return KeyAudit(int(r["n"]), int(r["null_keys"] or 0), int(r["dups"] or 0))

    def row_count(self, table: TableSpec, start: dt.date, end: dt.date) -> int:
        return self.key_audit(table, start, end).rows

    def checksum(self, table: TableSpec, start: dt.date, end: dt.date) -> tuple[int, str]:
        """(rows, order-independent fingerprint of every row's stable columns) for comparing
        two runs; the write-time columns (``outputs.is_volatile``) are left out."""
        if not self.table_exists(table.name):
            return 0, ""
        d = table.date_column
        cols = ", ".join(stable_columns(table))
        rows = self.fetch(
            f"SELECT COUNT(*) AS n, BIT_XOR(FARM_FINGERPRINT(TO_JSON_STRING(STRUCT({cols})))) AS h "
            f"FROM {table.name} AS t WHERE {d} BETWEEN @start_date AND @end_date",
            {"start_date": start, "end_date": end},
        )
        return int(rows[0]["n"]), str(rows[0]["h"])


def stable_columns(table: TableSpec) -> tuple[str, ...]:
    """The table's live columns whose value a rerun reproduces (all but the write's time)."""
    return tuple(c for c in table.contract.column_names if not is_volatile(c))


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
