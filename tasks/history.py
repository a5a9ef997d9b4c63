"""Task: read from Prefect's run history which recent backfill runs failed and where.

A backfill run's chunk task runs live in its subflows (``phase3``, ``phase4-group``) or, when it
fanned out, in the subflows of its ``backfill-table`` children: descendants are read down to
three levels. Task runs carry no parameter values in Prefect, so a chunk is known by the tags
it was submitted with, ``table:<dataset.table>``, ``phase:<3|4>``, ``dates:<start>..<end>``
(``nba_backfill.rerun.parse_chunk_tags``), and the gate by ``gate:phase3``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from prefect import get_client, get_run_logger, task
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType, TaskRun
from prefect.client.schemas.sorting import FlowRunSort

from nba_backfill.errors import UsageError
from nba_backfill.params import resolve_params
from nba_backfill.rerun import GATE_TAG, FailedRun, parse_chunk_tags
from tasks import common

BACKFILL_FLOW = "backfill"
PAGE = 200
DEPTH = 3


def _page(read: Any, **kwargs: Any) -> list[Any]:
    out: list[Any] = []
    while True:
        batch = read(limit=PAGE, offset=len(out), **kwargs)
        out += batch
        if len(batch) < PAGE:
            return out


def _descendants(client: Any, run_id: UUID) -> list[UUID]:
    ids, frontier = [run_id], [run_id]
    for _ in range(DEPTH):
        children: list[FlowRun] = _page(
            client.read_flow_runs,
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=frontier)
            ),
        )
        frontier = [c.id for c in children]
        if not frontier:
            break
        ids += frontier
    return ids


def _as_failed_run(run: FlowRun, task_runs: list[TaskRun]) -> FailedRun:
    p = run.parameters or {}
    params = resolve_params(
        common.settings(), p.get("start"), p.get("end"), p.get("tables"), p.get("chunk_days")
    )
    unfinished = [
        ref
        for tr in task_runs
        if tr.state_type != StateType.COMPLETED and (ref := parse_chunk_tags(tr.tags))
    ]
    chunks_seen = any(parse_chunk_tags(tr.tags) for tr in task_runs)
    gate = any(GATE_TAG in tr.tags and tr.state_type == StateType.FAILED for tr in task_runs)
    return FailedRun(
        id=str(run.id),
        name=run.name,
        start=params.start,
        end=params.end,
        tables=params.tables,
        skip_phase4=bool(p.get("skip_phase4", False)),
        unfinished=unfinished,
        gate_blocked=gate,
        # A crash, or a failure before any chunk ran, leaves no record of what was left:
        # everything of its range that is still missing is the rerun's.
        whole_range=run.state_type == StateType.CRASHED or not (chunks_seen or gate),
    )


@task(name="read-failed-runs", task_run_name="read failed backfill runs")
def read_failed_runs(since: dt.datetime) -> list[FailedRun]:
    """The ``backfill`` runs started after ``since`` that ended Failed or Crashed, each with
    its unfinished chunks and whether its gate blocked Phase 4."""
    logger = get_run_logger()
    out: list[FailedRun] = []
    with get_client(sync_client=True) as client:
        runs: list[FlowRun] = _page(
            client.read_flow_runs,
            flow_filter=FlowFilter(name=FlowFilterName(any_=[BACKFILL_FLOW])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.FAILED, StateType.CRASHED])
                ),
                start_time=FlowRunFilterStartTime(after_=since),
            ),
            sort=FlowRunSort.START_TIME_DESC,
        )
        for run in runs:
            task_runs: list[TaskRun] = _page(
                client.read_task_runs,
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=_descendants(client, run.id))
                ),
            )
            try:
                failed = _as_failed_run(run, task_runs)
            except UsageError as exc:  # parameters that no longer resolve (range, table)
                logger.warning("skipping %s: %s", run.name, exc)
                continue
            logger.info(
                "%s (%s): %d unfinished chunk(s)%s%s",
                run.name,
                run.state_name,
                len(failed.unfinished),
                ", gate blocked Phase 4" if failed.gate_blocked else "",
                ", whole range (no chunk record)" if failed.whole_range else "",
            )
            out.append(failed)
    return out
