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
from dataclasses import replace
from pathlib import Path
from typing import Any

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


def _hold(settings: Settings) -> tuple[threading.Thread, threading.Event]:
    """A thread holding the run lock until the returned event is set (a test decides, not a
    guessed duration: under load the Prefect server can answer slowly)."""
    ready, release = threading.Event(), threading.Event()

    def hold() -> None:
        with run_lock(settings, "holder"):
            ready.set()
            release.wait(120)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert ready.wait(30)
    return thread, release


def test_second_run_refuses_naming_the_holder(tmp_path: Path):
    s = _settings(tmp_path)
    holder, release = _hold(s)
    with pytest.raises(RunLocked) as exc, run_lock(s, "second"):
        pass
    message = str(exc.value)
    assert "\n" not in message and "another backfill is writing to duckdb" in message
    assert f"pid {os.getpid()}" in message and lock_name(s) in message
    assert "waited 0s" in message and "NBA_BACKFILL_RUN__LOCK_WAIT_SECONDS" in message
    assert "Nothing was written" in message
    assert holder.is_alive()  # refused while the holder still runs, not after
    release.set()
    holder.join()
    with run_lock(s, "third"):  # released at the end of the first
        pass


def test_second_run_waits_when_told_to(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """Told to wait, the second run says whom it waits for, and takes the lock as soon as the
    holder lets go."""
    holder, release = _hold(_settings(tmp_path))

    def release_once_waiting() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            "waiting up to" in r.getMessage() for r in list(caplog.records)
        ):
            time.sleep(0.05)
        release.set()

    releaser = threading.Thread(target=release_once_waiting, daemon=True)
    with caplog.at_level(logging.WARNING, logger="nba_backfill"):
        releaser.start()
        with run_lock(_settings(tmp_path, wait=60), "waiter"):
            assert not holder.is_alive() or release.is_set()  # only after the release
    holder.join()
    waiting = [r.getMessage() for r in caplog.records if "waiting up to" in r.getMessage()]
    assert len(waiting) == 1 and "is held by" in waiting[0] and "holder" in waiting[0]


def test_locks_of_different_warehouses_are_independent(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    holder, release = _hold(_settings(a))
    with run_lock(_settings(b), "elsewhere"):
        assert holder.is_alive()  # both held at once
    release.set()
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
        renewer = runlock._renewers[lock_name(s)]
        deadline = time.monotonic() + 60  # ~0.6 s unless the server is slow
        while renewer.renewals < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert renewer.renewals >= 2


def _killed_holder(settings: Settings) -> Any:
    """A flow run that took the run lock, tagged with its warehouse, whose process then died
    without releasing it (as a run killed at the end of its cancellation's grace period)."""
    from prefect import flow, get_client

    from tasks import runlock

    @flow(name="lock-probe")
    def probe() -> None:
        pass

    name = lock_name(settings)
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(probe, tags=[runlock.warehouse_tag(settings)])
        runlock._ensure_limit(client, name)
        lease = runlock._try_acquire(client, name, 600, str(run.id))
        assert lease is not None
        me = runlock.Holder.me(name, lease, "killed run")
        runlock._write_holder(client, replace(me, flow_run_id=str(run.id)))
        return probe, client.read_flow_run(run.id)


def _slots(name: str) -> int:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(name).active_slots


@pytest.mark.parametrize("state", ["Cancelling", "Crashed"])
def test_the_cancel_hook_releases_the_lock_a_killed_run_still_holds(tmp_path: Path, state: str):
    from prefect.states import Cancelling, Crashed

    from flows import hooks

    s = _settings(tmp_path)
    probe, run = _killed_holder(s)
    assert _slots(lock_name(s)) == 1
    hooks.close_children(probe, run, Cancelling() if state == "Cancelling" else Crashed())
    assert _slots(lock_name(s)) == 0
    with run_lock(s, "next"):  # taken at once, no dead holder to find
        pass


def test_the_hook_leaves_a_lock_another_run_took_since(tmp_path: Path):
    from prefect.states import Cancelling

    from flows import hooks

    s = _settings(tmp_path)
    probe, run = _killed_holder(s)
    hooks.close_children(probe, run, Cancelling())
    holder, release = _hold(s)  # the next run holds it now
    try:
        hooks.close_children(probe, run, Cancelling())  # a late second call
        assert _slots(lock_name(s)) == 1
    finally:
        release.set()
        holder.join()
    assert _slots(lock_name(s)) == 0
