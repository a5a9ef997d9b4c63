"""Flow runs are named by their *resolved* parameters: a deployment run started without dates
is named by the settings' default range (it used to read ``backfill · None..None``), and a
bad parameter still fails the run in one line (tests/flows/test_bad_params.py), its name
showing the raw value.

The deployment runs here are real ones: a deployment on the test server, a flow run created
from it, and ``python -m prefect.flow_engine`` in a subprocess — what a process worker runs."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import Flow, get_client
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL

from nba_backfill.settings import Settings
from nba_backfill.warehouse import close_shared

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
# The settings' default range, made small: two days from the season opener.
DEFAULT_START, DEFAULT_END = dt.date(2021, 10, 19), dt.date(2021, 10, 20)


@pytest.fixture
def small_defaults(seeded: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NBA_BACKFILL_RUN__START_DATE", DEFAULT_START.isoformat())
    monkeypatch.setenv("NBA_BACKFILL_RUN__END_DATE", DEFAULT_END.isoformat())
    close_shared()  # also forgets the cached settings
    return seeded


def deployment_run(flow: Flow[Any, Any], entrypoint: str, parameters: dict[str, Any]) -> FlowRun:
    """Deploy ``flow`` on the test server, start a run of it with ``parameters`` and execute
    that run as a worker does (a subprocess running the flow engine); the finished run."""
    close_shared()  # the subprocess writes the warehouse file
    deployment = flow.to_deployment(name="names-test")
    deployment.entrypoint = entrypoint
    deployment_id = deployment.apply()
    with get_client(sync_client=True) as client:
        run = client.create_flow_run_from_deployment(
            UUID(str(deployment_id)), parameters=parameters
        )
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT__FLOW_RUN_ID": str(run.id),
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "prefect.flow_engine", entrypoint],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    with get_client(sync_client=True) as client:
        finished = client.read_flow_run(run.id)
    assert finished.state is not None and finished.state.is_final(), proc.stderr[-3000:]
    return finished


def test_a_deployment_run_without_dates_is_named_by_the_default_dates(small_defaults: Settings):
    from flows.backfill import backfill

    run = deployment_run(
        backfill, "flows/backfill.py:backfill", {"tables": ["team_offense_game_summary"]}
    )
    assert run.name == f"backfill · {DEFAULT_START}..{DEFAULT_END}"


def test_a_validate_deployment_run_is_named_by_its_phase_and_default_dates(
    small_defaults: Settings,
):
    from flows.validate import validate

    run = deployment_run(validate, "flows/validate.py:validate", {"phase": 3})
    assert run.name == f"validate · phase 3 · {DEFAULT_START}..{DEFAULT_END}"


def test_names_resolve_dates_given_as_strings_and_fill_in_the_missing_one(
    small_defaults: Settings,
):
    """Called from Python (the CLI's way): ``end`` alone, as a string, with ``start`` from the
    settings; the phase subflows carry the same resolved range."""
    from flows.backfill import backfill

    state = backfill(
        end="2021-10-20", tables=["team_offense_game_summary"], skip_phase4=True, return_state=True
    )
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)  # type: ignore[arg-type]
        children = client.read_flow_runs()
    assert run.name == f"backfill · {DEFAULT_START}..2021-10-20"
    subflows = [c.name for c in children if c.parent_task_run_id and c.name.startswith("phase3")]
    assert f"phase3 · {DEFAULT_START}..2021-10-20" in subflows


def test_a_bad_parameter_keeps_its_raw_spelling_in_the_name_and_fails_in_one_line(
    small_defaults: Settings,
):
    from flows.backfill import backfill

    state = backfill(start="2021-13-01", return_state=True)
    assert state.is_failed()
    assert "\n" not in str(state.message) and "is not a date" in str(state.message)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)  # type: ignore[arg-type]
    assert run.name == "backfill · 2021-13-01..None"


def test_the_rerun_is_named_by_the_start_of_the_history_it_reads(small_defaults: Settings):
    from flows.rerun import rerun_failed_dates

    state = rerun_failed_dates(since="2021-11-01T05:30:00", return_state=True)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)  # type: ignore[arg-type]
    assert run.name == "rerun-failed-dates · since 2021-11-01 05:30 UTC"
