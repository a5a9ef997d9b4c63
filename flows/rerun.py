"""The rerun of failed dates (the runbook's "failed dates re-run by hand"), scheduled daily.

Reads top-down: read the failed runs from Prefect's history → intersect their unfinished work
with what the warehouse still misses → rerun those dates only, Phase 3 then (behind the gate)
Phase 4 in dependency order → re-validate → report what it fixed and what still fails.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows import hooks, names
from flows.phases import phase3, phase4_group, with_runner
from nba_backfill.catalog import PHASE4_GROUPS, TABLES
from nba_backfill.errors import BackfillFailed, GateFailed
from nba_backfill.notify import one_line
from nba_backfill.params import RunParams, resolve_rerun_params
from nba_backfill.planner import Selection, stale_by_fingerprint
from nba_backfill.report import rerun_markdown
from nba_backfill.rerun import (
    FailedRun,
    RerunReport,
    by_phase,
    rerun_scope,
    rerun_targets,
    span,
    still_missing,
)
from nba_backfill.summary import ChunkOutcome
from tasks import common
from tasks.history import read_failed_runs
from tasks.planning import plan_backfill
from tasks.runlock import run_lock
from tasks.validation import validate_phase


@task(name="find-targets", task_run_name="find dates to rerun")
def find_targets(runs: list[FailedRun]) -> dict[str, list[dt.date]]:
    """The failed runs' unfinished (table, date) pairs that the warehouse still misses."""
    targets = rerun_targets(common.warehouse(), rerun_scope(runs))
    logger = get_run_logger()
    for table, dates in targets.items():
        logger.info("%s: %d date(s) to rerun, %s..%s", table, len(dates), dates[0], dates[-1])
    return targets


@task(name="find-stale", task_run_name="find stale dates")
def find_stale() -> dict[str, list[dt.date]]:
    """The dates of the settings' range whose inputs or model changed since they were written
    (their write fingerprints): what the rerun refreshes too when the settings ask for it."""
    s, wh = common.settings(), common.warehouse()
    days = sorted(wh.schedule(s.run.start_date, s.run.end_date))
    found = stale_by_fingerprint(wh, list(TABLES.values()), {t: days for t in TABLES})
    logger = get_run_logger()
    for table, stale in found.items():
        if stale:
            logger.info("%s: %d stale date(s), first %s", table, len(stale), min(stale))
    return {t: sorted(d) for t, d in found.items() if d}


@task(name="still-missing", task_run_name="check what is still missing")
def check_after(targets: dict[str, list[dt.date]]) -> dict[str, set[dt.date]]:
    """Of each table's dates in the targets' span, those still not complete."""
    lo, hi = span(targets)
    return still_missing(common.warehouse(), sorted(targets), lo, hi)


@flow(
    name="rerun-failed-dates",
    flow_run_name=names.rerun_run_name,
    on_completion=[hooks.rerun_finished],
    on_failure=[hooks.rerun_finished],
    on_crashed=[hooks.run_crashed],
    on_cancellation=[hooks.close_children],
    validate_parameters=False,  # resolve_rerun_params validates, in one line (nba_backfill.params)
)
def rerun_failed_dates(
    lookback_days: int | None = None,
    chunk_days: int | None = None,
    max_concurrency: int | None = None,
    since: dt.datetime | str | None = None,
    downstream: bool = False,
) -> dict[str, Any]:
    """Refill the dates that failed backfill runs of the last ``lookback_days`` days (or those
    started after ``since``) left unfilled and that are still missing; nothing else — unless
    ``downstream`` (reprocess mode ``failed`` of a backfill): then also the dates of the
    tables reading them whose windows read them, through the settings' end.
    Nothing to do → a quick no-op."""
    logger = get_run_logger()
    started = time.monotonic()
    common.label_jobs()  # its BigQuery jobs carry its id: a cancellation finds them
    s = common.settings()
    given = resolve_rerun_params(s, lookback_days, chunk_days, max_concurrency, since, downstream)
    report = RerunReport(given.lookback_days)
    status = "Completed"
    try:
        runs = read_failed_runs(
            given.since or dt.datetime.now(dt.UTC) - dt.timedelta(days=given.lookback_days)
        )
        report.runs = [r.name for r in runs]
        report.targets = find_targets(runs)
        stale = find_stale() if s.prefect.rerun_include_stale else {}
        for table, days in stale.items():
            report.targets[table] = sorted({*report.targets.get(table, []), *days})
        # Stale dates are complete: only a selection rewrites them, with their readers' windows.
        down = given.downstream or bool(stale)
        if report.nothing_to_do:
            logger.info(
                "nothing to rerun: %d failed backfill run(s) in the last %d days, none of "
                "their dates is still missing",
                len(runs),
                report.lookback_days,
            )
        else:
            lo, hi = span(report.targets)
            # Downstream, the windows reading the last date reach past it: to the settings' end.
            reach = max(hi, s.run.end_date) if down else hi
            params = RunParams(
                lo,
                reach,
                sorted(report.targets),
                given.chunk_days,
                given.max_concurrency,
                mode="failed" if down else "missing",
            )
            select = Selection("failed", failed=report.targets) if down else None
            # The same run lock as backfill (tasks/runlock.py): never two writers at once.
            with run_lock(s, f"rerun-failed-dates {lo}..{hi}"):
                outcomes: list[ChunkOutcome] = []
                p3, p4 = by_phase(report.targets, 3), by_phase(report.targets, 4)
                if p3:
                    plan = plan_backfill(
                        lo,
                        reach,
                        sorted(report.targets) if select else sorted(p3),
                        params.chunk_days,
                        (3,),
                        only=None if select else p3,
                        select=select,
                    )
                    outcomes += with_runner(phase3, params)(params, plan)
                    validate_phase(3, lo, hi, sorted(p3), gate=False)
                if p4 or (select is not None and params.phase_tables(4)):
                    validate_phase(3, lo, hi, gate=True)  # never Phase 4 on an unready Phase 3
                    for group in range(1, len(PHASE4_GROUPS) + 1):
                        _, outs = with_runner(phase4_group, params)(
                            params, group, only=None if select else p4, select=select
                        )
                        outcomes += outs
                    validate_phase(
                        4, lo, hi, params.phase_tables(4) if select else sorted(p4), gate=False
                    )
                report.failed_chunks = [o.failure() for o in outcomes if o.status != "completed"]
                report.record_after(check_after(report.targets))
    except GateFailed as exc:
        report.reason = f"{exc} — the Phase 4 dates were not rerun"
        report.record_after(check_after(report.targets))
    except BaseException as exc:
        report.reason = f"{type(exc).__name__}: {one_line(str(exc), 300)}"
        raise
    finally:
        if report.reason and not report.checked:  # it stopped before checking: assume none
            report.still_failing = {t: list(ds) for t, ds in report.targets.items()}
        if report.still_failing or report.failed_chunks or report.reason:
            status = "Failed"
            n = sum(len(v) for v in report.still_failing.values())
            report.reason = report.reason or f"{n} date(s) still failing after the rerun"
        report.seconds = time.monotonic() - started
        data = report.as_dict(status)
        create_markdown_artifact(
            key="rerun-report",
            markdown=rerun_markdown(data),
            description=f"Rerun of failed dates (last {report.lookback_days} days): {status}",
        )
        common.end_of_run()
    if status != "Completed":
        logger.error(report.reason)
        raise BackfillFailed(report.reason or "rerun failed", summary=data)
    if not report.nothing_to_do:
        logger.info("rerun: %d date(s) fixed", sum(len(v) for v in data["fixed"].values()))
    return data
