"""Task: validate a phase, publish the result as Prefect artifacts, and gate on it."""

from __future__ import annotations

import datetime as dt

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from nba_backfill.errors import GateFailed
from nba_backfill.readiness import ScheduleReads
from nba_backfill.report import validation_markdown, validation_rows
from nba_backfill.validation import ValidationReport, validate
from tasks import common


@task(name="validate", task_run_name="validate · phase {phase} · {start}..{end}")
def validate_phase(
    phase: int,
    start: dt.date,
    end: dt.date,
    tables: list[str] | None = None,
    gate: bool = True,
    reads: ScheduleReads | None = None,
) -> ValidationReport:
    """Validate ``phase``; with ``gate`` a failure raises GateFailed (naming what is missing),
    so the flow stops before the next phase. ``reads``: a plan's schedule reads of the same
    run, taken instead of reading them again."""
    report = validate(common.warehouse(), phase, start, end, tables, reads)
    create_table_artifact(
        key=f"phase{phase}-validation",
        table=validation_rows(report),
        description=f"Phase {phase} validation {start}..{end}",
    )
    create_markdown_artifact(
        key=f"phase{phase}-gate",
        markdown=validation_markdown(report),
        description=f"Phase {phase} gate {start}..{end}",
    )
    logger = get_run_logger()
    if report.ok:
        logger.info("Phase %d validation passed for %s..%s", phase, start, end)
    else:
        for table, problems in report.problems.items():
            logger.error("Phase %d: %s: %s", phase, table, "; ".join(problems))
        if gate:
            raise GateFailed(phase, report.problems, report)
    return report
