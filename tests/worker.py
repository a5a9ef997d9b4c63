"""A process worker of the test Prefect server, as the local deployments run: the backfill flow
deployed to a ``process`` work pool with the run's settings as job variables (env), ``prefect
worker start`` picking its runs up, and the server's record of a run read back. Shared by the
tests that run a real deployment run on the session's test server (producers, cancellation)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from prefect.settings import PREFECT_API_URL

from nba_backfill.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def deploy_backfill(settings: Settings, env: dict[str, str], prefix: str = "pool") -> str:
    """A fresh process pool and the backfill flow deployed to it, its runs' environment the
    test's warehouse and home, fast retries, and ``env``; returns the pool's name (the
    deployment is ``backfill/<pool>``)."""
    from prefect import flow, get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    pool = f"{prefix}-" + uuid.uuid4().hex[:6]
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    job_env = {
        "NBA_BACKFILL_WAREHOUSE__DUCKDB_PATH": str(settings.warehouse.duckdb_path),
        "NBA_BACKFILL_HOME": str(settings.home),
        "NBA_BACKFILL_RETRY__INITIAL_WAIT_SECONDS": "0.01",
        "NBA_BACKFILL_RETRY__JITTER_SECONDS": "0",
        **env,
    }
    source = flow.from_source(source=str(REPO), entrypoint="flows/backfill.py:backfill")
    source.deploy(  # type: ignore[union-attr]
        name=pool, work_pool_name=pool, job_variables={"env": job_env}, print_next_steps=False
    )
    return pool


def start_worker(pool: str, log: Path, *, run_once: bool) -> subprocess.Popen[bytes]:
    """``prefect worker start`` on ``pool`` in its own process group, output to ``log``."""
    cmd = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"]
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    with log.open("wb") as out:
        return subprocess.Popen(
            [*cmd, *(["--run-once"] if run_once else [])],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_worker(proc: subprocess.Popen[bytes], *, exit_within: float = 0) -> None:
    """SIGTERM the worker's process group, SIGKILL after 30 s. With ``exit_within``, first
    wait that long for it to exit by itself: a ``--run-once`` worker's flow-run process still
    sends its last log batches after the server shows the run final, and a SIGTERM to the
    group then would lose them."""
    if exit_within and proc.poll() is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(exit_within)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def run_state(flow_run_id: Any) -> Any:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state


def wait_final(flow_run_id: Any, seconds: float, log: Path) -> Any:
    """The run's state once it is final; fails (with the worker's log) after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        state = run_state(flow_run_id)
        if state is not None and state.is_final():
            return state
        assert time.monotonic() < deadline, f"{state}\n{log.read_text(errors='replace')[-3000:]}"
        time.sleep(1)


__all__ = ["REPO", "deploy_backfill", "run_state", "start_worker", "stop_worker", "wait_final"]
