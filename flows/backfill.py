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

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from prefect.states import Cancelled, State

from flows import hooks, names
from flows.fanout import FanOut
from flows.phases import Execution, InProcess, interrupted_outcomes
from flows.signoff import sign_off
from nba_backfill.budget import RunBudget, parse_bytes, start_budget
from nba_backfill.catalog import PHASE4
from nba_backfill.errors import BackfillFailed, GateFailed, UsageError
from nba_backfill.notify import one_line
from nba_backfill.params import RunParams, parse_bool, resolve_params
from nba_backfill.planner import Plan, Selection
from nba_backfill.readiness import ScheduleReads, held_back
from nba_backfill.report import summary_markdown
from nba_backfill.rerun import GATE_TAG, failed_dates
from nba_backfill.runner import forget_stop, launch_stopped
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
    max_bytes: str | int | None = None,
    fail_fast: bool = False,
    require_signoff: bool | None = None,
    resume_from: str | None = None,
) -> dict[str, Any] | State[Any]:
    """Fill every missing or incomplete (table, date) of ``[start, end]``: Phase 3, the gate,
    then the Phase 4 groups in order, then Phase 4 validation and ML readiness.
    ``fan_out`` runs each table as its own ``backfill-table`` deployment run. ``fail_fast``
    stops launching chunks at the first permanent chunk failure and fails the run. ``mode``
    (``params.MODES``; ``dates`` for mode dates) picks other dates to write, and with
    ``downstream`` the dates whose windows read them (docs/operating.md). ``max_bytes``
    (e.g. ``50GB``; default the setting ``run.max_bytes``) is the run's byte budget: no chunk
    starts once billed + its estimate would exceed it (``nba_backfill/budget.py``).
    ``require_signoff`` (None: ``NBA_BACKFILL_GATE__REQUIRE_SIGNOFF``) pauses after the gate
    until a person signs the Phase 3 checklist off (``flows/signoff.py``); a refusal ends the
    run Cancelled, no answer in time Failed (Prefect's pause timeout), Phase 4 not started
    either way.
    ``resume_from``
    (a flow run's id or name) runs that run's parameters instead, on what it left unfilled
    (``nba_backfill/resume.py``).

    Returns the run summary (``RunSummary.as_dict``); a run that does not complete raises
    ``BackfillFailed`` carrying it (the Slack hooks read it from either)."""
    logger = get_run_logger()
    started = time.monotonic()
    common.label_jobs()  # its BigQuery jobs carry its id: a cancellation finds them
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
        fail_fast,
    )
    if resume_from:  # that run's parameters, and what it left unfilled
        params, select = read_resume_plan(resume_from)
    else:
        select = choose_selection(params)
    execution = choose_execution(params, fan_out, select)
    budget = choose_budget(max_bytes, fan_out)
    # One run at a time per warehouse (tasks/runlock.py): a second one refuses, naming this
    # one, or waits (NBA_BACKFILL_RUN__LOCK_WAIT_SECONDS); a killed holder needs no clean-up.
    with run_lock(common.settings(), f"backfill {params.start}..{params.end}"):
        summary = RunSummary(params.start, params.end)
        try:
            plan = plan_phase3(params, summary, select)
            # The schedule reads of the run's first plan serve its later plans and
            # validations (planner.read_schedule): a BigQuery job start each saved.
            reads = plan.reads if plan is not None else None
            if plan is not None:  # no Phase 3 table asked for
                execution.phase3(plan, summary)
            if not stopped_fast(params, summary):
                failing = gate_phase3(params, summary, per_date(execution), reads)
                if params.to_phase4 and signed_off(require_signoff, summary):
                    reads = execution.phase4(summary, hold_for(params, failing), reads)
                    record_held_back(summary)
                    if not stopped_fast(params, summary):
                        validate_phase4(params, summary, reads)
        except GateFailed as exc:
            summary.gate_problems = {t: list(p) for t, p in exc.problems.items()}
            summary.reason = f"{exc} — Phase 4 not started"
        except BaseException as exc:
            # Interrupted mid-phase: what its chunks did still goes into the summary.
            summary.outcomes += interrupted_outcomes(str(flow_run.root_flow_run_id))
            summary.cancelled = hooks.being_cancelled(flow_run.id)
            if not summary.cancelled:
                summary.reason = f"{type(exc).__name__}: {one_line(str(exc), 300)}"
            raise
        finally:
            over_budget(budget, summary)
            forget_stop(str(flow_run.root_flow_run_id))
            data = summarise(summary, time.monotonic() - started)
            common.end_of_run()
            if summary.cancelled:
                logger.warning(summary.reason)
        if data["status"] == "Cancelled":  # the sign-off refused: not a failure to rerun
            logger.warning(summary.reason)
            return Cancelled(message=summary.reason)
        if data["status"] != "Completed":
            logger.error(summary.reason)
            raise BackfillFailed(summary.reason or "backfill failed", summary=data)
        logger.info("backfill %s..%s completed: %s", params.start, params.end, data["tables"])
        return data


