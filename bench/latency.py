"""A warehouse wrapper that counts jobs and the time spent inside warehouse calls, and can charge
every job a modelled BigQuery latency, scaled down in time.

The embedded engine answers a query in milliseconds; BigQuery needs seconds per job whatever its
size (job start, scheduling, DML commit), runs few mutating DML statements per table at once and
a bounded number of jobs overall, and the old per-date processors added seconds of their own
work per date. :class:`LatencyModel` states those costs; :class:`LatencyWarehouse` wraps a real
warehouse (DuckDB in the benchmarks): every call runs for real and then waits until it has lasted
``modelled seconds × time_factor``, holding its per-table and overall caps until then (a BigQuery
job holds its DML slot until it commits). A run at ``time_factor = 1/20`` thus shows in a minute
what production would do in twenty, and :meth:`LatencyWarehouse.projected_seconds` turns its
wall time back into production seconds: time with a call in flight is scaled by
``1 / time_factor``, time with none (orchestration) is kept as is. A call whose real work
already takes longer than its scaled budget is an *overrun*: it is counted, and the projection
then overstates it.

With ``time_factor = 0`` nothing is charged and no cap applies: the wrapper only counts (jobs,
time inside calls, the union of that time across threads) — which is how the benchmarks measure
orchestration overhead. Prefect-free, like the rest of the core.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlglot import exp

from nba_backfill.catalog import TableSpec
from nba_backfill.warehouse.base import Params, Warehouse, WriteResult
from nba_backfill.warehouse.wrapper import DelegatingWarehouse, innermost


@dataclass(frozen=True)
class LatencyModel:
    """What one warehouse call costs in production seconds (before ``time_factor``).

    * a query job (read): ``job_start_seconds``;
    * a write job: ``job_start_seconds + commit_seconds`` plus
      ``per_date_seconds[table] × per_date_multiplier`` for every game date it writes;
    * a metadata call (does the table exist?): ``metadata_seconds``.

    How BigQuery admits writes to one table (``write_strategy``, the setting
    ``warehouse.write_strategy``): ``merge`` — single DML statements, ``max_writes_per_table``
    running and ``max_queued_per_table`` queued behind them (one more is rejected: "too many
    DML statements outstanding", retried after a backoff), at most ``dml_per_window`` started
    per ``dml_window_seconds``; ``transaction`` — a multi-statement transaction holds the table
    alone, and one that meets another on the same table is cancelled after
    ``job_start_seconds`` (the conflict shows on its first mutation) and retried after the
    runner's backoff (``retry_*``, the settings' defaults), at most ``max_attempts`` times.
    """

    time_factor: float = 0.0  # wall seconds per modelled second; 0 = count only, charge nothing
    job_start_seconds: float = 1.5  # submit → running → results, for any query job
    commit_seconds: float = 1.5  # extra for a DML / multi-statement transaction to commit
    metadata_seconds: float = 0.2  # a tables.get API call, not a job
    per_date_seconds: Mapping[str, float] = field(default_factory=dict)  # table -> s per date
    default_per_date_seconds: float = 0.0
    per_date_multiplier: float = 1.0  # sensitivity: 3x, 10x the per-date work
    max_writes_per_table: int | None = 2  # BigQuery runs 2 mutating DML per table at once
    max_concurrent_jobs: int | None = 100  # concurrent query jobs in the project
    execute_writes: bool = True  # False: charge the write, skip it (schedules fixed up front)
    write_strategy: Literal["merge", "transaction"] = "merge"
    max_queued_per_table: int = 20  # mutating DML queued per table behind the running ones
    dml_per_window: int = 25  # DML statements started per table per window
    dml_window_seconds: float = 10.0
    retry_initial_seconds: float = 2.0  # RetrySettings: first backoff, doubling
    retry_max_seconds: float = 120.0  # RetrySettings: backoff ceiling
    retry_jitter_seconds: float = 1.0  # RetrySettings: uniform jitter (its mean is charged)
    max_attempts: int = 6  # RetrySettings: attempts per write, first included

    def __post_init__(self) -> None:
        if self.time_factor < 0 or self.per_date_multiplier < 0:
            raise ValueError("time_factor and per_date_multiplier must be >= 0")
        for cap in (self.max_writes_per_table, self.max_concurrent_jobs):
            if cap is not None and cap < 1:
                raise ValueError("concurrency caps must be >= 1 (or None for no cap)")
        if self.write_strategy not in ("merge", "transaction"):
            raise ValueError("write_strategy is 'merge' or 'transaction'")
        if self.max_queued_per_table < 0 or self.dml_per_window < 1 or self.max_attempts < 1:
            raise ValueError("queue >= 0, dml_per_window >= 1, max_attempts >= 1")

    @property
    def charging(self) -> bool:
        return self.time_factor > 0

    def read_seconds(self) -> float:
        return self.job_start_seconds

    def write_seconds(self, table: str, dates: int) -> float:
        per_date = self.per_date_seconds.get(table, self.default_per_date_seconds)
        return (
            self.job_start_seconds
            + self.commit_seconds
            + per_date * self.per_date_multiplier * dates
        )

    @property
    def running_per_table(self) -> int | None:
        """Writes BigQuery runs on one table at once under the strategy."""
        if self.write_strategy == "transaction":
            return 1
        return self.max_writes_per_table

    def backoff_seconds(self, attempt: int) -> float:
        """The runner's mean wait after failed ``attempt`` (1-based): nba_backfill.retry."""
        base = self.retry_initial_seconds * 2 ** (attempt - 1)
        return min(self.retry_max_seconds, base) + self.retry_jitter_seconds / 2

    def as_dict(self) -> dict[str, Any]:
        return {
            "write_strategy": self.write_strategy,
            "max_queued_per_table": self.max_queued_per_table,
            "dml_per_window": self.dml_per_window,
            "dml_window_seconds": self.dml_window_seconds,
            "max_attempts": self.max_attempts,
            "time_factor": self.time_factor,
            "job_start_seconds": self.job_start_seconds,
            "commit_seconds": self.commit_seconds,
            "metadata_seconds": self.metadata_seconds,
            "per_date_seconds": dict(self.per_date_seconds),
            "default_per_date_seconds": self.default_per_date_seconds,
            "per_date_multiplier": self.per_date_multiplier,
            "max_writes_per_table": self.max_writes_per_table,
            "max_concurrent_jobs": self.max_concurrent_jobs,
            "execute_writes": self.execute_writes,
        }


