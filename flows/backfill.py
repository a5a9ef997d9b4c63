"""The backfill flow: plan → Phase 3 → gate → Phase 4 groups → validate → summarise.

Reads top-down like the runbook it replaces: the flow is one call per step, each step is a
short function below it, details live in the core. How the phases run is chosen once, at the
start: in this process (``flows/phases.py``, the default) or, with ``fan_out``, each table as
its own ``backfill-table`` deployment run (``flows/fanout.py``; on Cloud Run: its own
container).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows import hooks, names
from flows.fanout import FanOut
from flows.phases import Execution, InProcess
from nba_backfill.errors import BackfillFailed, GateFailed, UsageError
from nba_backfill.notify import one_line
from nba_backfill.params import RunParams, parse_bool, resolve_params
from nba_backfill.planner import Plan, Selection
from nba_backfill.report import summary_markdown
from nba_backfill.rerun import GATE_TAG, failed_dates
from nba_backfill.summary import RunSummary
from tasks import common
from tasks.cost import add_estimate
from tasks.history import read_failed_runs, read_resume_plan
from tasks.planning import plan_backfill
from tasks.runlock import run_lock
from tasks.validation import validate_phase


@flow(
    name="backfill",
    flow_run_name=names.backfill_run_name,  # the resolved dates, not the raw parameters
    on_completion=[hooks.backfill_finished],
    on_failure=[hooks.backfill_finished],
    on_crashed=[hooks.run_crashed],
    on_cancellation=[hooks.close_children],
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
    mode: str | None = None,
    dates: list[str] | None = None,
    downstream: bool = True,
    resume_from: str | None = None,
) -> dict[str, Any]:
    """Fill every missing or incomplete (table, date) of ``[start, end]``: Phase 3, the gate,
    then the Phase 4 groups in order, then Phase 4 validation and ML readiness.
    ``fan_out`` runs each table as its own ``backfill-table`` deployment run. ``mode``
    (``params.MODES``; ``dates`` for mode dates) picks other dates to write, and with
    ``downstream`` the dates whose windows read them (docs/operating.md). ``resume_from``
    (a flow run's id or name) runs that run's parameters instead, on what it left unfilled
    (``nba_backfill/resume.py``).

    Returns the run summary (``RunSummary.as_dict``); a run that does not complete raises
    ``BackfillFailed`` carrying it (the Slack hooks read it from either)."""
    logger = get_run_logger()
    started = time.monotonic()
    params = resolve_params(
        common.settings(),
        start,
        end,
        tables,
        chunk_days,
        max_concurrency,
        skip_phase4,
        mode,
        dates,
        downstream,
    )
    if resume_from:  # that run's parameters, and what it left unfilled
        params, select = read_resume_plan(resume_from)
    else:
        select = choose_selection(params)
    execution = choose_execution(params, fan_out, select)
    # One run at a time per warehouse (tasks/runlock.py): a second one refuses, naming this
    # one, or waits (NBA_BACKFILL_RUN__LOCK_WAIT_SECONDS); a killed holder needs no clean-up.
    with run_lock(common.settings(), f"backfill {params.start}..{params.end}"):
        summary = RunSummary(params.start, params.end)
        try:
            plan = plan_phase3(params, summary, select)
            if plan is not None:  # no Phase 3 table asked for
                execution.phase3(plan, summary)
            gate_phase3(params, summary)
            if params.to_phase4:
                execution.phase4(summary)
                validate_phase4(params, summary)
        except GateFailed as exc:
            summary.gate_problems = {t: list(p) for t, p in exc.problems.items()}
            summary.reason = f"{exc} — Phase 4 not started"
        except BaseException as exc:
            summary.reason = f"{type(exc).__name__}: {one_line(str(exc), 300)}"
            raise
        finally:
            data = summarise(summary, time.monotonic() - started)
            common.end_of_run()
        if data["status"] != "Completed":
            logger.error(summary.reason)
            raise BackfillFailed(summary.reason or "backfill failed", summary=data)
        logger.info("backfill %s..%s completed: %s", params.start, params.end, data["tables"])
        return data


# --- the steps, in the flow's order -----------------------------------------------------------
def choose_selection(params: RunParams) -> Selection | None:
    """The dates a reprocess mode asks for, fixed once at the start (mode failed reads the
    failed runs of the rerun look-back now: the groups after Phase 3 plan the same dates)."""
    failed = None
    if params.mode == "failed":
        s = common.settings()
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=s.prefect.rerun_lookback_days)
        runs = read_failed_runs(since)
        failed = failed_dates(common.warehouse(), runs, params.start, params.end)
    return Selection.of(params, failed)


def choose_execution(
    params: RunParams, fan_out: bool | str, select: Selection | None = None
) -> Execution:
    """In this process (the default), or one ``backfill-table`` deployment run per table when
    ``fan_out`` (a bool, or its JSON/CLI spelling; anything else is a UsageError). Fan-out
    runs mode missing only: its children plan their own table."""
    if parse_bool(fan_out, "fan_out"):
        if select is not None:
            raise UsageError(f"fan_out runs mode missing only, not mode {params.mode}")
        return FanOut(params)
    return InProcess(params, select)


def plan_phase3(
    params: RunParams, summary: RunSummary, select: Selection | None = None
) -> Plan | None:
    """The Phase 3 plan (coverage before goes into ``summary``); None when the run asks for no
    Phase 3 table."""
    tables = params.phase_tables(3)
    if not tables:
        return None
    if select is not None:  # the selection is of the run's tables (downstream ones follow)
        tables = params.tables  # type: ignore[assignment]
    plan = plan_backfill(
        params.start, params.end, tables, params.chunk_days, phases=(3,), select=select
    )
    summary.add_plan(plan)
    add_estimate(summary, plan)
    return plan


def gate_phase3(params: RunParams, summary: RunSummary) -> None:
    """Validate Phase 3 over the run's range. When the run goes on to Phase 4, every Phase 3
    table is checked (Phase 4 reads them) and a table below its threshold raises GateFailed
    (naming what is missing): Phase 4 never starts. A run without Phase 4 (``skip_phase4``,
    or only Phase 3 tables asked for) checks the Phase 3 tables it filled and does not raise
    (a rerun reads from the task run, tagged ``gate:phase3``, whether Phase 4 was blocked,
    and it was not: it was not asked for); a failing check still fails the run
    (``RunSummary.conclude``)."""
    tables = params.gate_tables()
    if tables == []:  # no Phase 3 table and no Phase 4: nothing of Phase 3 to check
        return
    gate = validate_phase.with_options(tags=[GATE_TAG])
    summary.add_validation(gate(3, params.start, params.end, tables, gate=params.to_phase4))


def validate_phase4(params: RunParams, summary: RunSummary) -> None:
    """Validate the run's Phase 4 tables and ML readiness; never raised here, a failure fails
    the run when it closes (``RunSummary.conclude``)."""
    summary.add_validation(
        validate_phase(4, params.start, params.end, params.phase_tables(4), gate=False)
    )


def summarise(summary: RunSummary, seconds: float) -> dict[str, Any]:
    """Close ``summary`` (status, a reason naming the failed chunks, wall time) and publish it
    as the flow run's artifacts: ``backfill-summary``, a table with one row per table (coverage
    before/after, dates filled, skipped, failed), and ``backfill-report``, the markdown report.
    Returns the summary as ``RunSummary.as_dict`` gives it."""
    data = summary.as_dict(summary.conclude(seconds))
    span = f"{data['start']}..{data['end']}"
    create_table_artifact(
        key="backfill-summary",
        table=data["tables"],
        description=f"Backfill {span}: {data['status']}",
    )
    create_markdown_artifact(
        key="backfill-report",
        markdown=summary_markdown(data),
        description=f"Backfill {span}",
    )
    return data
