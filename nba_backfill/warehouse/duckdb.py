"""Embedded DuckDB warehouse: datasets are schemas of one local database file.

The table SQL is BigQuery dialect; it is transpiled here with sqlglot, once per table.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import datetime as dt
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import duckdb
from sqlglot import exp

from nba_backfill.catalog import TableSpec
from nba_backfill.contract import Column, normalise_type
from nba_backfill.errors import TransientWarehouseError, WarehouseError, WarehouseUnavailable
from nba_backfill.phase2 import RawTable
from nba_backfill.settings import Settings
from nba_backfill.warehouse.base import Loader, Params, Warehouse, WriteResult, write_dates


def column_type(column: Column) -> str:
    """A contract column's type rendered for DuckDB. BigQuery's bare ``NUMERIC`` is
    NUMERIC(38, 9); DuckDB's bare DECIMAL would be DECIMAL(18, 3)."""
    if column.type == "NUMERIC":
        return "DECIMAL(38, 9)"
    return column.data_type.sql(dialect="duckdb")


def column_ddl(column: Column) -> str:
    """``"name" TYPE [NOT NULL]``: production's REQUIRED mode is NOT NULL here."""
    return f'"{column.name}" {column_type(column)}' + (" NOT NULL" if column.required else "")


def _csv_value(value: Any) -> Any:
    if value is None:
        return "\\N"
    if isinstance(value, list | tuple):  # REPEATED column: a DuckDB list literal
        return "[" + ", ".join(str(v) for v in value) + "]"
    return value


def _translate(exc: duckdb.Error, what: str) -> WarehouseError:
    msg = f"{what}: {exc}".splitlines()[0]
    if isinstance(exc, duckdb.TransactionException) or "conflict" in str(exc).lower():
        return TransientWarehouseError(msg, reason="serialization")
    return WarehouseError(msg)


