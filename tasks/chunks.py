"""Task: fill one chunk (table, date range). A decorator and a call into the core."""

from __future__ import annotations

import datetime as dt

from prefect import get_run_logger, task
from prefect.context import get_run_context

from nba_backfill.errors import BackfillError, is_transient
from nba_backfill.retry import RetryEvent
from nba_backfill.runner import run_chunk
from tasks import common


@task(name="fill-chunk", retries=0)
def fill_chunk(table: str, dates: list[dt.date]) -> dict[str, object]:
    """Replace ``table`` on the chunk's dates; return the chunk report (dates filled / blocked /
    incomplete, rows, retries). Retries happen inside, under the shared tenacity policy."""
    logger = get_run_logger()
    s = common.settings()
    ctx = get_run_context()
    flow_run_id = str(getattr(getattr(ctx, "task_run", None), "flow_run_id", "") or "")

    def on_retry(ev: RetryEvent) -> None:
        logger.warning(
            "%s %s..%s: attempt %d failed (%s); retrying in %.1fs",
            table,
            dates[0],
            dates[-1],
            ev.attempt,
            ev.reason,
            ev.wait_seconds,
        )

    try:
        result = run_chunk(
            common.warehouse(),
            table,
            dates,
            s.retry,
            per_table_limit=s.run.max_concurrency_per_table,
            labels={"flow_run_id": flow_run_id},
            on_retry=on_retry,
        )
    except Exception as exc:
        kind = "transient, retries exhausted" if is_transient(exc) else "permanent"
        logger.error(
            "%s %s..%s failed (%s): %s", table, dates[0], dates[-1], kind, str(exc).splitlines()[0]
        )
        if isinstance(exc, BackfillError):
            raise
        raise BackfillError(f"{table} {dates[0]}..{dates[-1]}: {exc}") from exc
    logger.info(
        "%s %s..%s: %d dates filled, %d rows, %d blocked, %d incomplete",
        table,
        dates[0],
        dates[-1],
        len(result.dates_filled),
        result.rows_written,
        len(result.dates_blocked),
        len(result.dates_incomplete),
    )
    return result.as_dict()
