"""The backfill flows: plan → Phase 3 → gate → Phase 4 groups → validate → summarise.

Reads top-down like the runbook it replaces; every step is one call, details live in the core.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from nba_backfill.catalog import PHASE4_GROUPS
from nba_backfill.errors import BackfillError, GateFailed
from nba_backfill.params import RunParams, resolve_params
from nba_backfill.planner import Chunk, Plan
from nba_backfill.report import summary_markdown
from nba_backfill.summary import ChunkOutcome, RunSummary
from tasks import common
from tasks.chunks import fill_chunk
from tasks.planning import plan_backfill
from tasks.validation import validate_phase


def run_chunks(
    plan: Plan, chunks: list[Chunk], phase: int, progress_key: str
) -> list[ChunkOutcome]:
    """Submit every chunk (upstream chunks first via ``wait_for``), let them run concurrently
    under the flow's task runner, and resolve every future: a failed chunk never stops the
    others, and nothing is left unresolved."""
    futures: dict[str, PrefectFuture[Any]] = {}
    by_future: dict[Any, Chunk] = {}
    for chunk in chunks:  # planner order = dependency order
        ups = [futures[u] for u in plan.upstream.get(chunk.id, []) if u in futures]
        fut = fill_chunk.with_options(task_run_name=f"phase{phase} · {chunk.label}").submit(
            chunk.table, list(chunk.dates), wait_for=ups
        )  # type: ignore[call-overload]
        futures[chunk.id] = fut
        by_future[fut.task_run_id] = chunk
    progress_id = create_progress_artifact(
        progress=0.0, key=progress_key, description=f"Phase {phase} chunks finished (%)"
    )
    outcomes: list[ChunkOutcome] = []
    for n, fut in enumerate(as_completed(list(futures.values())), start=1):
        chunk = by_future[fut.task_run_id]
        state = fut.state
        if state.name != "NotReady":  # as_completed can yield before the final state lands
            fut.wait()
            state = fut.state
        if state.is_completed():
            outcomes.append(ChunkOutcome(chunk, phase, "completed", report=fut.result()))
        elif state.is_failed() or state.is_crashed():
            msg = str(state.message or state.name)
            outcomes.append(ChunkOutcome(chunk, phase, "failed", error=msg))
        else:  # an upstream chunk failed, so this one never started
            outcomes.append(
                ChunkOutcome(chunk, phase, "not_run", error="not run: an upstream chunk failed")
            )
        if progress_id is not None:
            update_progress_artifact(progress_id, 100.0 * n / max(1, len(futures)))  # type: ignore[arg-type]
    return outcomes


@flow(name="phase3", flow_run_name="phase3 · {params.start}..{params.end}")
def phase3(params: RunParams, plan: Plan) -> list[ChunkOutcome]:
    """Phase 3: per-table × per-chunk tasks, concurrent, dependency-ordered."""
    return run_chunks(plan, plan.phase_chunks(3), 3, "phase3-progress")


@flow(name="phase4-group", flow_run_name="phase4 · g{group} · {params.start}..{params.end}")
def phase4_group(params: RunParams, group: int) -> tuple[Plan, list[ChunkOutcome]]:
    """One Phase 4 dependency group, planned when it starts (its inputs were just written)."""
    names = [
        t.name for t in PHASE4_GROUPS[group - 1] if params.tables is None or t.name in params.tables
    ]
    if not names:
        return Plan(params.start, params.end, params.chunk_days, {}), []
    plan = plan_backfill(params.start, params.end, names, params.chunk_days, phases=(4,))
    return plan, run_chunks(plan, plan.phase_chunks(4), 4, f"phase4-g{group}-progress")


def _with_runner(fn: Any, params: RunParams) -> Any:
    return fn.with_options(task_runner=ThreadPoolTaskRunner(max_workers=params.max_concurrency))


@flow(name="backfill", flow_run_name="backfill · {start}..{end}")
def backfill(
    start: dt.date | None = None,
    end: dt.date | None = None,
    tables: list[str] | None = None,
    chunk_days: int | None = None,
    max_concurrency: int | None = None,
    skip_phase4: bool = False,
) -> dict[str, Any]:
    """Fill every missing or incomplete (table, date) of ``[start, end]``: Phase 3, the gate,
    then the Phase 4 groups in order, then Phase 4 validation and ML readiness."""
    logger = get_run_logger()
    params = resolve_params(
        common.settings(), start, end, tables, chunk_days, max_concurrency, skip_phase4
    )
    summary = RunSummary(params.start, params.end)
    status = "Completed"
    try:
        plan = (
            plan_backfill(
                params.start, params.end, params.phase_tables(3), params.chunk_days, phases=(3,)
            )
            if params.phase_tables(3)
            else None
        )
        if plan is not None:
            summary.add_plan(plan)
            summary.outcomes += _with_runner(phase3, params)(params, plan)
        gate = validate_phase(3, params.start, params.end, gate=not params.skip_phase4)
        summary.add_validation(gate)
        if not params.skip_phase4 and params.phase_tables(4):
            for group in range(1, len(PHASE4_GROUPS) + 1):
                g_plan, outcomes = _with_runner(phase4_group, params)(params, group)
                summary.add_plan(g_plan)
                summary.outcomes += outcomes
            summary.add_validation(
                validate_phase(4, params.start, params.end, params.phase_tables(4), gate=False)
            )
        if summary.failed:
            status = "Failed"
            summary.reason = f"{len(summary.failed)} chunk(s) failed: " + ", ".join(
                o.label for o in summary.failed[:10]
            )
    except GateFailed as exc:
        status = "Failed"
        summary.reason = f"{exc} — Phase 4 not started"
    finally:
        data = summary.as_dict(status)
        create_table_artifact(
            key="backfill-summary",
            table=data["tables"],
            description=f"Backfill {params.start}..{params.end}: {status}",
        )
        create_markdown_artifact(
            key="backfill-report",
            markdown=summary_markdown(data),
            description=f"Backfill {params.start}..{params.end}",
        )
    if status != "Completed":
        logger.error(summary.reason)
        raise BackfillError(summary.reason or "backfill failed")
    logger.info("backfill %s..%s completed: %s", params.start, params.end, data["tables"])
    return data
