"""Two backfills started at once over overlapping ranges: the second refuses with one line
naming the first — or, told to wait (NBA_BACKFILL_RUN__LOCK_WAIT_SECONDS), waits for it and then
finds only what is left — and the result is exactly one clean run's.

On DuckDB in one process (two flow runs in threads: the run lock is all that separates them),
on DuckDB across processes (the file lock refuses first), and on BigQuery — the emulator —
across processes, where the Prefect run lock is the only guard there is."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from nba_backfill.catalog import TABLES, TOGS, UPTG
from nba_backfill.errors import RunLocked
from nba_backfill.settings import Settings, get_settings
from nba_backfill.warehouse import close_shared
from tasks.runlock import lock_name
from tests.chaos.conftest import (
    SCENARIOS,
    Scenario,
    duplicate_keys,
    record,
    reopen_clean,
    same_as_clean,
)

pytestmark = pytest.mark.usefixtures("prefect_server")
REPO = Path(__file__).resolve().parents[2]


def _lock_held(name: str) -> bool:
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_global_concurrency_limit_by_name(name).active_slots > 0
        except ObjectNotFound:
            return False


def _wait_until(check: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


class _Seen(logging.Handler):
    """Sets ``event`` when a log record containing ``text`` is emitted."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.event = text, threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


def _release_when(event: threading.Event, release: Path) -> threading.Thread:
    """Create ``release`` once ``event`` is set (or after 120 s: the test then fails on what
    it asserts, instead of hanging)."""

    def release_then() -> None:
        event.wait(120)
        release.touch()

    thread = threading.Thread(target=release_then, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("scenario", SCENARIOS, indirect=True)
def test_two_backfills_in_one_process(
    scenario: Scenario, chaos_env: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    from flows.backfill import backfill

    # The first run pauses inside a Phase 3 write (a date missing in both scenarios) until the
    # test creates the release file, so it surely holds the lock while the others start. (A
    # timed pause is not enough: under load the Prefect server's SQLite answers 503 and the
    # client's backoff can delay the next flow run's creation past it.)
    release = tmp_path / "release-first-run"
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__DELAY", f"{UPTG}:2021-11-02")
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__DELAY_SECONDS", "600")
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__RELEASE_FILE", str(release))
    close_shared()
    first: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: first.update(state=backfill(**scenario.args(), return_state=True))
    )
    thread.start()
    try:
        _wait_until(lambda: _lock_held(lock_name(chaos_env)))

        overlap = {**scenario.args(), "start": dt.date(2021, 11, 1)}
        refused = backfill(**overlap, return_state=True)
        assert refused.is_failed()
        assert isinstance(refused.result(raise_on_failure=False), RunLocked)
        message = str(refused.message)
        assert "\n" not in message and "another backfill is writing to duckdb" in message
        assert f"'backfill · {scenario.start}..{scenario.end}'" in message  # names the first

        # The third run waits; once it says so, the first may go on and finish.
        monkeypatch.setenv("NBA_BACKFILL_RUN__LOCK_WAIT_SECONDS", "300")
        get_settings.cache_clear()  # the waiting run reads it; the first run's warehouse stays
        seen = _Seen("waiting up to")
        logging.getLogger("nba_backfill").addHandler(seen)
        try:
            _release_when(seen.event, release)
            started = time.monotonic()
            waited = backfill(**overlap, return_state=True)
            waited_for = time.monotonic() - started
        finally:
            logging.getLogger("nba_backfill").removeHandler(seen)
    finally:
        release.touch()
        thread.join(300)
    assert seen.event.is_set()  # it did wait for the first
    assert first["state"].is_completed(), first["state"].message
    assert waited.is_completed(), waited.message
    assert all(r["filled"] == 0 for r in waited.result()["tables"])  # the first did it all

    wh = reopen_clean(monkeypatch)
    dups = duplicate_keys(wh, scenario.start, scenario.end)
    assert dups == 0
    close_shared()
    same_as_clean(scenario, chaos_env.warehouse.duckdb_path)
    record(
        scenario,
        "two runs, one process (DuckDB)",
        second="refused: RunLocked",
        third=f"waited {waited_for:.1f}s, then filled 0 (all done)",
        duplicate_keys=dups,
        equal_to_clean_run=True,
    )


def _cli(args: list[str], env: dict[str, str], out: Any = subprocess.PIPE) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *args],
        cwd=REPO,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _paused_env(pair: str, release: Path) -> dict[str, str]:
    """A child whose write covering ``pair`` pauses until ``release`` exists."""
    return _child_env(
        NBA_BACKFILL_FAULTS__DELAY=pair,
        NBA_BACKFILL_FAULTS__DELAY_SECONDS="600",
        NBA_BACKFILL_FAULTS__RELEASE_FILE=str(release),
    )


def _child_env(**extra: str) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "COLUMNS": "400",
        **extra,
    }


