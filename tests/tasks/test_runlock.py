"""The run lock (one backfill at a time per warehouse) on the session's Prefect server: a second
run refuses with a message naming the holder or waits for it, and a holder that died leaves
nothing to clean up."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nba_backfill.errors import RunLocked
from nba_backfill.settings import Settings, load_settings
from tasks.runlock import lock_name, run_lock

pytestmark = pytest.mark.usefixtures("prefect_server")
REPO = Path(__file__).resolve().parents[2]


def _settings(tmp_path: Path, wait: float = 0) -> Settings:
    return load_settings(
        warehouse={"duckdb_path": str(tmp_path / "w.duckdb")}, run={"lock_wait_seconds": wait}
    )


def _hold(settings: Settings, seconds: float, ready: threading.Event) -> threading.Thread:
    def hold() -> None:
        with run_lock(settings, "holder"):
            ready.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert ready.wait(30)
    return thread


def test_second_run_refuses_naming_the_holder(tmp_path: Path):
    s = _settings(tmp_path)
    holder = _hold(s, 3, threading.Event())
    started = time.monotonic()
    with pytest.raises(RunLocked) as exc, run_lock(s, "second"):
        pass
    message = str(exc.value)
    assert time.monotonic() - started < 10
    assert "\n" not in message and "another backfill is writing to duckdb" in message
    assert f"pid {os.getpid()}" in message and lock_name(s) in message
    assert "NBA_BACKFILL_RUN__LOCK_WAIT_SECONDS" in message and "Nothing was written" in message
    holder.join()
    with run_lock(s, "third"):  # released at the end of the first
        pass


def test_second_run_waits_when_told_to(tmp_path: Path):
    holder = _hold(_settings(tmp_path), 2, threading.Event())
    started = time.monotonic()
    with run_lock(_settings(tmp_path, wait=60), "waiter"):
        waited = time.monotonic() - started
    holder.join()
    assert 1 <= waited < 30


def test_locks_of_different_warehouses_are_independent(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    holder = _hold(_settings(a), 2, threading.Event())
    with run_lock(_settings(b), "elsewhere"):
        pass
    holder.join()


_CHILD = """
import sys, time
from nba_backfill.settings import load_settings
from tasks.runlock import run_lock
s = load_settings(warehouse={"duckdb_path": sys.argv[1]})
with run_lock(s, "doomed child"):
    print("HELD", flush=True)
    time.sleep(600)
"""


def test_a_killed_holder_needs_no_clean_up(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """SIGKILL leaves the lease held on the server; the next run sees that the holder's
    process is gone (same machine) and takes the lock at once — it does not wait at all
    (lock_wait_seconds is 0), let alone for the 120 s lease."""
    from prefect.settings import PREFECT_API_URL

    s = _settings(tmp_path)
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(s.warehouse.duckdb_path)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "HELD"
        with pytest.raises(RunLocked, match="doomed child on host"), run_lock(s, "too early"):
            pass
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        with caplog.at_level(logging.WARNING, logger="nba_backfill"), run_lock(s, "after"):
            pass
    finally:
        if child.poll() is None:
            child.kill()
    released = [r.getMessage() for r in caplog.records if "released the lock of" in r.getMessage()]
    assert len(released) == 1 and f"its process {child.pid} on " in released[0], released


def test_the_lease_is_renewed_while_the_run_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import tasks.runlock as runlock

    monkeypatch.setattr(runlock, "RENEW_FRACTION", 0.005)  # every 0.3 s of a 60 s lease
    s = load_settings(
        warehouse={"duckdb_path": str(tmp_path / "w.duckdb")}, run={"lock_lease_seconds": 60}
    )
    with run_lock(s, "long run"):
        time.sleep(1.5)
        renewals = runlock._renewers[lock_name(s)].renewals
    assert renewals >= 2
