"""Task: the plan's BigQuery cost estimate, kept in the run summary next to what the writes
actually cost (issue 17: estimated vs actual per table)."""

from __future__ import annotations

from prefect import get_run_logger, task

from nba_backfill.estimate import PlanEstimate, estimate_plan
from nba_backfill.planner import Plan
from nba_backfill.summary import RunSummary
from tasks import common


@task(name="estimate", task_run_name="estimate · {start}..{end}")
def estimate_cost(plan: Plan, start: str, end: str) -> PlanEstimate:
    """Per table, the bytes ``plan``'s chunks would process (free dry runs)."""
    return estimate_plan(common.warehouse(), plan)


def add_estimate(summary: RunSummary, plan: Plan) -> None:
    """Record ``plan``'s estimate in ``summary``. BigQuery only: DuckDB bills nothing per
    query, so no task run is spent on it. The estimate only informs the report: a failure to
    get one is logged and the run goes on."""
    if common.settings().warehouse.backend != "bigquery" or not plan.chunks:
        return
    try:
        summary.add_estimate(estimate_cost(plan, plan.start.isoformat(), plan.end.isoformat()))
    except Exception as exc:  # informational only; the writes' actual cost is still reported
        get_run_logger().warning("no cost estimate for the summary: %s", exc)