class _Gate:
    """A readers-writer lock: warehouse calls share it, a hand-off (:meth:`DuckDBWarehouse.
    handoff`) takes it alone. Re-entrant for readers of one thread (a call inside a call), and
    a waiting hand-off lets no new reader in, so it cannot starve."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0
        self._local = threading.local()

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            with self._cond:
                while self._writer or self._writers_waiting:
                    self._cond.wait()
                self._readers += 1
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0:
                with self._cond:
                    self._readers -= 1
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _gated(
    fn: Callable[Concatenate[DuckDBWarehouse, _P], _R],
) -> Callable[Concatenate[DuckDBWarehouse, _P], _R]:
    """A call that uses the file: it waits while the file is handed off to another process."""

    @wraps(fn)
    def call(self: DuckDBWarehouse, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._gate.shared():
            return fn(self, *args, **kwargs)

    return call


def _config(settings: Settings) -> dict[str, Any]:
    """Every connection's config, in one place: threads and the buffer pool's cap (DuckDB
    would otherwise size it at 80 % of the machine's RAM and keep what it filled)."""
    return {
        "threads": settings.warehouse.duckdb_threads,
        "memory_limit": settings.warehouse.duckdb_memory_limit,
    }


class DuckDBWarehouse(Warehouse, Loader):
    dialect = "duckdb"
    name = "duckdb"

    def __init__(
        self,
        settings: Settings,
        path: Path | str | None = None,
        *,
        read_only: bool = False,
        copy_if_locked: bool = False,
    ) -> None:
        super().__init__(settings)
        self.path = Path(path or settings.warehouse.duckdb_path)
        if read_only and not self.path.exists():
            raise WarehouseUnavailable(
                f"no warehouse at {self.path}; run `nba-backfill seed` first"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Set when a read-only open found another process writing: the copy read instead.
        self.snapshot: Path | None = None
        config = _config(settings)
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            holder = _lock_holder(exc)
            if read_only and copy_if_locked and holder is not None:
                # DuckDB admits one writing process or several readers, never both: a
                # read-only command during a run reads a consistent copy instead.
                self._con = self._open_snapshot(holder, config)
            else:
                raise WarehouseUnavailable(
                    f"cannot open DuckDB warehouse {self.path}: {str(exc).splitlines()[0]} "
                    "(is another nba-backfill process using it?)"
                ) from exc
        self._read_only = read_only
        self._local = threading.local()
        self._generation = 0  # bumped at each hand-off: thread cursors of the old connection
        self._gate = _Gate()
        self._sql_cache: dict[str, str] = {}
        self._lock = threading.Lock()
        # DDL from two threads' cursors at once is a catalog write-write conflict in DuckDB,
        # even with IF NOT EXISTS (two chunks recording their first fingerprints both create
        # nba_backfill_meta): one statement of DDL at a time per warehouse.
        self._ddl_lock = threading.Lock()
        self._write_slots = threading.BoundedSemaphore(settings.warehouse.duckdb_write_slots)
        # Table -> the statement length (days) a write fell back to after running out of
        # memory: the table's next chunks start there (see replace_range).
        self._statement_days: dict[str, int] = {}

    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(
                str(self.path),
                read_only=self._read_only,
                config=_config(self.settings),
            )
        except duckdb.IOException as exc:
            raise WarehouseUnavailable(
                f"cannot open DuckDB warehouse {self.path}: {str(exc).splitlines()[0]} "
                "(is another nba-backfill process using it?)"
            ) from exc

    @contextlib.contextmanager
    def handoff(self) -> Iterator[None]:
        """DuckDB lets one process at a time open the file: close it for the block (an
        external processor writes it meanwhile), every other call of this process waiting,
        and open it again after."""
        with self._gate.exclusive():
            with contextlib.suppress(duckdb.Error):
                self._con.close()
            self._generation += 1
            try:
                yield
            finally:
                self._con = self._connect()

    def _open_snapshot(self, holder: str, config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
        """A read-only connection to a copy of the database file and its WAL, taken while
        ``holder`` writes. A copy counts when neither file changed while it was taken (the
        writer committed or checkpointed in between: a torn copy) and DuckDB opens it (its
        blocks are checksummed); else it is taken again, ``SNAPSHOT_ATTEMPTS`` times in all.
        Raises WarehouseUnavailable, one line naming the holder, when none counts."""
        tmp = Path(tempfile.mkdtemp(prefix="nba-backfill-snapshot-"))
        # Removed by close(); and at exit, for a command that ends without closing.
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        copy = tmp / self.path.name
        wal = Path(f"{self.path}.wal")
        for attempt in range(SNAPSHOT_ATTEMPTS):
            if attempt:
                time.sleep(SNAPSHOT_RETRY_SECONDS * attempt)
            before = _stats(self.path, wal)
            try:
                _copy_file(self.path, copy)
                if wal.exists():
                    _copy_file(wal, Path(f"{copy}.wal"))
                else:
                    Path(f"{copy}.wal").unlink(missing_ok=True)
            except OSError:
                continue  # the WAL went away mid-copy (a checkpoint): take it again
            if _stats(self.path, wal) != before:
                continue
            try:
                con = duckdb.connect(str(copy), read_only=True, config=config)
                con.execute("SELECT COUNT(*) FROM information_schema.tables").fetchall()
            except duckdb.Error:
                continue
            self.snapshot = copy
            return con
        shutil.rmtree(tmp, ignore_errors=True)
        raise WarehouseUnavailable(
            f"the warehouse {self.path} is being written by {holder}, and {SNAPSHOT_ATTEMPTS} "
            "copies of it changed while taken; retry in a moment or once that run ends"
        )

    # --- plumbing -------------------------------------------------------------------------------
    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cur", None)
        if cur is None or getattr(self._local, "generation", 0) != self._generation:
            cur = self._con.cursor()
            self._local.cur = cur
            self._local.generation = self._generation
        return cur

    def render(self, sql: str | exp.Expr) -> str:
        if isinstance(sql, str):
            cached = self._sql_cache.get(sql)
            if cached is not None:
                return cached
            rendered = _duckdb_functions(self.parse(sql)).sql(dialect="duckdb")
            self._sql_cache[sql] = rendered
            return rendered
        return _duckdb_functions(sql.copy()).sql(dialect="duckdb")

    def _run(self, cur: duckdb.DuckDBPyConnection, sql: str, params: Params | None) -> None:
        cur.execute(sql, _used(sql, params))

    @_gated
    def fetch(
        self,
        sql: str | exp.Expr,
        params: Params | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        text = self.render(sql)
        cur = self._cursor()
        try:
            self._run(cur, text, params)
            cols = [d[0] for d in cur.description or []]
            out = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
        except duckdb.Error as exc:
            raise _translate(exc, "query failed") from exc
        self.jobs_run += 1
        return out

    @_gated
    def table_exists(self, name: str) -> bool:
        dataset, table = name.split(".")
        rows = (
            self._cursor()
            .execute(
                "SELECT 1 FROM information_schema.tables "
                "WHERE table_schema = $s AND table_name = $t",
                {"s": self.datasets.get(dataset, dataset), "t": table},
            )
            .fetchall()
        )
        return bool(rows)

    def _qualified(self, name: str) -> str:
        dataset, table = name.split(".")
        return f'"{self.datasets[dataset]}"."{table}"'

    def _ensure_schema(self, dataset: str) -> None:
        self._cursor().execute(f'CREATE SCHEMA IF NOT EXISTS "{self.datasets[dataset]}"')

    # --- Phase 2 --------------------------------------------------------------------------------
    @_gated
    def ensure_raw_tables(self, tables: Sequence[RawTable]) -> None:
        for t in tables:
            # Production's columns, types and modes; DuckDB has no partitioning or clustering.
            cols = ", ".join(column_ddl(c) for c in t.live_columns)
            with self._ddl_lock:
                self._ensure_schema(t.dataset)
                self._cursor().execute(
                    f"CREATE TABLE IF NOT EXISTS {self._qualified(t.name)} ({cols})"
                )

    @_gated
    def load_raw(
        self, table: RawTable, rows: Iterable[Sequence[Any]], *, replace: bool = True
    ) -> int:
        """Bulk-load through a temporary CSV file (COPY is orders of magnitude faster than
        row inserts and needs no extra dependency)."""
        self.ensure_raw_tables([table])
        fd, tmp = tempfile.mkstemp(suffix=".csv", dir=self.path.parent)
        n = 0
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                for row in rows:
                    w.writerow([_csv_value(v) for v in row])
                    n += 1
            cur = self._cursor()
            cur.begin()
            try:
                if replace:
                    cur.execute(f"DELETE FROM {self._qualified(table.name)}")
                if n:
                    cur.execute(
                        f"COPY {self._qualified(table.name)} FROM '{tmp}' "
                        "(FORMAT csv, HEADER false, NULLSTR '\\N')"
                    )
                cur.commit()
            except duckdb.Error as exc:
                cur.rollback()
                raise _translate(exc, f"loading {table.name}") from exc
        finally:
            os.unlink(tmp)
        return n

    # --- Phase 3/4 ------------------------------------------------------------------------------
    def model_sql(self, table: TableSpec) -> str:
        key = f"model:{table.name}"
        with self._lock:
            if key not in self._sql_cache:
                self._sql_cache[key] = self.model(table).sql(dialect="duckdb")
        return self._sql_cache[key]

    @_gated
    def ensure_tables(self, tables: Sequence[TableSpec]) -> None:
        """Create the absent tables with production's schema (the contract's live columns,
        types rendered for DuckDB, REQUIRED as NOT NULL)."""
        for t in tables:
            if self.table_exists(t.name):
                continue
            cols = ", ".join(column_ddl(c) for c in t.contract.live_columns)
            try:
                with self._ddl_lock:
                    self._ensure_schema(t.dataset)
                    self._cursor().execute(
                        f"CREATE TABLE IF NOT EXISTS {self._qualified(t.name)} ({cols})"
                    )
            except duckdb.Error as exc:
                raise _translate(exc, f"creating {t.name}") from exc

    @_gated
    def replace_range(
        self,
        table: TableSpec,
        start: dt.date,
        end: dt.date,
        *,
        labels: Mapping[str, str] | None = None,
        dates: Sequence[dt.date] | None = None,
    ) -> WriteResult:
        target = self._qualified(table.name)
        col = f'"{table.date_column}"'
        days = write_dates(start, end, dates)
        params: dict[str, object] = {"start_date": start, "end_date": end}
        if days is not None:
            params["dates"] = days

        def window(c: str) -> str:
            where = f"{c} BETWEEN $start_date AND $end_date"
            # Only these dates: the complete ones between keep their rows untouched.
            return where if days is None else f"{where} AND {c} IN (SELECT UNNEST($dates::DATE[]))"

        cur = self._cursor()
        sql = self.model_sql(table)

        def attempt(span_days: int | None) -> tuple[int, int]:
            """The chunk in one transaction, its model in statements of ``span_days``."""
            cur.begin()
            try:
                deleted = cur.execute(f"DELETE FROM {target} WHERE {window(col)}", params)
                removed = deleted.fetchall()[0][0]
                if self.mid_write is not None:
                    self.mid_write(table, start, end)
                written = 0
                for lo, hi in statement_spans(start, end, span_days):
                    span: dict[str, object] = {"start_date": lo, "end_date": hi}
                    if days is not None:
                        span["dates"] = [d for d in days if lo <= d <= hi]
                        if not span["dates"]:
                            continue
                    # The window filter again here: a model bug can never write outside
                    # its range.
                    written += cur.execute(
                        f"INSERT INTO {target} BY NAME SELECT * FROM ({sql}) AS m "
                        f"WHERE {window('m.' + col)}",
                        _used(sql, span) | span,
                    ).fetchall()[0][0]
                cur.commit()
            except BaseException:
                cur.rollback()
                raise
            return int(removed), int(written)

        # One write in flight per slot: DuckDB runs each statement on all its threads, so
        # writes side by side share the same cores and add up in the capped buffer pool.
        with self._write_slots:
            span_days = self.statement_days(table)
            while True:
                try:
                    deleted, written = attempt(span_days)
                    break
                except duckdb.OutOfMemoryException as exc:
                    # Rolled back whole: the chunk again in statements half as long (the
                    # pool is shared with the reads in flight, so a length that fits alone
                    # may not fit beside them), down to MIN_STATEMENT_DAYS.
                    shorter = shorter_statements(start, end, span_days)
                    if shorter is None:
                        raise _translate(exc, f"{table.name} {start}..{end}") from exc
                    span_days = shorter
                    with self._lock:
                        known = self._statement_days.get(table.name, shorter)
                        self._statement_days[table.name] = min(known, shorter)
                except duckdb.Error as exc:
                    raise _translate(exc, f"{table.name} {start}..{end}") from exc
        self.jobs_run += 1
        return WriteResult(table.name, start, end, deleted, written)

    def statement_days(self, table: TableSpec) -> int | None:
        """The statement length a write of ``table`` starts with: the catalog's
        (``TableSpec.statement_days``, None: the whole chunk), or the shorter one an earlier
        write of this warehouse fell back to after running out of memory."""
        return self._statement_days.get(table.name, table.statement_days)

    @_gated
    def delete_dates(self, table: TableSpec, dates: Sequence[dt.date]) -> int:
        if not dates:
            return 0
        cur = self._cursor()
        res = cur.execute(
            f'DELETE FROM {self._qualified(table.name)} WHERE "{table.date_column}" IN '
            "(SELECT UNNEST($dates::DATE[]))",
            {"dates": list(dates)},
        ).fetchall()
        return int(res[0][0])

    def partition_expiration_days(self, table: TableSpec) -> float | None:
        if self.settings.warehouse.duckdb_partition_expiration == "none":
            return None
        return table.partition_expiration_days

    @_gated
    def live_columns(self, name: str) -> list[tuple[str, str, str]] | None:
        """DuckDB types read back as BigQuery types (sqlglot), NOT NULL as REQUIRED, arrays
        as REPEATED."""
        if not self.table_exists(name):
            return None
        dataset, table = name.split(".")
        found = (
            self._cursor()
            .execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = $s AND table_name = $t ORDER BY ordinal_position",
                {"s": self.datasets[dataset], "t": table},
            )
            .fetchall()
        )
        out = []
        for column, duck_type, nullable in found:
            bq = normalise_type(
                exp.DataType.build(duck_type, dialect="duckdb").sql(dialect="bigquery")
            )
            if bq.startswith("ARRAY<"):
                mode = "REPEATED"
            else:
                mode = "NULLABLE" if nullable == "YES" else "REQUIRED"
            out.append((column, bq, mode))
        return out

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self._con.close()
        if self.snapshot is not None:
            shutil.rmtree(self.snapshot.parent, ignore_errors=True)
            self.snapshot = None


# A read-only open during a run: copies of the file taken before giving up, and the pause
# before the next copy (times the attempt: a checkpoint of a large write takes a moment).
SNAPSHOT_ATTEMPTS = 5
SNAPSHOT_RETRY_SECONDS = 0.2
_HOLDER = re.compile(r"Conflicting lock is held in (?P<exe>\S+) \(PID (?P<pid>\d+)\)")


def _lock_holder(exc: duckdb.Error) -> str | None:
    """The process holding the file's write lock, as DuckDB's error names it (``process
    <pid> (<command>)``), or None when the error is not a lock conflict."""
    m = _HOLDER.search(str(exc))
    if m is None:
        return None
    pid = m["pid"]
    try:  # the command line says which run it is (Linux); the executable otherwise
        cmd = " ".join(
            Path(f"/proc/{pid}/cmdline").read_bytes().decode().replace("\0", " ").split()
        )
    except (OSError, UnicodeDecodeError):
        cmd = ""
    if len(cmd) > 60:  # one line: the start of the command says which one it is
        cmd = cmd[:59] + "…"
    return f"process {pid} ({cmd or m['exe']})"


def _stats(*paths: Path) -> tuple[tuple[int, int] | None, ...]:
    """(size, modification time) of each path, None when absent: equal before and after a
    copy, the copy is of one state."""
    out: list[tuple[int, int] | None] = []
    for p in paths:
        try:
            st = p.stat()
        except FileNotFoundError:
            out.append(None)
            continue
        out.append((st.st_size, st.st_mtime_ns))
    return tuple(out)


def _copy_file(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)


def _duckdb_functions(tree: exp.Expr) -> exp.Expr:
    """BigQuery functions DuckDB lacks, mapped (in place) to its own: ``FARM_FINGERPRINT(x)``
    becomes ``HASH(x)`` — both a 64-bit fingerprint of a value, not the same numbers, so
    fingerprints compare only within one engine."""
    for node in list(tree.find_all(exp.FarmFingerprint)):
        node.replace(exp.Anonymous(this="HASH", expressions=list(node.expressions)))
    return tree


MIN_STATEMENT_DAYS = 7  # the shortest statement a write falls back to (a week of dates)


def shorter_statements(start: dt.date, end: dt.date, days: int | None) -> int | None:
    """The statement length to retry ``[start, end]`` with after DuckDB ran out of memory at
    ``days`` (None: the whole range in one statement): half as long, at least
    MIN_STATEMENT_DAYS; None when ``days`` is already that short (the error stands)."""
    current = (end - start).days + 1 if days is None else days
    if current <= MIN_STATEMENT_DAYS:
        return None
    return max(MIN_STATEMENT_DAYS, current // 2)


def statement_spans(
    start: dt.date, end: dt.date, days: int | None
) -> list[tuple[dt.date, dt.date]]:
    """``[start, end]`` cut into consecutive spans of at most ``days`` calendar days (the
    whole range when ``days`` is None): what one statement of a write computes."""
    if days is None:
        return [(start, end)]
    if days < 1:
        raise ValueError(f"statement days must be >= 1, got {days}")
    spans = []
    lo = start
    while lo <= end:
        hi = min(end, lo + dt.timedelta(days=days - 1))
        spans.append((lo, hi))
        lo = hi + dt.timedelta(days=1)
    return spans


def _used(sql: str, params: Params | None) -> dict[str, Any]:
    """DuckDB rejects parameters a statement does not use; pass only the referenced ones."""
    if not params:
        return {}
    return {k: v for k, v in params.items() if f"${k}" in sql}