# --- the steps, in the flow's order -----------------------------------------------------------
def stopped_fast(params: RunParams, summary: RunSummary) -> bool:
    """With ``fail_fast``, whether a permanent chunk failure stopped the run: then nothing
    more starts (no gate, no Phase 4) and the summary's reason names the failure."""
    why = launch_stopped(str(flow_run.root_flow_run_id)) if params.fail_fast else None
    if why is not None:
        summary.reason = f"{why}: no chunk started after it"
    return why is not None


def choose_selection(params: RunParams) -> Selection | None:
    """The dates a reprocess mode asks for, fixed once at the start (mode failed reads the
    failed runs of the rerun look-back now, mode stale the write fingerprints: the groups
    after Phase 3 plan the same dates)."""
    failed = None
    if params.mode == "failed":
        s = common.settings()
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=s.prefect.rerun_lookback_days)
        runs = read_failed_runs(since)
        failed = failed_dates(common.warehouse(), runs, params.start, params.end)
    select = Selection.of(params, failed)
    return select.fixed(common.warehouse(), params) if select is not None else None


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


def choose_budget(max_bytes: str | int | None, fan_out: bool | str) -> RunBudget | None:
    """This run's byte budget: ``max_bytes`` (a size such as ``50GB``), else the setting
    ``run.max_bytes``, else none. The chunk tasks of this process check it; fan-out children
    run in their own containers, so a budget with fan_out is refused rather than ignored."""
    limit = parse_bytes(max_bytes) if max_bytes else common.settings().run.max_bytes
    if limit and parse_bool(fan_out, "fan_out"):
        raise UsageError("max_bytes is checked in this process: it cannot bound a fan_out run")
    return start_budget(limit)


def over_budget(budget: RunBudget | None, summary: RunSummary) -> None:
    """Name, in the run's reason, the chunks the budget did not let start (and why)."""
    if budget is None or not budget.refused:
        start_budget(None)
        return
    shown = ", ".join(budget.refused[:10])
    more = f" (+{len(budget.refused) - 10} more)" if len(budget.refused) > 10 else ""
    why = f"over budget: {len(budget.refused)} chunk(s) not run ({shown}{more}): {budget.stopped}"
    summary.reason = f"{summary.reason}; {why}" if summary.reason else why
    start_budget(None)


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


def per_date(execution: Execution) -> bool:
    """Whether the gate holds back Phase 4 date by date (``NBA_BACKFILL_GATE__MODE=date``, the
    default) rather than stopping it whole (``table``). A fan-out run's children plan their
    own tables without the held dates: it gates by table."""
    return common.settings().gate.mode == "date" and isinstance(execution, InProcess)