COUNT_ONLY = LatencyModel()


@dataclass
class TableWrites:
    """Writes to one table: jobs, game dates written, seconds inside the real warehouse."""

    jobs: int = 0
    dates: int = 0
    inner_seconds: float = 0.0
    modelled_seconds: float = 0.0
    last_end: float = 0.0  # perf_counter() when the last write to the table finished
    busy_at_last_end: float = 0.0  # busy_seconds of the run at that moment


@dataclass
class CallStats:
    reads: int = 0
    writes: int = 0
    metadata: int = 0
    inner_seconds: float = 0.0  # summed over threads: time the real warehouse worked
    modelled_seconds: float = 0.0  # summed over threads: production seconds charged
    busy_seconds: float = 0.0  # wall time with at least one call in flight (union)
    overruns: int = 0  # calls whose real work outlasted modelled seconds × time factor
    overrun_seconds: float = 0.0  # wall seconds by which they did
    cancelled: int = 0  # transactions cancelled by a concurrent one on their table, retried
    tables: dict[str, TableWrites] = field(default_factory=dict)

    @property
    def jobs(self) -> int:
        """Warehouse jobs (queries and writes); metadata calls are not jobs."""
        return self.reads + self.writes

    def as_dict(self) -> dict[str, Any]:
        return {
            "jobs": self.jobs,
            "reads": self.reads,
            "writes": self.writes,
            "metadata_calls": self.metadata,
            "inner_seconds": round(self.inner_seconds, 4),
            "modelled_seconds": round(self.modelled_seconds, 3),
            "busy_seconds": round(self.busy_seconds, 4),
            "overruns": self.overruns,
            "overrun_seconds": round(self.overrun_seconds, 4),
            "cancelled": self.cancelled,
            "tables": {
                name: {
                    "jobs": t.jobs,
                    "dates": t.dates,
                    "inner_seconds": round(t.inner_seconds, 4),
                    "modelled_seconds": round(t.modelled_seconds, 3),
                }
                for name, t in sorted(self.tables.items())
            },
        }


