"""The process killed with SIGKILL — between chunk writes in the middle of Phase 3, and inside a
chunk's write (after its DELETE, before its COMMIT) — and then simply started again: the new run
plans only what is unfinished, fills it, and ends with exactly the clean run's rows, no
duplicate and no lost row. Nothing is cleaned up by hand: the killed run's DuckDB file lock goes
with its process, its run lock is released by the next run (its process is gone), and its flow
run, left Running by the kill, is marked Crashed.

The backfill runs as operators run it, ``nba-backfill run`` in a child process talking to the
session's Prefect server; the test reads the child's log as it runs and kills it."""

from __future__ import annotations

import datetime as dt
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.checksum import checksum
from nba_backfill.catalog import PGS, PHASE3, TABLES, TOGS
from nba_backfill.planner import Planner
from nba_backfill.runner import run_chunk
from nba_backfill.settings import Settings
from nba_backfill.validation import validate
from nba_backfill.warehouse import close_shared
from tests.chaos.conftest import (
    SCENARIOS,
    Scenario,
    duplicate_keys,
    record,
    reopen_clean,
    same_as_clean,
)

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(900)]
REPO = Path(__file__).resolve().parents[2]
FILLED = re.compile(
    r"(nba_analytics\.\w+) (\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2}): \d+ dates filled"
)


