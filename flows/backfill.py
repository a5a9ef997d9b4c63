"""The backfill flows: plan → Phase 3 → gate → Phase 4 groups → validate → summarise.

Reads top-down like the runbook it replaces; every step is one call, details live in the core.
Phase 3 and the Phase 4 groups run in-process by default; with ``fan_out`` each table runs as
its own ``backfill-table`` deployment run (on Cloud Run: its own container).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.futures import PrefectFuture, as_completed
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from flows import hooks
from nba_backfill.catalog import PHASE4_GROUPS, dependency_waves, downstream_of, get_table
from nba_backfill.errors import BackfillError, BackfillFailed, GateFailed, UsageError
from nba_backfill.notify import one_line
from nba_backfill.params import RunParams, parse_bool, resolve_params
from nba_backfill.planner import Chunk, Plan, Planner
from nba_backfill.report import summary_markdown
from nba_backfill.rerun import GATE_TAG, chunk_tags
from nba_backfill.summary import ChunkOutcome, RunSummary
from tasks import common
from tasks.chunks import fill_chunk
from tasks.planning import plan_backfill
from tasks.runlock import run_lock
from tasks.validation import validate_phase

TABLE_FLOW = "backfill-table"


def _error_class(state: State[Any], fut: PrefectFuture[Any]) -> str | None:
    try:
        exc = fut.result(raise_on_failure=False)
    except Exception:  # a crashed task may not have a result to read
        return state.name
    return type(exc).__name__ if isinstance(exc, BaseException) else state.name


def run_chunks(
    plan: Plan, chunks: list[Chunk], phase: int, progress_key: str
) -> list[ChunkOutcome]:
    """Submit every chunk (upstream chunks first via ``wait_for``), let them run concurrently
    under the flow's task runner, and resolve every future: a failed chunk never stops the
    others, and nothing is left unresolved. Each chunk task run is tagged with its table, phase
    and dates (``nba_backfill.rerun.chunk_tags``): that is how a rerun finds it; its display
    name is for people."""
    futures: dict[str, PrefectFuture[Any]] = {}
    by_future: dict[Any, Chunk] = {}
    for chunk in chunks:  # planner order = dependency order
        ups = [futures[u] for u in plan.upstream.get(chunk.id, []) if u in futures]
        fut = fill_chunk.with_options(
            task_run_name=f"phase{phase} · {chunk.label}",
            tags=chunk_tags(phase, chunk.table, chunk.start, chunk.end),
        ).submit(chunk.table, list(chunk.dates), wait_for=ups)  # type: ignore[call-overload]
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
            outcomes.append(
                ChunkOutcome(
                    chunk, phase, "failed", error=msg, error_class=_error_class(state, fut)
                )
            )
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
def phase4_group(
    params: RunParams, group: int, only: dict[str, list[dt.date]] | None = None
) -> tuple[Plan, list[ChunkOutcome]]:
    """One Phase 4 dependency group, planned when it starts (its inputs were just written).
    ``only`` (table -> dates) narrows it to those dates: a rerun of failed dates."""
    names = [
        t.name
        for t in PHASE4_GROUPS[group - 1]
        if (params.tables is None or t.name in params.tables) and (only is None or t.name in only)
    ]
    if not names:
        return Plan(params.start, params.end, params.chunk_days, {}), []
    plan = plan_backfill(params.start, params.end, names, params.chunk_days, phases=(4,), only=only)
    return plan, run_chunks(plan, plan.phase_chunks(4), 4, f"phase4-g{group}-progress")


def _with_runner(fn: Any, params: RunParams) -> Any:
    return fn.with_options(task_runner=ThreadPoolTaskRunner(max_workers=params.max_concurrency))


# --- fan-out: one deployment run per table ----------------------------------------------------
@flow(
    name=TABLE_FLOW,
    flow_run_name="backfill-table · {table} · {start}..{end}",
    validate_parameters=False,  # resolve_params validates, in one line (nba_backfill.params)
)
def backfill_table(
    table: str,
    start: dt.date,
    end: dt.date,
    chunk_days: int | None = None,
    max_concurrency: int | None = None,
) -> dict[str, Any]:
    """Fill one table's missing dates on ``[start, end]`` (what a fanned-out backfill runs in
    each container). Its inputs are complete: the parent runs tables in dependency waves."""
    spec = get_table(table)
    params = resolve_params(common.settings(), start, end, [spec.name], chunk_days, max_concurrency)
    try:
        if spec.phase == 3:
            plan = plan_backfill(params.start, params.end, [spec.name], params.chunk_days, (3,))
            outcomes = _with_runner(phase3, params)(params, plan)
        else:
            _, outcomes = _with_runner(phase4_group, params)(params, spec.group)
    finally:
        common.end_of_run()
    failed = [o for o in outcomes if o.status != "completed"]
    filled = sum(len((o.report or {}).get("dates_filled", [])) for o in outcomes)
    if failed:
        raise BackfillError(
            f"{len(failed)} chunk(s) failed: " + ", ".join(o.label for o in failed[:10])
        )
    return {"table": spec.name, "dates_filled": filled, "chunks": len(outcomes)}


@task(name="fan-out", task_run_name="fan-out · {table}")
def run_table_deployment(deployment: str, table: str, params: RunParams) -> str:
    """Start ``deployment`` for one table and wait for it; fail when it does not complete."""
    child: FlowRun = run_deployment(  # type: ignore[assignment]
        deployment,
        parameters={
            "table": table,
            "start": params.start.isoformat(),
            "end": params.end.isoformat(),
            "chunk_days": params.chunk_days,
            "max_concurrency": params.max_concurrency,
        },
        timeout=None,
        poll_interval=2,
    )
    state = child.state
    if state is None or not state.is_completed():
        what, why = (state.name, one_line(state.message)) if state else ("no state", "")
        raise BackfillError(f"{child.name} ended {what}: {why}")
    return str(child.name)


def table_deployment() -> str:
    """``backfill-table/<name>``: the deployment of the same variant (cloud-run / local) as the
    running parent, unless ``NBA_BACKFILL_PREFECT__TABLE_DEPLOYMENT`` names one."""
    configured = common.settings().prefect.table_deployment
    if configured:
        return configured
    from prefect.runtime import deployment

    if not deployment.name:
        raise UsageError(
            "fan_out runs tables as deployment runs: start the backfill from its deployment "
            "or set NBA_BACKFILL_PREFECT__TABLE_DEPLOYMENT"
        )
    return f"{TABLE_FLOW}/{deployment.name}"


def fan_out_tables(params: RunParams, plan: Plan, phase: int) -> list[ChunkOutcome]:
    """Run each planned table of ``plan`` as its own deployment run, wave by wave in dependency
    order (a table whose input table failed is not run), then read back from the warehouse
    what each filled (a child's result lives in its own container). The embedded DuckDB file
    takes one writer process at a time, so there the children run one by one and this process
    lets go of the file meanwhile."""
    tables = [name for name, tp in plan.tables.items() if tp.to_fill]
    if not tables:
        return []
    target = table_deployment()
    one_writer = common.settings().warehouse.backend == "duckdb"
    futures: dict[str, PrefectFuture[Any]] = {}
    failed: set[str] = set()
    for wave in dependency_waves(tables):
        for table in wave:
            if any(table in downstream_of(f) for f in failed):
                continue
            if one_writer:
                common.release_warehouse()
            futures[table] = run_table_deployment.submit(target, table, params)
            if one_writer:
                futures[table].wait()
        for table, running in futures.items():
            running.wait()
            if not running.state.is_completed():
                failed.add(table)
    after = Planner(common.warehouse()).plan(
        params.start, params.end, tables, params.chunk_days, phases=(phase,)
    )
    outcomes = []
    for table in tables:
        todo = plan.tables[table].to_fill
        done = after.tables[table].complete
        chunk = Chunk(table, todo[0], todo[-1], tuple(todo))
        fut = futures.get(table)
        if fut is None:
            outcomes.append(
                ChunkOutcome(chunk, phase, "not_run", error="not run: an input table failed")
            )
        elif fut.state.is_completed():
            report = {
                "dates_filled": [d.isoformat() for d in todo if d in done],
                "dates_incomplete": [d.isoformat() for d in todo if d not in done],
            }
            outcomes.append(ChunkOutcome(chunk, phase, "completed", report=report))
        else:
            msg, klass = str(fut.state.message or fut.state.name), _error_class(fut.state, fut)
            outcomes.append(ChunkOutcome(chunk, phase, "failed", error=msg, error_class=klass))
    return outcomes


# --- the parent flow --------------------------------------------------------------------------
@flow(
    name="backfill",
    flow_run_name="backfill · {start}..{end}",
    on_completion=[hooks.backfill_finished],
    on_failure=[hooks.backfill_finished],
    on_crashed=[hooks.run_crashed],
    validate_parameters=False,  # resolve_params validates, in one line (nba_backfill.params)
)
def backfill(
    start: dt.date | None = None,
    end: dt.date | None = None,
    tables: list[str] | None = None,
    chunk_days: int | None = None,
    max_concurrency: int | None = None,
    skip_phase4: bool = False,
    fan_out: bool = False,
) -> dict[str, Any]:
    """Fill every missing or incomplete (table, date) of ``[start, end]``: Phase 3, the gate,
    then the Phase 4 groups in order, then Phase 4 validation and ML readiness.
    ``fan_out`` runs each table as its own ``backfill-table`` deployment run."""
    logger = get_run_logger()
    started = time.monotonic()
    params = resolve_params(
        common.settings(), start, end, tables, chunk_days, max_concurrency, skip_phase4
    )
    fan_out = parse_bool(fan_out, "fan_out")
    # One run at a time per warehouse (tasks/runlock.py): a second one refuses, naming this
    # one, or waits (NBA_BACKFILL_RUN__LOCK_WAIT_SECONDS); a killed holder needs no clean-up.
    with run_lock(common.settings(), f"backfill {params.start}..{params.end}"):
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
                summary.outcomes += (
                    fan_out_tables(params, plan, 3)
                    if fan_out
                    else _with_runner(phase3, params)(params, plan)
                )
            gate = validate_phase.with_options(tags=[GATE_TAG])(
                3, params.start, params.end, gate=not params.skip_phase4
            )
            summary.add_validation(gate)
            if not params.skip_phase4 and params.phase_tables(4):
                if fan_out:
                    p4 = plan_backfill(
                        params.start, params.end, params.phase_tables(4), params.chunk_days, (4,)
                    )
                    summary.add_plan(p4)
                    summary.outcomes += fan_out_tables(params, p4, 4)
                else:
                    for group in range(1, len(PHASE4_GROUPS) + 1):
                        g_plan, outcomes = _with_runner(phase4_group, params)(params, group)
                        summary.add_plan(g_plan)
                        summary.outcomes += outcomes
                summary.add_validation(
                    validate_phase(4, params.start, params.end, params.phase_tables(4), gate=False)
                )
        except GateFailed as exc:
            summary.gate_problems = {t: list(p) for t, p in exc.problems.items()}
            summary.reason = f"{exc} — Phase 4 not started"
        except BaseException as exc:
            summary.reason = f"{type(exc).__name__}: {one_line(str(exc), 300)}"
            raise
        finally:
            if summary.failed:
                failed = f"{len(summary.failed)} chunk(s) failed: " + ", ".join(
                    o.label for o in summary.failed[:10]
                )
                summary.reason = f"{failed}; {summary.reason}" if summary.reason else failed
            if summary.reason:
                status = "Failed"
            summary.seconds = time.monotonic() - started
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
            common.end_of_run()
        if status != "Completed":
            logger.error(summary.reason)
            raise BackfillFailed(summary.reason or "backfill failed", summary=data)
        logger.info("backfill %s..%s completed: %s", params.start, params.end, data["tables"])
        return data
