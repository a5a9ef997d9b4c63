"""Command producers under a real worker, as the local deployments run: the backfill flow
deployed to a ``process`` work pool of the test Prefect server with the producer's settings as
the deployment's job variables (env), ``prefect worker start`` picking the run up. A run fills
its table through the stand-in and ends Completed; a run whose processor hangs, cancelled
through the Prefect API, ends Cancelled and leaves no processor behind."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nba_backfill.catalog import TOGS
from nba_backfill.settings import Settings
from nba_backfill.validation import validate
from nba_backfill.warehouse import close_shared, shared_warehouse
from tests.producers.conftest import standin_command
from tests.producers.test_producer_flow import _logged
from tests.producers.test_producers import _alive
from tests.worker import deploy_backfill, start_worker, stop_worker, wait_final

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(600)]

VAR = "NBA_BACKFILL_PRODUCERS__TEAM_OFFENSE_GAME_SUMMARY__"
START, END = dt.date(2021, 10, 19), dt.date(2021, 10, 24)
PARAMS = {
    "start": START.isoformat(),
    "end": END.isoformat(),
    "tables": ["team_offense_game_summary"],
    "skip_phase4": True,
}


def _deploy(settings: Settings, standin_env: dict[str, str]) -> tuple[str, str]:
    """A process pool and the backfill flow deployed to it, the stand-in producing
    team_offense_game_summary (job variables: env); returns (pool, deployment name)."""
    env = {
        VAR + "COMMAND": standin_command("team_offense_game_summary"),
        VAR + "ENV": json.dumps(standin_env),
    }
    pool = deploy_backfill(settings, env, prefix="byop")
    return pool, f"backfill/{pool}"


@pytest.fixture
def worker_home(seeded: Settings) -> Iterator[Settings]:
    close_shared()  # the flow run's process takes the warehouse file
    yield seeded
    close_shared()


def test_a_process_worker_runs_the_command_producer(worker_home: Settings, tmp_path: Path):
    from prefect.deployments import run_deployment

    pool, name = _deploy(worker_home, {})
    run = run_deployment(name, parameters=PARAMS, timeout=0)
    log = tmp_path / "worker.log"
    worker = start_worker(pool, log, run_once=True)
    try:
        state = wait_final(run.id, 420, log)
    finally:
        stop_worker(worker, exit_within=60)
    assert state.is_completed(), f"{state}\n{log.read_text(errors='replace')[-3000:]}"
    assert validate(shared_warehouse(), 3, START, END, [TOGS]).ok
    # The stand-in wrote them: its lines are the flow run's task logs on the server.
    assert _logged("stdout | done:") >= 1


def test_a_run_cancelled_through_the_api_ends_cancelled_and_stops_its_processor(
    worker_home: Settings, tmp_path: Path
):
    from prefect import get_client
    from prefect.deployments import run_deployment
    from prefect.states import Cancelling

    pids = tmp_path / "pids"
    pool, name = _deploy(worker_home, {"STANDIN_HANG": "1", "STANDIN_PIDS": str(pids)})
    run = run_deployment(name, parameters=PARAMS, timeout=0)
    log = tmp_path / "worker.log"
    worker = start_worker(pool, log, run_once=False)
    try:
        deadline = time.monotonic() + 300
        while not (pids.exists() and len(pids.read_text().split()) == 2):
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        started = [int(p) for p in pids.read_text().split()]
        assert all(_alive(p) for p in started)
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run.id, Cancelling(), force=True)
        state = wait_final(run.id, 240, log)
    finally:
        stop_worker(worker)
    assert state.is_cancelled(), f"{state}\n{log.read_text(errors='replace')[-3000:]}"
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in started), log.read_text(errors="replace")[-3000:]
