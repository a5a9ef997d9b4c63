"""Task: fill one chunk (table, date range). A decorator and a call into the core."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from contextlib import AbstractContextManager, nullcontext

from prefect import get_client, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency, rate_limit
from prefect.context import get_run_context
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from prefect.states import Cancelled, State

from nba_backfill.budget import OverBudget, active_budget, chunk_estimate
from nba_backfill.catalog import TABLES
from nba_backfill.errors import BackfillError, is_transient
from nba_backfill.limiter import DmlLimiter, shared_limiter
from nba_backfill.readiness import ScheduleReads
from nba_backfill.retry import RetryEvent
from nba_backfill.runner import (
    WriteGuard,
    dml_rate_limit_name,
    launch_stopped,
    run_chunk,
    stop_launching,
    write_limit_name,
)
from nba_backfill.settings import Settings
from tasks import common

log = logging.getLogger("nba_backfill")

JOBS_LIMIT = "nba-backfill-jobs"


def write_limits(table: str) -> list[str]:
    """The Prefect global concurrency limits a write to ``table`` takes a slot of: the table's
    own (``nba-backfill-writes:<dataset.table>``; BigQuery runs few DML statements on one table at
    once and fails or queues the rest) and ``nba-backfill-jobs`` (every nba-backfill write job,
    all tables). They span every process and container. ``nba-backfill setup`` creates the
    per-table ones; ``nba-backfill-jobs`` is created by hand (``prefect gcl create``)."""
    return [write_limit_name(table), JOBS_LIMIT]


def write_guard(settings: Settings) -> WriteGuard | None:
    """What ``run_chunk`` holds around each write attempt: on BigQuery, a slot of each of the
    write's global concurrency limits that exists. None on DuckDB: one process owns the file,
    ``runner.write_slot`` already limits its writers, and a Prefect slot costs 0.05-2.5 s per
    write (measured with Prefect 3.9.1 on a local server: the test slice took 41-48 s instead
    of 8-9 s with the limits present) — noise next to a BigQuery job, not next to DuckDB."""
    return _write_limit if settings.warehouse.backend == "bigquery" else None


def dml_limiter(settings: Settings) -> DmlLimiter | None:
    """The process's DML limiter on BigQuery (its per-table limits and conflict backoff are
    BigQuery's); None on DuckDB, where ``runner.write_slot`` and the retry policy suffice."""
    return shared_limiter(settings.dml) if settings.warehouse.backend == "bigquery" else None


def _write_limit(table: str) -> AbstractContextManager[object]:
    rate = dml_rate_limit_name(table)
    if _limit_exists(rate):
        # BigQuery's 25 DML statements per 10 s per table, across every process: a slot of
        # the table's rate limit (slots decay, none is given back) before each statement.
        rate_limit(rate, occupy=1, strict=False)
    names = [n for n in write_limits(table) if _limit_exists(n)]
    if not names:
        return nullcontext()
    # strict=False and no cancel on a failed lease renewal: a Prefect API hiccup while a
    # BigQuery job runs must not kill the task mid-write (the job would go on without it); a
    # lease that is not renewed expires and frees its slot by itself.
    return concurrency(names, occupy=1, strict=False, raise_on_lease_renewal_failure=False)


_limits_seen: dict[str, bool] = {}
_limits_lock = threading.Lock()


def _limit_exists(name: str) -> bool:
    """Whether the global concurrency limit ``name`` exists, asked once per process (under a
    lock: concurrent chunks ask at once): for a missing limit Prefect would make a round trip
    and log a warning on every write."""
    with _limits_lock:
        if name not in _limits_seen:
            _limits_seen[name] = _read_limit(name)
        return _limits_seen[name]


def _read_limit(name: str) -> bool:
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            how = (
                f"`prefect gcl create {name} --limit N` creates it"
                if name == JOBS_LIMIT
                else "`nba-backfill setup` creates it"
            )
            log.warning(
                "Prefect global concurrency limit %r does not exist (%s): writes are limited "
                "by this process only",
                name,
                how,
            )
            return False
    return True


