"""Read from Prefect's run history which recent backfill runs failed and where, and what a
run left unfilled (``resume``).

The client queries are plain functions, called by the CLI under the API it configured
(``cli/local_server.py``) and wrapped as tasks for the flows: a task called outside a flow
would start Prefect's temporary server.

A backfill run's chunk task runs live in its subflows (``phase3``, ``phase4-group``) or, when it
fanned out, in the subflows of its ``backfill-table`` children: descendants are read down to
three levels. Task runs carry no parameter values in Prefect, so a chunk is known by the name
it was submitted with, ``phase<3|4> · <table> · <start>..<end>`` (or, for runs made before
chunks were named, its tags ``table:``, ``phase:``, ``dates:``;
``nba_backfill.rerun.parse_chunk_run``), and the gate by its tag ``gate:phase3``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from uuid import UUID

from prefect import get_client, get_run_logger, task
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterName,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun, StateType, TaskRun
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectNotFound

from nba_backfill.errors import UsageError
from nba_backfill.params import RunParams, resolve_params
from nba_backfill.planner import Selection
from nba_backfill.rerun import GATE_TAG, ChunkRef, FailedRun, failed_dates, parse_chunk_run
from nba_backfill.resume import ResumeRecord, resume_params, resume_selection
from tasks import common
from tasks.runlock import warehouse_tag

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
        if tr.state_type != StateType.COMPLETED and (ref := parse_chunk_run(tr.name, tr.tags))
    ]
    chunks_seen = any(parse_chunk_run(tr.name, tr.tags) for tr in task_runs)
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


def failed_runs(since: dt.datetime, logger: Any = None) -> list[FailedRun]:
    """The ``backfill`` runs started after ``since`` that ended Failed or Crashed, each with
    its unfinished chunks and whether its gate blocked Phase 4 — those of this settings'
    warehouse only (the tag its run lock gave them: ``tasks.runlock.warehouse_tag``)."""
    logger = logger or logging.getLogger(__name__)
    tag = warehouse_tag(common.settings())
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
                tags=FlowRunFilterTags(all_=[tag]),
            ),
            sort=FlowRunSort.START_TIME_DESC,
        )
        for run in runs:
            task_runs = _task_runs(client, run.id)
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


def _task_runs(client: Any, run_id: UUID) -> list[TaskRun]:
    """The task runs of ``run_id`` and of its subflows (and theirs)."""
    return _page(
        client.read_task_runs,
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=_descendants(client, run_id))),
    )


@task(name="read-failed-runs", task_run_name="read failed backfill runs")
def read_failed_runs(since: dt.datetime) -> list[FailedRun]:
    """:func:`failed_runs`, as a task of the flow calling it (logged to its run)."""
    return failed_runs(since, get_run_logger())


# --- resume -------------------------------------------------------------------------------
RESUME_PARAM = "resume_from"  # the backfill flow's parameter naming the run it resumes
CHAIN = 20  # resumes of resumes followed at most


def _backfill_run(client: Any, ref: str) -> FlowRun:
    """The ``backfill`` flow run ``ref`` names (its id, or its name when one run has it);
    a UsageError otherwise."""
    run: FlowRun | None = None
    try:
        run = client.read_flow_run(UUID(ref.strip()))
    except ValueError:  # not an id: a name
        named: list[FlowRun] = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[BACKFILL_FLOW])),
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[ref.strip()])),
            limit=2,
        )
        if len(named) > 1:
            raise UsageError(f"more than one backfill run is named {ref!r}: give its id") from None
        run = named[0] if named else None
    except ObjectNotFound:
        run = None
    if run is None or client.read_flow(run.flow_id).name != BACKFILL_FLOW:
        raise UsageError(f"no backfill run {ref!r} on this Prefect server")
    return run


def read_resume(ref: str) -> ResumeRecord:
    """The run ``ref`` names, for a resume: the parameters of the run it resumes (the first of
    a chain of resumes) and the chunks that Completed under that run and its resumes."""
    with get_client(sync_client=True) as client:
        asked = _backfill_run(client, ref)
        root = asked
        for _ in range(CHAIN):
            parent = (root.parameters or {}).get(RESUME_PARAM)
            if not parent:
                break
            root = _backfill_run(client, str(parent))
        chain = [root]
        later: list[FlowRun] = _page(
            client.read_flow_runs,
            flow_filter=FlowFilter(name=FlowFilterName(any_=[BACKFILL_FLOW])),
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=root.start_time))
            if root.start_time
            else None,
        )
        ids = {str(root.id)}
        grew = True
        while grew:  # resumes of the root, and of those resumes
            found = [
                r
                for r in later
                if str((r.parameters or {}).get(RESUME_PARAM)) in ids and str(r.id) not in ids
            ]
            grew = bool(found)
            chain += found
            ids |= {str(r.id) for r in found}
        done: list[ChunkRef] = []
        for run in chain:
            for tr in _task_runs(client, run.id):
                ref_ = parse_chunk_run(tr.name, tr.tags)
                if tr.state_type == StateType.COMPLETED and ref_:
                    done.append(ref_)
    return ResumeRecord(
        id=str(asked.id),
        name=asked.name,
        state=asked.state_name or "unknown",
        completed=asked.state_type == StateType.COMPLETED,
        parameters={k: v for k, v in (root.parameters or {}).items() if k != RESUME_PARAM},
        started=root.start_time,
        done=tuple(done),
        runs=tuple(str(r.id) for r in chain),
    )


def resume_plan(
    ref: str, wh: Any, logger: Any = None
) -> tuple[ResumeRecord, RunParams, Selection | None]:
    """What a resume of ``ref`` runs: its record (a UsageError when it Completed), the run's
    parameters, and the selection of what it left unfilled (``nba_backfill.resume``)."""
    logger = logger or logging.getLogger(__name__)
    record = read_resume(ref)
    record.check()
    params = resume_params(common.settings(), record)
    failed = None
    if params.mode == "failed":  # its dates read again, less what the chain itself tried
        s = common.settings()
        since = (record.started or dt.datetime.now(dt.UTC)) - dt.timedelta(
            days=s.prefect.rerun_lookback_days
        )
        others = [r for r in failed_runs(since, logger) if r.id not in record.runs]
        failed = failed_dates(wh, others, params.start, params.end)
    logger.info(
        "resuming %s (%s): %d chunk(s) completed under it",
        record.name,
        record.finished_note,
        len(record.done),
    )
    return record, params, resume_selection(wh, params, record, failed)


@task(name="resume", task_run_name="read the run to resume")
def read_resume_plan(ref: str) -> tuple[RunParams, Selection | None]:
    """:func:`resume_plan`, as a task of the resuming flow: the parameters and selection."""
    _, params, select = resume_plan(ref, common.warehouse(), get_run_logger())
    return params, select
