"""Task: plan the (table, date) pairs to fill."""

from __future__ import annotations

import datetime as dt

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from nba_backfill.planner import Plan, Planner, Selection
from nba_backfill.readiness import ScheduleReads
from tasks import common


# NO_CACHE: a plan reads the warehouse as it is now; Prefect need not hash the inputs.
@task(
    name="plan",
    task_run_name="plan · phase {phases} · {start}..{end}",
    cache_policy=NO_CACHE,
)
def plan_backfill(
    start: dt.date,
    end: dt.date,
    tables: list[str] | None,
    chunk_days: int,
    phases: tuple[int, ...] = (3, 4),
    only: dict[str, list[dt.date]] | None = None,
    select: Selection | None = None,
    among: list[str] | None = None,
    reads: ScheduleReads | None = None,
) -> Plan:
    """Plan ``tables`` on ``[start, end]``; with ``only``, just those dates per table; with
    ``select``, the dates of a reprocess mode (``among``: of those tables only); ``reads``, an
    earlier plan's schedule reads of the same run, taken instead of reading them again."""
    plan = Planner(common.warehouse()).plan(
        start,
        end,
        tables,
        chunk_days,
        phases=phases,
        only=only,
        select=select,
        among=among,
        reads=reads,
    )
    logger = get_run_logger()
    for tp in plan.tables.values():
        logger.info(
            "%s: %d/%d dates complete, %d to fill in %d chunks, %d skipped",
            tp.table,
            len(tp.complete_dates),
            len(tp.expected),
            len(tp.to_fill),
            len(tp.chunks),
            len(tp.skipped),
        )
    return plan