@pytest.mark.parametrize("scenario", ["fast"], indirect=True)
def test_two_backfill_processes_on_duckdb(
    scenario: Scenario, chaos_env: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """Across processes the DuckDB file takes one writer: the second command says so in one
    line (exit 2) before it writes anything; run again later, it finds nothing to do."""
    common = ["--start", str(scenario.start), "--end", str(scenario.end), "--chunk-days", "5"]
    release = tmp_path / "release-first-run"
    first = _cli(["run", *common], _paused_env(f"{TOGS}:2021-11-02", release))
    try:
        _wait_until(lambda: _lock_held(lock_name(chaos_env)))
        second = subprocess.run(
            [sys.executable, "-m", "cli", "run", *common, "--tables", TOGS],
            cwd=REPO,
            env=_child_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        release.touch()
        out, _ = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, out[-3000:]
    assert second.returncode == 2, second.stdout + second.stderr
    lines = [ln for ln in second.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "is another nba-backfill process using it?" in lines[0]

    wh = reopen_clean(monkeypatch)
    assert duplicate_keys(wh, scenario.start, scenario.end) == 0
    close_shared()
    same_as_clean(scenario, chaos_env.warehouse.duckdb_path)
    record(
        scenario,
        "two processes (DuckDB)",
        second="refused (exit 2): " + lines[0][:80],
        duplicate_keys=0,
        equal_to_clean_run=True,
    )


# --- BigQuery (the emulator): the run lock is the only guard ---------------------------------
BQ_START, BQ_END = dt.date(2021, 10, 19), dt.date(2021, 10, 27)


@pytest.fixture
def duckdb_reference(fast_scenario: Scenario) -> dict[dt.date, Any]:
    """team_offense rows per date on the BigQuery test's range, from the clean DuckDB run."""
    from nba_backfill.settings import load_settings
    from nba_backfill.warehouse.duckdb import DuckDBWarehouse

    assert fast_scenario.clean_db is not None
    duck = DuckDBWarehouse(
        load_settings(warehouse={"duckdb_path": str(fast_scenario.clean_db)}), read_only=True
    )
    try:
        return duck.date_profile(TABLES[TOGS], BQ_START, BQ_END)  # type: ignore[return-value]
    finally:
        duck.close()


@pytest.fixture
def bigquery_env(
    bq_emulator: str, duckdb_reference: dict[dt.date, Any], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    from devtools.synthetic import seed_phase2
    from nba_backfill.sqlfiles import LOGICAL_DATASETS
    from nba_backfill.warehouse import shared_warehouse
    from tests.emulator import PROJECT

    suffix = "lock" + uuid.uuid4().hex[:6]
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__BACKEND", "bigquery")
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__EMULATOR_ENDPOINT", bq_emulator)
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__PROJECT", PROJECT)
    monkeypatch.setenv("NBA_BACKFILL_RETRY__INITIAL_WAIT_SECONDS", "0.01")
    for logical in LOGICAL_DATASETS:
        monkeypatch.setenv(
            f"NBA_BACKFILL_WAREHOUSE__DATASETS__{logical.upper()}", f"{logical}_{suffix}"
        )
    close_shared()
    wh = shared_warehouse()
    seed_phase2(wh, seed=7, final_through=BQ_END + dt.timedelta(days=3))
    wh.ensure_tables([TABLES[TOGS]])
    close_shared()
    return get_settings()


def test_two_backfill_processes_on_bigquery(
    bigquery_env: Settings,
    duckdb_reference: dict[dt.date, Any],
    fast_scenario: Scenario,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
):
    common = ["--end", str(BQ_END), "--tables", TOGS, "--skip-phase4", "--chunk-days", "3"]
    release = tmp_path / "release-first-run"
    first = _cli(
        ["run", "--start", str(BQ_START), *common], _paused_env(f"{TOGS}:2021-10-20", release)
    )
    overlap = ["run", "--start", "2021-10-22", *common]
    procs = [first]
    waiting_log = tmp_path / "waiting.out"
    try:
        _wait_until(lambda: _lock_held(lock_name(bigquery_env)))
        refused = _cli(overlap, _child_env())
        with waiting_log.open("w") as sink:
            waiting = _cli(overlap, _child_env(NBA_BACKFILL_RUN__LOCK_WAIT_SECONDS="300"), sink)
        procs += [refused, waiting]
        refused_out, _ = refused.communicate(timeout=300)
        # The first goes on once the third says it is waiting for it.
        _wait_until(
            lambda: "waiting up to" in waiting_log.read_text() or waiting.poll() is not None
        )
        release.touch()
        first_out, _ = first.communicate(timeout=300)
        waiting.wait(timeout=300)
        waiting_out = waiting_log.read_text()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert first.returncode == 0, first_out[-3000:]
    assert refused.returncode == 1, refused_out[-3000:]
    assert "another backfill is writing to bigquery" in refused_out
    assert f"backfill · {BQ_START}..{BQ_END}" in refused_out  # names the holder
    assert waiting.returncode == 0, waiting_out[-3000:]
    assert "waiting up to" in waiting_out

    from nba_backfill.warehouse import shared_warehouse

    close_shared()
    wh = shared_warehouse()
    spec = TABLES[TOGS]
    audit = wh.key_audit(spec, BQ_START, BQ_END)
    assert audit.duplicate_keys == 0 and audit.null_keys == 0
    assert duckdb_reference and wh.date_profile(spec, BQ_START, BQ_END) == duckdb_reference
    close_shared()
    record(
        fast_scenario,
        "two processes (BigQuery emulator)",
        second="refused: RunLocked naming the first",
        third="waited, then completed",
        duplicate_keys=0,
        rows_equal_duckdb=audit.rows,
    )