def forget_limits() -> None:
    """Ask the Prefect server again which limits exist (after creating or deleting one)."""
    with _limits_lock:
        _limits_seen.clear()


# NO_CACHE: a write is never skipped for a cached result, and Prefect need not hash the
# task's inputs and source nor look its key up in the result store on every chunk.
@task(name="fill-chunk", retries=0, cache_policy=NO_CACHE)
def fill_chunk(
    table: str,
    dates: list[dt.date],
    fail_fast: bool = False,
    reads: ScheduleReads | None = None,
    settled: dict[str, list[dt.date]] | None = None,
) -> dict[str, object] | State[None]:
    """Replace ``table`` on the chunk's dates; return the chunk report (dates filled / blocked /
    incomplete, rows, retries). Retries happen inside, under the shared tenacity policy.
    ``fail_fast``: a permanent failure stops the run's chunks not yet started, which end
    Cancelled (not run) with its reason; those running finish. ``reads``: the schedule and
    the games missing inputs the plan read, this chunk's slice (``runner.run_chunk``).
    ``settled``: the complete dates of the required inputs the plan settled (``Plan.settled_for``),
    not read again."""
    logger = get_run_logger()
    run = str(flow_run.root_flow_run_id)
    if fail_fast and (why := launch_stopped(run)):
        return Cancelled(message=f"not run: {why}")
    s = common.settings()
    ctx = get_run_context()
    flow_run_id = str(getattr(getattr(ctx, "task_run", None), "flow_run_id", "") or "")

    def on_retry(ev: RetryEvent) -> None:
        logger.warning(
            "%s %s..%s: attempt %d failed (%s); retrying in %.1fs",
            table,
            dates[0],
            dates[-1],
            ev.attempt,
            ev.reason,
            ev.wait_seconds,
        )

    def on_output(stream: str, line: str) -> None:
        # The processor's own lines, one log record each: the Prefect UI keeps them with the
        # task run (no log files to find later); stderr at warning level.
        level = logging.INFO if stream == "stdout" else logging.WARNING
        logger.log(level, "%s | %s", stream, line)

    budget = active_budget()
    label = f"{table} {dates[0]}..{dates[-1]}"
    if budget is not None:
        estimate = chunk_estimate(common.warehouse(), TABLES[table], dates[0], dates[-1])
        try:
            budget.admit(label, estimate)
        except OverBudget as exc:
            logger.warning("%s: %s", label, exc)
            raise
    billed: int | None = None
    try:
        result = run_chunk(
            common.warehouse(),
            table,
            dates,
            s.retry,
            per_table_limit=s.writes_per_table(),
            labels={"flow_run_id": flow_run_id},
            on_retry=on_retry,
            write_guard=write_guard(s),
            producer=s.producer(table),
            on_output=on_output,
            limiter=dml_limiter(s),
            reads=reads,
            settled=settled,
        )
    except Exception as exc:
        kind = "transient, retries exhausted" if is_transient(exc) else "permanent"
        logger.error(
            "%s %s..%s failed (%s): %s", table, dates[0], dates[-1], kind, str(exc).splitlines()[0]
        )
        if fail_fast and kind == "permanent":  # before this thread takes the next chunk
            stop_launching(run, f"--fail-fast after {table} {dates[0]}..{dates[-1]} failed")
        if isinstance(exc, BackfillError):
            raise
        raise BackfillError(f"{table} {dates[0]}..{dates[-1]}: {exc}") from exc
    else:
        billed = result.cost.bytes_billed if result.cost is not None else None
    finally:
        if budget is not None:
            budget.settle(label, billed)
    logger.info(
        "%s %s..%s: %d dates filled, %d rows, %d blocked, %d incomplete",
        table,
        dates[0],
        dates[-1],
        len(result.dates_filled),
        result.rows_written,
        len(result.dates_blocked),
        len(result.dates_incomplete),
    )
    return result.as_dict()
