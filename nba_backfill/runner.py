"""Running one chunk: check its inputs, replace its date range(s) atomically with retries, and
verify what landed. Used by the Prefect tasks, the benchmarks and the tests alike."""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial

from nba_backfill import fingerprints
from nba_backfill.catalog import TABLES, TableSpec
from nba_backfill.errors import DateError, DatesFailed, ProducerIncomplete, is_data_error
from nba_backfill.limiter import DmlLimiter, LimiterEvent
from nba_backfill.producers import OnLine, command_argv, run_command
from nba_backfill.readiness import (
    ScheduleReads,
    blocked_by_inputs,
    counted_games,
    inputs_lookback,
    inputs_missing,
    is_complete,
    skipped_games,
)
from nba_backfill.retry import RetryEvent, call_with_retries
from nba_backfill.settings import ProducerSettings, RetrySettings
from nba_backfill.warehouse.base import JobCost, Warehouse, WriteResult
from nba_backfill.warehouse.retrying import with_read_retries
from nba_backfill.warehouse.wrapper import loader

log = logging.getLogger("nba_backfill")

_slots: dict[str, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


@contextmanager
def write_slot(table: str, limit: int) -> Iterator[None]:
    """At most ``limit`` concurrent writes per table in this process (BigQuery allows few
    concurrent DML statements per table; DuckDB conflicts on overlapping writers)."""
    with _slots_lock:
        sem = _slots.get(table)
        if sem is None or getattr(sem, "_initial_value", limit) != limit:
            sem = _slots[table] = threading.BoundedSemaphore(limit)
    with sem:
        yield


@dataclass
class ChunkResult:
    table: str
    start: dt.date
    end: dt.date
    dates_filled: list[dt.date] = field(default_factory=list)
    dates_blocked: dict[dt.date, str] = field(default_factory=dict)
    dates_incomplete: list[dt.date] = field(default_factory=list)
    # Dates written without games whose box scores or gamebook never arrived (named).
    games_skipped: dict[dt.date, str] = field(default_factory=dict)
    # Dates whose write failed with a data error, narrowed down to them (date -> error); the
    # chunk's other dates were written.
    dates_failed: dict[dt.date, str] = field(default_factory=dict)
    rows_written: int = 0
    rows_deleted: int = 0
    jobs: int = 0
    retries: list[RetryEvent] = field(default_factory=list)
    writes: int = 0  # range writes made (each under the retry policy): 1 per run unless narrowed
    seconds: float = 0.0
    cost: JobCost | None = None  # what the writes' jobs cost; None on DuckDB (nothing billed)

    @property
    def ok(self) -> bool:
        return not self.dates_blocked and not self.dates_incomplete and not self.dates_failed

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["start"], d["end"] = self.start.isoformat(), self.end.isoformat()
        d["dates_filled"] = [x.isoformat() for x in self.dates_filled]
        d["dates_incomplete"] = [x.isoformat() for x in self.dates_incomplete]
        d["dates_blocked"] = {k.isoformat(): v for k, v in self.dates_blocked.items()}
        d["games_skipped"] = {k.isoformat(): v for k, v in self.games_skipped.items()}
        d["dates_failed"] = {k.isoformat(): v for k, v in self.dates_failed.items()}
        return d


Listener = Callable[[ChunkResult], None]
_listeners: list[Listener] = []


def add_listener(fn: Listener) -> None:
    """Be told of every finished chunk in this process (the CLI's progress bar)."""
    _listeners.append(fn)


def remove_listener(fn: Listener) -> None:
    if fn in _listeners:
        _listeners.remove(fn)


def _runs(
    dates: Sequence[dt.date], skip: Mapping[dt.date, str], schedule: Collection[dt.date]
) -> list[list[dt.date]]:
    """Runs of ``dates`` (sorted) avoiding the dates in ``skip``, each consecutive in
    ``schedule``: a schedule date between two of them that is not written breaks the run."""
    keep = [d for d in dates if d not in skip]
    between = sorted(set(schedule) - set(keep))
    runs: list[list[dt.date]] = []
    for d in keep:
        if runs and bisect.bisect_right(between, runs[-1][-1]) == bisect.bisect_left(between, d):
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


WriteGuard = Callable[[str], AbstractContextManager[object]]


def _guarded(
    fn: Callable[[], WriteResult], guard: WriteGuard, table: str
) -> Callable[[], WriteResult]:
    def call() -> WriteResult:
        with guard(table):
            return fn()

    return call


def _limited(
    fn: Callable[[], WriteResult],
    limiter: DmlLimiter,
    table: str,
    retried: Callable[[RetryEvent], None],
) -> Callable[[], WriteResult]:
    """``fn`` under the DML limiter: its conflicts are waited out there, each reported as a
    retry of its class ("quota" for too many DML statements, "serialization" for a concurrent
    update); the retry policy sees only what the limiter gives up on."""

    def on_conflict(event: LimiterEvent, attempt: int) -> None:
        retried(RetryEvent(attempt, event.reason, event.wait_seconds, event.error))

    return lambda: limiter.call(table, fn, on_conflict=on_conflict)


def _log_line(stream: str, line: str) -> None:
    log.info("%s", line) if stream == "stdout" else log.warning("%s", line)


def _produce(
    wh: Warehouse,
    spec: TableSpec,
    producer: ProducerSettings,
    lo: dt.date,
    hi: dt.date,
    dates: Sequence[dt.date],
    on_output: OnLine,
) -> WriteResult:
    """One attempt of an external processor on ``[lo, hi]`` (``dates``: its expected dates):
    the window deleted first when ``pre_delete`` asks (one statement, every calendar day of
    it), then the command, the warehouse handed to it while it runs. Rows written = the
    window's rows after; whether they are right is the caller's check of the warehouse."""
    deleted = 0
    if producer.pre_delete:
        window = [lo + dt.timedelta(days=i) for i in range((hi - lo).days + 1)]
        deleted = loader(wh).delete_dates(spec, window)
    argv = command_argv(producer, lo, hi, dates)
    with wh.handoff():
        run_command(
            argv,
            cwd=producer.cwd,
            env=producer.env,
            timeout_seconds=producer.timeout_seconds,
            on_line=on_output,
            what=f"{spec.name} {lo}..{hi}",
        )
    return WriteResult(spec.name, lo, hi, deleted, wh.row_count(spec, lo, hi))


def narrow_budget(n: int) -> int:
    """The range writes narrowing a failed write of ``n`` dates may make beyond the first:
    two per halving level (the two halves) for up to two bad dates, 4 x ceil(log2 n). Past it
    the ranges still failing are reported failed whole: an error every date raises costs
    O(log n) writes, not 2n."""
    return 4 * math.ceil(math.log2(n)) if n > 1 else 0


def _first(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"


def _narrow(
    write: Callable[[Sequence[dt.date]], None],
    dates: Sequence[dt.date],
    error: BaseException,
) -> dict[dt.date, str]:
    """``dates``' write failed with the data error ``error``: write each half as its own
    atomic replace, and split the halves that fail again, down to single dates (breadth
    first, within :func:`narrow_budget`). Good halves stay committed. Returns the dates left
    failed -> their error. An error that is not a data error stops the narrowing: its range,
    and every range still pending, fail whole with their errors."""
    budget = narrow_budget(len(dates))
    failed: dict[dt.date, str] = {}
    pending: deque[tuple[list[dt.date], BaseException]] = deque([(list(dates), error)])
    stop = False
    while pending:
        ds, err = pending.popleft()
        if len(ds) == 1 or stop or budget < 2:
            failed.update(dict.fromkeys(ds, _first(err)))
            continue
        mid = (len(ds) + 1) // 2
        for half in (ds[:mid], ds[mid:]):
            if stop:
                failed.update(dict.fromkeys(half, _first(err)))
                continue
            budget -= 1
            try:
                write(half)
            except Exception as exc:
                if is_data_error(exc):
                    pending.append((half, exc))
                else:
                    stop = True
                    failed.update(dict.fromkeys(half, _first(exc)))
    return dict(sorted(failed.items()))


_stops: dict[str, str] = {}
_stops_lock = threading.Lock()


def stop_launching(run: str, reason: str) -> None:
    """Fail fast: no chunk of ``run`` (a run's id) starts after this; the first reason stays."""
    with _stops_lock:
        _stops.setdefault(run, reason)


def launch_stopped(run: str) -> str | None:
    """Why ``run``'s chunks must not start any more (the first permanent failure), or None."""
    with _stops_lock:
        return _stops.get(run)


def forget_stop(run: str) -> None:
    with _stops_lock:
        _stops.pop(run, None)


def write_limit_name(table: str) -> str:
    """Name of the cross-process limit on concurrent writes to ``table`` (created by setup)."""
    return f"nba-backfill-writes:{table}"


def dml_rate_limit_name(table: str) -> str:
    """Name of the cross-process rate limit on DML statements of ``table`` (created by setup
    with a slot decay: BigQuery's statements per table per 10 s)."""
    return f"nba-backfill-dml-rate:{table}"


def chunk_jobs(table: str, *, given: bool = True, settled: Collection[str] = ()) -> tuple[int, int]:
    """The warehouse jobs :func:`run_chunk` runs around one write of ``table``'s SQL model
    (nothing blocked or narrowed): (before, after). Before: the required inputs' completeness
    profiles (one query for all, none when every required input is ``settled`` — the plan's
    ``Plan.settled``, tables no chunk of the run writes meanwhile — or there is none) and the
    inputs' fingerprints (one query for all), plus — unless ``given`` the run's
    :class:`ScheduleReads` (a flow's chunks are) — the schedule and the games missing inputs;
    after: the fingerprint ledger's append (a load job) and the written dates' profile.
    ``tests/test_chunk_jobs.py`` counts them on the real code; the benchmark's latency model
    charges the flow's (given, settled as its plans settle them)."""
    deps = TABLES[table].depends_on
    profiles = 1 if any(d.required and d.table not in settled for d in deps) else 0
    return profiles + 1 + (0 if given else 2), 2


def chunk_span(table: str, dates: Sequence[dt.date]) -> tuple[dt.date, dt.date]:
    """The schedule span :func:`run_chunk` reads for ``dates`` of ``table``: its inputs'
    longest look-back before the first date through the last (what a flow slices out of its
    plan's :class:`ScheduleReads` for the chunk)."""
    back = max((d.lookback_days for d in TABLES[table].depends_on), default=0)
    return min(dates) - dt.timedelta(days=back), max(dates)


def run_chunk(
    wh: Warehouse,
    table: str,
    dates: Sequence[dt.date],
    policy: RetrySettings,
    *,
    per_table_limit: int = 2,
    labels: Mapping[str, str] | None = None,
    on_retry: Callable[[RetryEvent], None] | None = None,
    sleep: Callable[[float], None] | None = None,
    write_guard: WriteGuard | None = None,
    producer: ProducerSettings | None = None,
    on_output: OnLine | None = None,
    limiter: DmlLimiter | None = None,
    reads: ScheduleReads | None = None,
    settled: Mapping[str, Collection[dt.date]] | None = None,
) -> ChunkResult:
    """Fill ``table`` on the expected ``dates`` (one chunk; maybe scattered, with complete
    dates between them that are never rewritten).

    Dates whose required inputs are incomplete are not written (reported as blocked); the
    rest is replaced in one atomic write of that date set (an external processor: one per
    run of consecutive schedule dates). Raises the warehouse error when
    retries are exhausted or the error is permanent; rows of the range then stay as they were.
    ``write_guard(table)``, when given, is held around each write attempt only (a limit shared
    by every process writing the table, e.g. a Prefect global concurrency limit).

    ``producer``, when given, fills each range with its external command instead of the SQL
    model (retried under the same policy, its output lines to ``on_output``); its exit code
    never says a date is done: the same completeness check below does, and dates it leaves
    incomplete raise ProducerIncomplete naming them (a failed chunk).

    ``limiter``, when given, holds each write attempt to its per-table in-flight and rate
    bounds and waits out DML conflicts with its adaptive backoff (``nba_backfill/limiter.py``).

    ``reads``, when it covers the chunk's span (:func:`chunk_span`), is the schedule and the
    games missing inputs the run's plan read: sliced here instead of read again (two jobs per
    chunk). Without it, or when it falls short, the chunk reads both itself.

    ``settled`` (required input table -> its complete dates over the input's look-back, as the
    run's plan read them: ``Plan.settled_for``) stands for the profile read of those inputs:
    tables no chunk of the run writes while this one runs (an earlier phase's or group's).
    The others are read here, just before the write.
    """
    spec = TABLES[table]
    dates = sorted(dates)
    started = time.perf_counter()
    result = ChunkResult(table, dates[0], dates[-1])
    reader = with_read_retries(wh)  # writes go to ``wh``, retried (and recorded) below
    span_lo, span_hi = chunk_span(table, dates)
    # The games whose box scores or gamebook never arrived, read once for the chunk: over the
    # inputs' look-back for the readiness check, and again for the check after the write (the
    # write changes no Phase 2 table they come from; a game arriving meanwhile is seen by the
    # next plan, which re-judges every date).
    missing_lo = dates[0] - dt.timedelta(days=inputs_lookback(spec))
    if reads is not None and reads.covers(span_lo, span_hi):
        schedule = reads.schedule_on(span_lo, span_hi)
        missing = reads.missing_on(missing_lo, dates[-1])
    else:
        schedule = reader.schedule(span_lo, span_hi)
        missing = reader.games_missing_inputs(missing_lo, dates[-1])
    result.dates_blocked = blocked_by_inputs(
        reader, spec, dates, schedule, missing=missing, settled=settled
    )

    def retried(event: RetryEvent) -> None:
        result.retries.append(event)
        if on_retry is not None:
            on_retry(event)

    # What each date reads, fingerprinted before it is written, recorded after (stale dates).
    prints = fingerprints.before_write(
        wh, spec, [d for d in dates if d not in result.dates_blocked]
    )

    def write_range(run_dates: Sequence[dt.date]) -> None:
        """One atomic replace of ``run_dates`` (spanning ``[run_dates[0], run_dates[-1]]``,
        maybe with complete dates between, left untouched), under the retry policy."""
        lo, hi = run_dates[0], run_dates[-1]
        # Every schedule date of the span written: a plain range write; else just these dates.
        day_set = set(run_dates)
        whole = all(d in day_set for d in schedule if lo <= d <= hi)
        only = None if whole else list(run_dates)
        what = f"{spec.name} {lo}..{hi}"
        chunk_labels = {**(labels or {}), "table": spec.table, "chunk": f"{lo}_{hi}"}
        write: Callable[[], WriteResult]
        if producer is not None and producer.external:
            write = partial(_produce, wh, spec, producer, lo, hi, run_dates, on_output or _log_line)
        else:
            write = partial(wh.replace_range, spec, lo, hi, labels=chunk_labels, dates=only)
        if write_guard is not None:
            write = _guarded(write, write_guard, spec.name)
        if limiter is not None:
            write = _limited(write, limiter, spec.name, retried)
        result.writes += 1
        with write_slot(spec.name, per_table_limit):
            res = call_with_retries(
                write,
                policy,
                what=what,
                on_retry=retried,
                sleep=sleep,
            )
        result.rows_written += res.rows_written
        result.rows_deleted += res.rows_deleted
        result.jobs += res.jobs
        result.cost = JobCost.total([result.cost, res.cost])
        log.info("%s: replaced %d rows with %d", what, res.rows_deleted, res.rows_written)
        done = set(run_dates)
        fingerprints.after_write(wh, spec, {d: p for d, p in prints.items() if d in done})

    # One write of every date not blocked (the SQL model replaces a date set in one job); an
    # external processor takes a range, so its writes stay consecutive in the schedule.
    external = producer is not None and producer.external
    runs = _runs(dates, result.dates_blocked, schedule if external else ())
    for run_dates in runs:
        lo, hi = run_dates[0], run_dates[-1]
        try:
            write_range(run_dates)
        except Exception as exc:
            if not is_data_error(exc):
                raise  # not a date's doing (or transient, retries spent): the chunk fails
            log.warning(
                "%s %s..%s: %s; narrowing to the failing dates", spec.name, lo, hi, _first(exc)
            )
            result.dates_failed.update(_narrow(write_range, run_dates, exc))

    written = [d for d in dates if d not in result.dates_blocked and d not in result.dates_failed]
    if written:
        prof = reader.date_profile(spec, written[0], written[-1])
        games = counted_games(spec, schedule, missing)
        skipped = skipped_games(spec, missing)
        result.games_skipped = inputs_missing(spec, written, missing)
        for d in written:
            if is_complete(spec, prof.get(d), games[d], skipped.get(d, 0)):
                result.dates_filled.append(d)
            else:
                result.dates_incomplete.append(d)
    result.seconds = time.perf_counter() - started
    for fn in list(_listeners):
        fn(result)
    if result.dates_failed:
        # The good dates are written; the chunk fails all the same, naming its bad dates.
        failed = [DateError(d, *e.split(": ", 1)) for d, e in result.dates_failed.items()]
        raise DatesFailed(spec.name, dates[0], dates[-1], failed, result.as_dict())
    if producer is not None and producer.external and result.dates_incomplete:
        # A processor's exit code is no evidence: dates it left incomplete fail the chunk.
        raise ProducerIncomplete(spec.name, dates[0], dates[-1], result.dates_incomplete)
    return result


__all__ = [
    "ChunkResult",
    "add_listener",
    "chunk_jobs",
    "chunk_span",
    "dml_rate_limit_name",
    "forget_stop",
    "launch_stopped",
    "narrow_budget",
    "remove_listener",
    "run_chunk",
    "stop_launching",
    "write_limit_name",
    "write_slot",
]
