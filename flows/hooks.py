"""Flow-run hooks that tell Slack how a run ended, through the SlackWebhook block named by
``NBA_BACKFILL_PREFECT__SLACK_BLOCK`` (``nba-backfill setup`` creates it from
``NBA_BACKFILL_SLACK_WEBHOOK_URL``). The messages are built in ``nba_backfill.notify``.

No block configured → a logged skip, not an error. A hook never raises: a Slack outage must
not change a run's final state. The webhook URL is a secret: it is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from prefect import Flow
from prefect.client.schemas.objects import FlowRun
from prefect.logging.loggers import flow_run_logger
from prefect.states import State

from nba_backfill.errors import BackfillFailed, GateFailed, UsageError
from nba_backfill.notify import (
    SlackMessage,
    backfill_message,
    error_message,
    gate_message,
    rerun_message,
    retry_command,
)
from nba_backfill.params import resolve_params
from nba_backfill.producers import stop_all as stop_producers
from nba_backfill.settings import get_settings
from tasks import common
from tasks.runlock import release_lock_of

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]


def send_slack(message: SlackMessage, logger: Logger | None = None) -> bool:
    """Post ``message`` to the configured SlackWebhook block; True when Slack accepted it."""
    log: Logger = logger or logging.getLogger("nba_backfill")
    name = get_settings().prefect.slack_block
    if not name:
        log.info("Slack: skipped, no block configured (NBA_BACKFILL_PREFECT__SLACK_BLOCK)")
        return False
    from prefect_slack import SlackWebhook

    try:
        block = SlackWebhook.load(name)
    except ValueError:
        log.warning("Slack: skipped, block %r not found (see `nba-backfill setup`)", name)
        return False
    try:
        response = block.get_client(sync_client=True).send(
            text=message["text"], blocks=message["blocks"]
        )
    except Exception as exc:  # the error text may hold the URL: log the class only
        log.warning("Slack: sending through block %r failed (%s)", name, type(exc).__name__)
        return False
    if response.status_code >= 400:
        log.warning("Slack: block %r answered HTTP %s", name, response.status_code)
        return False
    log.info("Slack: notified through block %r", name)
    return True


# --- what the hooks read from a run -----------------------------------------------------------
def run_summary(state: State[Any]) -> Mapping[str, Any] | None:
    """The summary dict the flow returned, or the one its BackfillFailed carried."""
    try:
        if state.is_completed():
            value = state.result()
            return value if isinstance(value, Mapping) else None
        exc = state.result(raise_on_failure=False)
    except Exception:  # results not kept (crash, remote storage unavailable)
        return None
    return exc.summary if isinstance(exc, BackfillFailed) and exc.summary else None


def _exception(state: State[Any]) -> BaseException | None:
    try:
        value = state.result(raise_on_failure=False)
    except Exception:
        return None
    return value if isinstance(value, BaseException) else None


def _run_url(flow_run: FlowRun) -> str | None:
    from prefect.utilities.urls import url_for

    try:
        return url_for("flow-run", obj_id=flow_run.id)
    except Exception:
        return None


def _deployment(flow: Flow[Any, Any], flow_run: FlowRun) -> str | None:
    """``flow/deployment`` when the run came from a deployment (for the retry command)."""
    if flow_run.deployment_id is None:
        return None
    from prefect import get_client

    try:
        with get_client(sync_client=True) as client:
            return f"{flow.name}/{client.read_deployment(flow_run.deployment_id).name}"
    except Exception:
        return None


def _seconds(flow_run: FlowRun, state: State[Any]) -> float | None:
    if flow_run.start_time is None or state.timestamp is None:
        return None
    return max(0.0, (state.timestamp - flow_run.start_time).total_seconds())


def _requested_tables(flow_run: FlowRun) -> list[str] | None:
    tables = (flow_run.parameters or {}).get("tables")
    return list(tables) if tables else None


def _range_retry(flow: Flow[Any, Any], flow_run: FlowRun) -> str | None:
    """The retry command for a run that left no summary: its own range and tables again."""
    p = flow_run.parameters or {}
    try:
        params = resolve_params(get_settings(), p.get("start"), p.get("end"), p.get("tables"))
    except UsageError:
        return None
    summary = {"start": params.start.isoformat(), "end": params.end.isoformat()}
    return retry_command(summary, _deployment(flow, flow_run), params.tables)


def _without_summary(
    flow: Flow[Any, Any],
    flow_run: FlowRun,
    state: State[Any],
    *,
    crashed: bool = False,
    retry: str | None = None,
) -> SlackMessage:
    """A run that ended without a summary: its exception (class and message) or state."""
    exc = None if crashed else _exception(state)
    return error_message(
        flow.name,
        error=str(exc) if exc else state.message,
        error_class=type(exc).__name__ if exc else None,
        crashed=crashed,
        run_url=_run_url(flow_run),
        run_name=flow_run.name,
        retry=retry,
        seconds=_seconds(flow_run, state),
    )


def _notify(
    flow: Flow[Any, Any],
    flow_run: FlowRun,
    build: Callable[[], SlackMessage | None],
) -> None:
    """Build the message and send it; log, never raise (the run's state is already final)."""
    logger = flow_run_logger(flow_run, flow)
    try:
        message = build()
        if message is None:
            logger.info("Slack: nothing worth a message")
            return
        send_slack(message, logger)
    except Exception:
        logger.exception("Slack: could not build or send the notification")


# --- the hooks (signature: flow, flow_run, state) ---------------------------------------------
def backfill_finished(flow: Flow[Any, Any], flow_run: FlowRun, state: State[Any]) -> None:
    """on_completion / on_failure of ``backfill``: coverage and dates filled, or which chunks
    failed and how to retry, or what the gate found missing."""

    def build() -> SlackMessage:
        summary = run_summary(state)
        if summary is None:
            return _without_summary(flow, flow_run, state, retry=_range_retry(flow, flow_run))
        return backfill_message(
            summary,
            run_url=_run_url(flow_run),
            run_name=flow_run.name,
            deployment=_deployment(flow, flow_run),
            requested_tables=_requested_tables(flow_run),
        )

    _notify(flow, flow_run, build)


def rerun_finished(flow: Flow[Any, Any], flow_run: FlowRun, state: State[Any]) -> None:
    """on_completion / on_failure of ``rerun-failed-dates``: fixed / still failing. A rerun
    with nothing to do stays quiet (it runs every morning)."""

    def build() -> SlackMessage | None:
        report = run_summary(state)
        if report is None:
            return _without_summary(flow, flow_run, state)
        if report.get("nothing_to_do") and report.get("status") == "Completed":
            return None
        return rerun_message(report, run_url=_run_url(flow_run), run_name=flow_run.name)

    _notify(flow, flow_run, build)


def validate_failed(flow: Flow[Any, Any], flow_run: FlowRun, state: State[Any]) -> None:
    """on_failure of ``validate``: the gate's findings per table."""

    def build() -> SlackMessage:
        exc = _exception(state)
        if not isinstance(exc, GateFailed):
            return _without_summary(flow, flow_run, state)
        p = flow_run.parameters or {}
        params = resolve_params(get_settings(), p.get("start"), p.get("end"))
        return gate_message(
            exc.phase,
            params.start.isoformat(),
            params.end.isoformat(),
            exc.problems,
            run_url=_run_url(flow_run),
            run_name=flow_run.name,
            seconds=_seconds(flow_run, state),
        )

    _notify(flow, flow_run, build)


def being_cancelled(flow_run_id: Any) -> bool:
    """Whether the run is being cancelled (its state on the server is Cancelling): the
    termination signal it got is then the cancel, not a crash. False when unreadable."""
    from prefect import get_client

    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(flow_run_id).state
    except Exception:
        return False
    return state is not None and (state.is_cancelling() or state.is_cancelled())


def close_children(flow: Flow[Any, Any], flow_run: FlowRun, state: State[Any]) -> None:
    """on_crashed / on_cancellation: the subflows and task runs this run left unfinished end
    Crashed (Cancelled when it was cancelled), so none stays Pending or Running in the UI.
    The next run taking the run lock does the same for a process killed before its hooks ran
    (tasks/runlock.py). Never raises: the run's state is already final.

    First, the external processors this process still runs (command producers) stop, with
    their process groups, and the BigQuery jobs labelled with this run's id still pending or
    running are cancelled: a cancelled or crashed run leaves nothing writing (or billing)
    behind it. Last, the run lock it still holds is released (its process was killed before
    it could), so the next run can start at once."""
    logger = flow_run_logger(flow_run, flow)
    try:
        stopped = stop_producers()
    except Exception:
        logger.exception("could not stop the processors of %r", flow_run.name)
        stopped = []
    if stopped:
        logger.warning("stopped %d processor(s) still running: pids %s", len(stopped), stopped)
    try:
        # Its BigQuery jobs go on billing after the process is gone unless cancelled here.
        jobs = common.cancel_jobs(flow_run.id)
    except Exception:
        logger.exception("could not cancel the warehouse jobs of %r", flow_run.name)
        jobs = []
    if jobs:
        logger.warning("cancelled %d warehouse job(s) still running: %s", len(jobs), jobs[:10])
    # on_cancellation hands over the Cancelling state (Cancelled comes after the hooks): the
    # children of a run being cancelled end Cancelled, not Crashed.
    cancelled = state.is_cancelled() or state.is_cancelling()
    ended = "was cancelled" if cancelled else f"ended {state.name}"
    try:
        closed = common.close_descendants(
            flow_run.id, f"its parent run {flow_run.name!r} {ended}", cancelled=cancelled
        )
    except Exception:
        logger.exception("could not close the runs %r left unfinished", flow_run.name)
        closed = []
    if closed:
        final = "Cancelled" if cancelled else "Crashed"
        logger.warning("marked %d unfinished run(s) %s: %s", len(closed), final, closed[:10])
    try:
        # A process killed before it left its run lock leaves the lock held until its lease
        # lapses: the next run would refuse (or wait) meanwhile.
        released = release_lock_of(flow_run.id)
    except Exception:
        logger.exception("could not release the run lock of %r", flow_run.name)
        return
    if released:
        logger.warning("released the run lock %s it still held", released)


def run_crashed(flow: Flow[Any, Any], flow_run: FlowRun, state: State[Any]) -> None:
    """on_crashed of every flow: close what it left unfinished; tell Slack the process died,
    with the retry command."""
    close_children(flow, flow_run, state)

    def build() -> SlackMessage:
        retry = _range_retry(flow, flow_run) if flow.name == "backfill" else None
        return _without_summary(flow, flow_run, state, crashed=True, retry=retry)

    _notify(flow, flow_run, build)