def gate_phase3(
    params: RunParams,
    summary: RunSummary,
    by_date: bool = False,
    reads: ScheduleReads | None = None,
) -> dict[str, list[dt.date]]:
    """Validate Phase 3 over the run's range. When the run goes on to Phase 4, every Phase 3
    table is checked (Phase 4 reads them) and a table below its threshold raises GateFailed
    (naming what is missing): Phase 4 never starts. A run without Phase 4 (``skip_phase4``,
    or only Phase 3 tables asked for) checks the Phase 3 tables it filled and does not raise
    (a rerun reads from the task run, tagged ``gate:phase3``, whether Phase 4 was blocked,
    and it was not: it was not asked for); a failing check still fails the run
    (``RunSummary.conclude``).

    ``by_date`` (the per-date gate): the 95 % rule stays the verdict — the gate task still
    fails, tagged, so the scheduled rerun puts the run's Phase 4 in scope, and the run fails
    at its end — but Phase 4 goes on. Returns the Phase 3 dates the gate found not complete
    (table -> dates): Phase 4 holds back only the dates whose windows read one of them."""
    tables = params.gate_tables()
    if tables == []:  # no Phase 3 table and no Phase 4: nothing of Phase 3 to check
        return {}
    gate = validate_phase.with_options(tags=[GATE_TAG])
    try:
        report = gate(3, params.start, params.end, tables, gate=params.to_phase4, reads=reads)
    except GateFailed as exc:
        if not by_date or exc.report is None:
            raise
        report = exc.report
    summary.add_validation(report)
    return {t.table: list(t.short_dates) for t in report.tables if t.short_dates}


def signed_off(require_signoff: bool | None, summary: RunSummary) -> bool:
    """Whether Phase 4 may start: no sign-off asked for (the parameter, else the setting), or
    a person approved it. A refusal or a timeout sets the run's reason, with the note."""
    gate = common.settings().gate
    if not (
        gate.require_signoff
        if require_signoff is None
        else parse_bool(require_signoff, "require_signoff")
    ):
        return True
    answer = sign_off(summary, gate.signoff_timeout_seconds)
    if answer["approved"]:
        return True
    who = answer["approver"] or "nobody"
    summary.reason = f"sign-off refused by {who}: {answer['note']} — Phase 4 not started"
    return False


def hold_for(params: RunParams, failing: dict[str, list[dt.date]]) -> dict[str, dict[dt.date, str]]:
    """The Phase 4 dates of the run's range to hold back, with their reasons
    (``readiness.held_back``): the dates whose windows read a ``failing`` Phase 3 date."""
    if not failing:
        return {}
    span = (params.end - params.start).days + 1
    return held_back(PHASE4, [params.start + dt.timedelta(days=n) for n in range(span)], failing)


def record_held_back(summary: RunSummary) -> None:
    """Leave a failed task run tagged ``gate:phase3`` when Phase 4 dates were held back under
    a passing verdict (a few short Phase 3 dates): the scheduled rerun reads that tag and
    refills the run's Phase 4 dates still missing, held-back ones included."""
    if summary.held_back and not summary.check_problems.get(3):
        n = sum(map(len, summary.held_back.values()))
        hold = held_back_task.with_options(tags=[GATE_TAG])
        hold(f"{n} Phase 4 date(s) held back", return_state=True)


@task(name="held-back", task_run_name="phase 4 dates held back by the Phase 3 gate")
def held_back_task(message: str) -> None:
    """A record for the rerun (see :func:`record_held_back`): always fails, naming the count."""
    raise GateFailed(3, {"held back": [message]})


def validate_phase4(
    params: RunParams, summary: RunSummary, reads: ScheduleReads | None = None
) -> None:
    """Validate the run's Phase 4 tables and ML readiness; never raised here, a failure fails
    the run when it closes (``RunSummary.conclude``)."""
    summary.add_validation(
        validate_phase(4, params.start, params.end, params.phase_tables(4), gate=False, reads=reads)
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
