"""Process-wide handles the tasks share: settings and the shared warehouse."""

from __future__ import annotations

from typing import Any

from nba_backfill.settings import Settings, get_settings
from nba_backfill.warehouse import Warehouse, close_shared, shared_warehouse
from nba_backfill.warehouse.base import set_run_labels

# The job label naming the flow run whose process started a BigQuery job (the backfill, a
# fanned-out backfill-table, a rerun): a cancellation or crash of that run cancels its jobs.
RUN_LABEL = "backfill_run_id"


def settings() -> Settings:
    return get_settings()


def warehouse() -> Warehouse:
    return shared_warehouse()


def release_warehouse() -> None:
    """Close the shared warehouse (the next :func:`warehouse` call opens it again): the
    embedded DuckDB file takes one writer process at a time."""
    close_shared()


def end_of_run() -> None:
    """At the end of a deployment run's work, before its final state is reported, let go of
    the warehouse, so whoever reacts to that state (a parent waiting on this run, the next
    run) can open it. In-process callers (the CLI, tests) keep their handle."""
    from prefect.runtime import deployment

    set_run_labels({})  # the next run in this process labels its own jobs
    if deployment.id:
        close_shared()


def label_jobs() -> None:
    """From now on, every warehouse job this process starts carries the running flow run's id
    (:data:`RUN_LABEL`), reads as well as writes."""
    from prefect.runtime import flow_run

    set_run_labels({RUN_LABEL: str(flow_run.id)} if flow_run.id else {})


def cancel_jobs(flow_run_id: Any) -> list[str]:
    """Cancel the warehouse jobs still pending or running that ``flow_run_id``'s process
    started (BigQuery; none on DuckDB); their ids."""
    if settings().warehouse.backend != "bigquery":
        # No jobs to cancel, and opening the file here would take it: a worker running the
        # hook would hold it from the next run.
        return []
    return warehouse().cancel_jobs({RUN_LABEL: str(flow_run_id)})


def close_descendants(flow_run_id: Any, message: str, *, cancelled: bool = False) -> list[str]:
    """Put every run ``flow_run_id`` left unfinished — the subflows below it (and theirs), and
    the task runs of it and of them — into a final state: Crashed, or Cancelled when the run
    was cancelled. An interrupted parent (a double Ctrl-C, a killed process) otherwise leaves a
    subflow it had just created Pending forever in the UI. Returns the names of the runs it
    closed; runs already final are left as they are."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )
    from prefect.states import Cancelled, Crashed

    final = Cancelled if cancelled else Crashed
    closed: list[str] = []
    with get_client(sync_client=True) as client:
        flow_runs: list[Any] = []
        frontier = [flow_run_id]
        while frontier:
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=frontier)
                )
            )
            flow_runs += children
            frontier = [c.id for c in children]
        owners = [flow_run_id, *(f.id for f in flow_runs)]
        task_runs: list[Any] = []
        while True:  # the API serves at most 200 a page
            page = client.read_task_runs(
                task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=owners)),
                limit=200,
                offset=len(task_runs),
            )
            task_runs += page
            if len(page) < 200:
                break
        for tr in task_runs:
            if tr.state is None or not tr.state.is_final():
                client.set_task_run_state(tr.id, final(message=message), force=True)
                closed.append(tr.name)
        for fr in reversed(flow_runs):  # the deepest first
            if fr.state is None or not fr.state.is_final():
                client.set_flow_run_state(fr.id, final(message=message), force=True)
                closed.append(fr.name)
    return closed
