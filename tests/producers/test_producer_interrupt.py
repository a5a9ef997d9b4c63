"""A run interrupted while a processor runs leaves no processor behind: the backfill flow in a
real process against the test server, team_offense_game_summary on a stand-in that hangs (with
a child of its own), Ctrl-C once both are up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL

from nba_backfill.settings import Settings
from nba_backfill.warehouse import close_shared
from tests.producers.conftest import standin_command
from tests.producers.test_producers import _alive

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
from flows.backfill import backfill
backfill("2021-10-19", "2021-10-24", tables=["team_offense_game_summary"], skip_phase4=True)
"""


def test_an_interrupted_run_leaves_no_processor_running(seeded: Settings, tmp_path: Path):
    close_shared()  # the subprocess takes the warehouse file
    pids = tmp_path / "pids"
    var = "NBA_BACKFILL_PRODUCERS__TEAM_OFFENSE_GAME_SUMMARY__"
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PYTHONPATH": str(REPO),
        var + "COMMAND": standin_command("team_offense_game_summary"),
        var + "ENV": json.dumps({"STANDIN_HANG": "1", "STANDIN_PIDS": str(pids)}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (pids.exists() and len(pids.read_text().split()) == 2):
            assert proc.poll() is None and time.monotonic() < deadline, "no processor started"
            time.sleep(0.1)
        started = [int(p) for p in pids.read_text().split()]
        assert all(_alive(p) for p in started)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=300)  # a loaded 2-core machine took over 120 s
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in started), out.decode(errors="replace")[-3000:]
