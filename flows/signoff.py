"""The runbook's sign-off: after a passing Phase 3 gate, a person signs the Phase 3 checklist
before Phase 4 starts (issue 18 item 6).

The flow pauses with Prefect's own pause-with-input (``pause_flow_run(wait_for_input=...)``):
the process stays up and waits, the Prefect UI shows a form for :class:`SignOff`, and Slack
gets the gate's summary with the run's link. ``prefect.flow_runs.resume_flow_run(id,
run_input={...})`` answers it through the API as well.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import get_run_logger
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput

from flows.hooks import send_slack
from nba_backfill.notify import signoff_message
from nba_backfill.summary import RunSummary

POLL_SECONDS = 10  # how often the paused process asks the API whether it was resumed


class SignOff(RunInput):
    """The Phase 3 checklist's sign-off: who, their verdict, and a note."""

    approver: str
    approved: bool
    note: str = ""


def _run_url() -> tuple[str | None, str | None]:
    from prefect.utilities.urls import url_for

    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return None, None
    try:
        url = url_for("flow-run", obj_id=ctx.flow_run.id)
    except Exception:  # no UI URL configured: the message says where to look instead
        url = None
    return url, ctx.flow_run.name


def sign_off(summary: RunSummary, timeout_seconds: int) -> dict[str, Any]:
    """Ask for the sign-off and wait for it (at most ``timeout_seconds``); record the answer
    in ``summary.signoff`` and return it. Should the wait end in this process (Prefect's server
    usually fails a timed-out pause itself), it is recorded as not approved, by nobody."""
    logger = get_run_logger()
    url, name = _run_url()
    send_slack(
        signoff_message(summary.as_dict("Paused"), timeout_seconds, run_url=url, run_name=name),
        logger,
    )
    logger.info("waiting up to %ss for the Phase 3 sign-off", timeout_seconds)
    try:
        answer = pause_flow_run(
            wait_for_input=SignOff,
            timeout=timeout_seconds,
            poll_interval=min(POLL_SECONDS, timeout_seconds),
        )
        record = {"approver": answer.approver, "approved": answer.approved, "note": answer.note}
    except FlowPauseTimeout:
        record = {
            "approver": None,
            "approved": False,
            "note": f"no sign-off within {timeout_seconds}s",
        }
    record["at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    summary.signoff = record
    return record
