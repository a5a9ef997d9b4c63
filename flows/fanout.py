"""Fan-out: a backfill runs each table as its own ``backfill-table`` deployment run (on Cloud
Run: its own container), wave by wave in dependency order.

:class:`FanOut` is the parent's side (``backfill(fan_out=True)``); :func:`backfill_table` is the
flow each child runs: the same Phase 3 / Phase 4-group subflows as an in-process backfill, for
one table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from prefect import flow, task
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.futures import PrefectFuture

from flows import hooks, names
from flows.phases import error_class, phase3, phase4_group, with_runner
from nba_backfill.catalog import dependency_waves, downstream_of, get_table
from nba_backfill.errors import BackfillError, UsageError
from nba_backfill.notify import one_line
from nba_backfill.params import RunParams, resolve_params
from nba_backfill.planner import Chunk, Plan, Planner
from nba_backfill.readiness import ScheduleReads
from nba_backfill.summary import ChunkOutcome, RunSummary
from tasks import common
from tasks.cost import add_estimate
from tasks.planning import plan_backfill

TABLE_FLOW = "backfill-table"


@dataclass(frozen=True)
class FanOut:
    """Phase 3, then all of Phase 4, one deployment run per planned table."""

    params: RunParams

    def phase3(self, plan: Plan, summary: RunSummary) -> None:
        summary.outcomes += fan_out_tables(self.params, plan, 3)

    def phase4(
        self,
        summary: RunSummary,
        hold: dict[str, dict[dt.date, str]] | None = None,
        reads: ScheduleReads | None = None,
    ) -> ScheduleReads | None:
        # ``hold`` stays empty: a fan-out run gates by table (flows/backfill.per_date). Its
        # children, in their own containers, read the schedule themselves.
        p = self.params
        plan = plan_backfill(p.start, p.end, p.phase_tables(4), p.chunk_days, (4,), reads=reads)
        summary.add_plan(plan)
        add_estimate(summary, plan)
        summary.outcomes += fan_out_tables(p, plan, 4)
        return plan.reads or reads


@flow(
    name=TABLE_FLOW,
    flow_run_name=names.table_run_name,
    on_crashed=[hooks.close_children],
    on_cancellation=[hooks.close_children],
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
    common.label_jobs()  # its BigQuery jobs carry its id: a cancellation finds them
    params = resolve_params(common.settings(), start, end, [spec.name], chunk_days, max_concurrency)
    try:
        if spec.phase == 3:
            plan = plan_backfill(params.start, params.end, [spec.name], params.chunk_days, (3,))
            outcomes = with_runner(phase3, params)(params, plan)
        else:
            _, outcomes = with_runner(phase4_group, params)(params, spec.group)
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
            msg, klass = str(fut.state.message or fut.state.name), error_class(fut.state, fut)
            outcomes.append(ChunkOutcome(chunk, phase, "failed", error=msg, error_class=klass))
    return outcomes