class _Union:
    """Length of the union of intervals opened and closed by many threads (caller locks)."""

    def __init__(self) -> None:
        self.active = 0
        self.since = 0.0

    def enter(self, now: float) -> None:
        if self.active == 0:
            self.since = now
        self.active += 1

    def exit(self, now: float) -> float:
        """Close one interval; return the wall time to add when none is left open."""
        self.active -= 1
        return now - self.since if self.active == 0 else 0.0

    def open_part(self, now: float) -> float:
        return now - self.since if self.active else 0.0

    def cut(self, now: float) -> float:
        """The open part so far (the union continues from ``now``)."""
        if self.active == 0:
            return 0.0
        open_part, self.since = now - self.since, now
        return open_part


class LatencyWarehouse(DelegatingWarehouse):
    """Delegates every call to ``inner``; counts it, times it, and charges ``model``.

    ``game_dates`` (the schedule's dates) lets a write be charged per *game* date of its range;
    without it every calendar day counts."""

    def __init__(
        self,
        inner: Warehouse,
        model: LatencyModel = COUNT_ONLY,
        *,
        game_dates: Collection[dt.date] | None = None,
    ) -> None:
        super().__init__(inner)
        self.latency = model
        self.name = f"latency({inner.name})"
        self._dates = sorted(game_dates) if game_dates is not None else None
        self._lock = threading.Lock()
        self._stats = CallStats()
        self._calls = _Union()
        self._debt = threading.local()  # per thread: seconds overslept, taken off the next wait
        self._jobs_sem = (
            threading.BoundedSemaphore(model.max_concurrent_jobs)
            if model.charging and model.max_concurrent_jobs
            else None
        )
        self._table_sems: dict[str, threading.BoundedSemaphore] = {}

    def watch_adapter(self) -> None:
        """Count the adapter's own calls as busy time too: a chunk's bookkeeping (its inputs'
        fingerprints, read before the write; their ledger row, appended after) goes to the
        adapter itself, past this wrapper (``nba_backfill/fingerprints.py``). It is warehouse
        work, not orchestration: without this the overhead share counted it as idle. Neither
        counted as jobs nor charged: the model charges a chunk's jobs (``runner.chunk_jobs``).
        For count-only runs: under a charging model, busy time is divided by the time factor
        (:meth:`projected_seconds`), which these uncharged calls must not be."""
        adapter = innermost(self.inner)
        for name in ("fetch", "load_raw"):
            method = getattr(adapter, name, None)
            if method is not None:
                setattr(adapter, name, self._busy(method))

    def _busy(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._calls.enter(time.perf_counter())
            try:
                return fn(*args, **kwargs)
            finally:
                now = time.perf_counter()
                with self._lock:
                    self._stats.busy_seconds += self._calls.exit(now)

        return call

    # --- accounting -------------------------------------------------------------------------
    @property
    def stats(self) -> CallStats:
        return self._stats

    def reset_stats(self) -> CallStats:
        """Return the counts so far and start new ones (e.g. between a run and its rerun)."""
        now = time.perf_counter()
        with self._lock:
            old, self._stats = self._stats, CallStats()
            old.busy_seconds += self._calls.cut(now)
        return old

    def projected_seconds(self, wall_seconds: float, busy_seconds: float | None = None) -> float:
        """Production seconds of ``wall_seconds`` of this run (with ``busy_seconds`` of it inside
        calls; by default the run's own): call time scaled back up, the rest kept as is."""
        if not self.latency.charging:
            return wall_seconds
        busy = self._stats.busy_seconds if busy_seconds is None else busy_seconds
        return busy / self.latency.time_factor + max(0.0, wall_seconds - busy)

    def dates_in(self, start: dt.date, end: dt.date) -> int:
        """Game dates (or calendar days without a schedule) on ``[start, end]``."""
        if self._dates is None:
            return (end - start).days + 1
        return bisect.bisect_right(self._dates, end) - bisect.bisect_left(self._dates, start)

    def _table_sem(self, table: str) -> threading.BoundedSemaphore | None:
        cap = self.latency.running_per_table
        if not self.latency.charging or not cap:
            return None
        with self._lock:
            sem = self._table_sems.get(table)
            if sem is None:
                sem = self._table_sems[table] = threading.BoundedSemaphore(cap)
            return sem

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds`` on average: what a sleep overshoots is taken off the thread's next
        one, so thousands of short waits add up to the modelled total."""
        debt = getattr(self._debt, "seconds", 0.0)
        want = seconds - debt
        if want <= 0:
            self._debt.seconds = -want
            return
        started = time.perf_counter()
        time.sleep(want)
        self._debt.seconds = time.perf_counter() - started - want

    def _take_conflicting(self, sem: threading.BoundedSemaphore) -> None:
        """A transaction's way onto its table: while another holds it, this one starts, is
        cancelled at its first mutation (a job start's time) and backs off, as the runner's
        retry policy would; the attempts it wasted are counted."""
        model = self.latency
        attempt = 1
        while not sem.acquire(blocking=False):
            self._wait(
                (model.job_start_seconds + model.backoff_seconds(attempt)) * model.time_factor
            )
            with self._lock:
                self._stats.cancelled += 1
            attempt += 1

    @contextlib.contextmanager
    def _call(self, kind: str, table: str | None = None, dates: int = 0) -> Iterator[None]:
        """One call: take the caps, run it for real, then wait out the rest of its modelled
        time × the time factor while still holding the caps."""
        model = self.latency
        if kind == "write":
            modelled = model.write_seconds(table or "", dates)
        elif kind == "read":
            modelled = model.read_seconds()
        else:
            modelled = model.metadata_seconds
        with contextlib.ExitStack() as caps:
            if kind == "write" and table is not None:
                sem = self._table_sem(table)
                if sem is not None:
                    if model.write_strategy == "transaction":
                        self._take_conflicting(sem)
                        caps.callback(sem.release)
                    else:  # merge: queued behind the running statements
                        caps.enter_context(sem)
            if kind != "metadata" and self._jobs_sem is not None:
                caps.enter_context(self._jobs_sem)
            with self._lock:
                self._calls.enter(time.perf_counter())
            started = time.perf_counter()
            try:
                yield
            finally:
                inner = time.perf_counter() - started
                over = 0.0
                if model.charging:
                    budget = modelled * model.time_factor
                    if inner < budget:
                        self._wait(budget - inner)
                    else:
                        over = inner - budget
                now = time.perf_counter()
                with self._lock:
                    s = self._stats
                    s.busy_seconds += self._calls.exit(now)
                    s.inner_seconds += inner
                    if over:
                        s.overruns += 1
                        s.overrun_seconds += over
                    if kind == "read":
                        s.reads += 1
                        s.modelled_seconds += modelled
                    elif kind == "write":
                        s.writes += 1
                        s.modelled_seconds += modelled
                    else:
                        s.metadata += 1
                    if kind == "write" and table is not None:
                        t = s.tables.setdefault(table, TableWrites())
                        t.jobs += 1
                        t.dates += dates
                        t.inner_seconds += inner
                        t.modelled_seconds += modelled
                        t.last_end = now
                        t.busy_at_last_end = s.busy_seconds + self._calls.open_part(now)

    # --- writes -----------------------------------------------------------------------------
    def replace_range(
        self,
        table: TableSpec,
        start: dt.date,
        end: dt.date,
        *,
        labels: Mapping[str, str] | None = None,
        dates: Sequence[dt.date] | None = None,
    ) -> WriteResult:
        n = len(set(dates)) if dates is not None else self.dates_in(start, end)
        with self._call("write", table.name, n):
            if not self.latency.execute_writes:
                return WriteResult(table.name, start, end, 0, 0)
            result = self.inner.replace_range(table, start, end, labels=labels, dates=dates)
        self.jobs_run += result.jobs
        return result

    def ensure_tables(self, tables: Sequence[TableSpec]) -> None:
        with self._call("write"):
            self.inner.ensure_tables(tables)

    # --- reads: each fetch is one query job (the shared reads are fetches, checked by a
    # metadata call first: table_exists, a tables.get on BigQuery) --------------------------
    def fetch(
        self,
        sql: str | exp.Expr,
        params: Params | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        with self._call("read"):
            return self.inner.fetch(sql, params, labels)

    def table_exists(self, name: str) -> bool:
        with self._call("metadata"):
            return self.inner.table_exists(name)


__all__ = ["COUNT_ONLY", "CallStats", "LatencyModel", "LatencyWarehouse", "TableWrites"]