class Child:
    """``nba-backfill run`` in its own process, its output read line by line as it comes."""

    def __init__(self, scenario: Scenario, extra_env: dict[str, str] | None = None) -> None:
        from prefect.settings import PREFECT_API_URL

        env = {
            **os.environ,
            **(extra_env or {}),
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "COLUMNS": "400",  # one log record per line
            "PYTHONUNBUFFERED": "1",
        }
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "run",
                "--start",
                scenario.start.isoformat(),
                "--end",
                scenario.end.isoformat(),
                "--chunk-days",
                str(scenario.chunk_days),
                "--max-concurrency",
                str(scenario.max_concurrency),
                "--verbose",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, done: Callable[[list[str]], bool], timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.lines):
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None or time.monotonic() > deadline:
                tail = "\n".join(self.lines[-30:])
                raise AssertionError(f"the child ended or stalled before the kill point:\n{tail}")
            if line:
                self.lines.append(line)

    def kill(self) -> float:
        """SIGKILL; returns the moment it died (time.monotonic())."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        return time.monotonic()

    def filled_chunks(self) -> list[tuple[str, dt.date, dt.date]]:
        return [
            (m[1], dt.date.fromisoformat(m[2]), dt.date.fromisoformat(m[3]))
            for line in self.lines
            if (m := FILLED.search(line))
        ]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def _crashed_runs(since: dt.datetime) -> list[str]:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                start_time=FlowRunFilterStartTime(after_=since),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CRASHED])),
            )
        )
    return [r.name for r in runs if r.name.startswith("backfill ·")]


def _rerun_and_check(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch, killed_at: float, since: dt.datetime
) -> dict[str, object]:
    """Start again after the kill; check the plan, the result and the history."""
    from flows.backfill import backfill

    wh = reopen_clean(monkeypatch)
    plan = Planner(wh).plan(scenario.start, scenario.end, chunk_days=scenario.chunk_days)
    todo = {t: tp.to_fill for t, tp in plan.tables.items() if tp.to_fill}
    dups_after_kill = duplicate_keys(wh, scenario.start, scenario.end)
    assert dups_after_kill == 0
    close_shared()

    state = backfill(**scenario.args(), return_state=True)
    recovered_at = time.monotonic()
    assert state.is_completed(), state.message
    summary = state.result()
    wh = reopen_clean(monkeypatch)
    # It filled what was unfinished, nothing else (Phase 4 plans once its inputs exist).
    for row in summary["tables"]:
        if TABLES[row["table"]].phase == 3:
            assert row["filled"] == len(todo.get(row["table"], [])), row
    for phase in (3, 4):
        report = validate(wh, phase, scenario.start, scenario.end)
        assert report.ok, report.problems
    assert duplicate_keys(wh, scenario.start, scenario.end) == 0
    close_shared()
    tables = same_as_clean(scenario, Path(wh.settings.warehouse.duckdb_path))
    # No clean-up by hand, and the history says what happened to the killed run.
    deadline = time.monotonic() + 30
    while not _crashed_runs(since) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _crashed_runs(since), "the killed run was not marked Crashed"
    return {
        "planned_after_kill": {t.split(".")[1]: len(d) for t, d in todo.items()},
        "time_to_recover_s": round(recovered_at - killed_at, 1),
        "rerun_seconds": summary["seconds"],
        "duplicate_keys": 0,
        "lost_rows": 0,
        "rows": sum(n for n, _ in tables.values()),
        "tables_equal_clean_run": f"{len(tables)}/{len(tables)}",
    }


@pytest.mark.parametrize("scenario", SCENARIOS, indirect=True)
def test_sigkill_in_the_middle_of_phase3(
    scenario: Scenario, chaos_env: Settings, monkeypatch: pytest.MonkeyPatch
):
    wh = reopen_clean(monkeypatch)
    before = Planner(wh).plan(
        scenario.start, scenario.end, chunk_days=scenario.chunk_days, phases=(3,)
    )
    phase3_chunks = len(before.phase_chunks(3))
    close_shared()  # the child takes the file
    since = dt.datetime.now(dt.UTC)
    child = Child(scenario)
    try:
        kill_after = max(2, phase3_chunks // 3)
        child.wait_for(lambda lines: len(child.filled_chunks()) >= kill_after)
        killed_at = child.kill()
    finally:
        child.close()
    done_by_child = child.filled_chunks()

    wh = reopen_clean(monkeypatch)
    after = Planner(wh).plan(
        scenario.start, scenario.end, chunk_days=scenario.chunk_days, phases=(3,)
    )
    # Killed in the middle of Phase 3: some chunks written, not all.
    assert 0 < len(after.phase_chunks(3)) < phase3_chunks
    for table, lo, hi in done_by_child:
        # What the killed run finished is not planned again ...
        assert not [d for d in after.tables[table].to_fill if lo <= d <= hi], (table, lo, hi)
    for spec in PHASE3:
        # ... and nothing is half-written: a date holds complete rows or none.
        assert after.tables[spec.name].incomplete == [], spec.name
        assert set(after.tables[spec.name].to_fill) <= set(before.tables[spec.name].to_fill)
    close_shared()

    figures = _rerun_and_check(scenario, monkeypatch, killed_at, since)
    record(
        scenario,
        "SIGKILL mid-Phase 3",
        phase3_chunks=phase3_chunks,
        chunks_done_before_kill=len(done_by_child),
        **figures,
    )


WINDOWS = {
    "fast": (dt.date(2021, 11, 8), dt.date(2021, 11, 14)),
    "full": (dt.date(2023, 1, 9), dt.date(2023, 1, 15)),
}


@pytest.mark.parametrize("scenario", SCENARIOS, indirect=True)
def test_sigkill_inside_a_chunk_write(
    scenario: Scenario, chaos_env: Settings, monkeypatch: pytest.MonkeyPatch
):
    """player_game_summary holds stale rows on a week (2 teams a date: "saved 2 of 16 teams");
    the run replaces them, and is killed after the DELETE, before the COMMIT. The stale rows
    must still be there afterwards — nothing partial — and the next run replaces them."""
    lo, hi = WINDOWS[scenario.name]
    wh = reopen_clean(monkeypatch)
    week = sorted(wh.schedule(lo, hi))
    for table in (TOGS, PGS):
        run_chunk(wh, table, week, chaos_env.retry)
    for day in week:
        wh.fetch(
            f"DELETE FROM {PGS} WHERE game_date = @d AND team_abbr NOT IN "
            f"(SELECT DISTINCT team_abbr FROM {PGS} WHERE game_date = @d ORDER BY 1 LIMIT 2)",
            {"d": day},
        )
    stale = checksum(wh, TABLES[PGS], lo, hi)
    assert 0 < stale[0] < checksums_of_clean(scenario, lo, hi)
    close_shared()

    since = dt.datetime.now(dt.UTC)
    child = Child(
        scenario,
        {
            "NBA_BACKFILL_FAULTS__DELAY": ",".join(f"{PGS}:{d}" for d in week),
            "NBA_BACKFILL_FAULTS__DELAY_SECONDS": "600",
        },
    )
    try:
        child.wait_for(
            lambda lines: any("mid-write of nba_analytics.player_game" in x for x in lines)
        )
        time.sleep(0.5)  # well inside the pause: the DELETE ran, the COMMIT did not
        killed_at = child.kill()
    finally:
        child.close()

    wh = reopen_clean(monkeypatch)
    assert checksum(wh, TABLES[PGS], lo, hi) == stale  # rolled back: the old rows, all of them
    close_shared()
    figures = _rerun_and_check(scenario, monkeypatch, killed_at, since)
    record(scenario, "SIGKILL inside a chunk write", stale_rows_kept=stale[0], **figures)


def checksums_of_clean(scenario: Scenario, lo: dt.date, hi: dt.date) -> int:
    from tests.chaos.conftest import clean_checksum

    return clean_checksum(scenario, PGS, lo, hi)[0]
