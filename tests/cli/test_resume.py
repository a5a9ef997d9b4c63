"""``nba-backfill resume`` after a SIGKILL (issue 18 item 5), and two defects of the CLI around
a run's history and its failure (``plan --mode failed`` started Prefect's temporary server; a
failed ``run`` printed Prefect's traceback before its one-line error).

Everything runs as operators run it: ``python -m cli`` subprocesses with a fresh shell's
environment (no PREFECT_API_URL) talking to this module's own local Prefect server, started
as ``make ui`` does. The kill is deterministic: a write of one chunk pauses (the ``delay``
fault seam) and the process is killed once the history says the chunks before it completed
and it is running."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cli import local_server
from nba_backfill.catalog import TABLES, TOGS
from nba_backfill.planner import Chunk, Planner
from nba_backfill.rerun import parse_chunk_run
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.warehouse import close_shared, open_warehouse
from tests.cli.test_local_server import REPO, Server, _env, _free_port, cli

pytestmark = pytest.mark.timeout(900)
START, END = dt.date(2021, 11, 1), dt.date(2021, 11, 12)
RANGE = ["--start", START.isoformat(), "--end", END.isoformat()]
RUN = ["run", *RANGE, "--tables", "team_offense_game_summary", "--skip-phase4"]
RUN += ["--chunk-days", "3", "--max-concurrency", "1"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("home")
    port = _free_port()
    env = _env(home, PREFECT_SERVER_API_PORT=str(port))
    proc = cli("server", "start", env=env)
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield Server(home, port, env)
    finally:
        local_server.stop_server(home)


def shell(server: Server, **extra: str) -> dict[str, str]:
    """A fresh shell on this module's server and the test's warehouse (``seeded``)."""
    fast = {k: v for k, v in os.environ.items() if k.startswith("NBA_BACKFILL_RETRY__")}
    return {**_env(server.home, PREFECT_SERVER_API_PORT=str(server.port)), **fast, **extra}


def history(server: Server) -> Any:
    """A Prefect client of this module's server, in this process."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    class _Client:
        def __enter__(self) -> Any:
            self._settings = temporary_settings({PREFECT_API_URL: server.api})
            self._settings.__enter__()
            self._client = get_client(sync_client=True)
            return self._client.__enter__()

        def __exit__(self, *exc: object) -> None:
            self._client.__exit__(*exc)
            self._settings.__exit__(*exc)

    return _Client()


def chunks_of(settings: Settings) -> list[Chunk]:
    wh = open_warehouse(settings, read_only=True)
    try:
        return Planner(wh).plan(START, END, [TOGS], 3, phases=(3,)).tables[TOGS].chunks
    finally:
        wh.close()


def written(settings: Settings) -> dict[dt.date, object]:
    """When each date of team_offense_game_summary on the range was written."""
    wh = open_warehouse(settings, read_only=True)
    try:
        return {d: last for d, (_, last) in wh.written_at(TABLES[TOGS], START, END).items()}
    finally:
        wh.close()


def tag(c: Chunk) -> str:
    return f"{c.start}..{c.end}"


def kill_when_paused(server: Server, env: dict[str, str], args: list[str], chunks: list[Chunk]):
    """Start ``args``, the write of ``chunks[2]`` pausing; SIGKILL the process once the history
    says chunks 0 and 1 Completed and chunk 2 runs. Returns the killed flow run's id."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.objects import StateType

    from tasks.history import _task_runs

    paused = chunks[2]
    env = {
        **env,
        "NBA_BACKFILL_FAULTS__DELAY": f"{TOGS}:{paused.start}",
        "NBA_BACKFILL_FAULTS__DELAY_SECONDS": "600",
    }
    with history(server) as client:
        known = {
            r.id
            for r in client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["backfill"]))
            )
        }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", *args],
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 400
        while True:
            assert proc.poll() is None, "the run ended before the kill point"
            assert time.monotonic() < deadline, "the run never reached the kill point"
            with history(server) as client:
                runs = [
                    r
                    for r in client.read_flow_runs(
                        flow_filter=FlowFilter(name=FlowFilterName(any_=["backfill"]))
                    )
                    if r.id not in known
                ]
                states = {
                    f"{ref.start}..{ref.end}": tr.state_type
                    for r in runs
                    for tr in _task_runs(client, r.id)
                    if (ref := parse_chunk_run(tr.name, tr.tags)) and ref.table == TOGS
                }
            done = all(states.get(tag(c)) == StateType.COMPLETED for c in chunks[:2])
            if done and states.get(tag(paused)) == StateType.RUNNING:
                break
            time.sleep(1)
        [run] = runs
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        return str(run.id)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def dates_of(chunks: list[Chunk]) -> set[dt.date]:
    return {d for c in chunks for d in c.dates}


def test_resume_after_sigkill_fills_exactly_the_rest(server: Server, seeded: Settings):
    """Mode missing: the killed run filled two chunks; resume fills the others and nothing it
    filled; a second resume and a plan have nothing left."""
    close_shared()
    chunks = chunks_of(seeded)
    assert len(chunks) == 4
    env = shell(server)
    run_id = kill_when_paused(server, env, RUN, chunks)
    after_kill = written(seeded)
    assert set(after_kill) == dates_of(chunks[:2])  # what the killed run filled, no more

    proc = cli("resume", run_id, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = " ".join(proc.stdout.split())
    assert f"({run_id}): Running, not finished" in text
    after = written(seeded)
    by_resume = {d for d, w in after.items() if after_kill.get(d) != w}
    assert by_resume == dates_of(chunks) - set(after_kill)
    assert set(after) == dates_of(chunks)

    again = cli("resume", run_id, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to do" in again.stdout
    assert written(seeded) == after
    plan = cli("plan", *RANGE, "--tables", "team_offense_game_summary", "--json", env=env)
    assert json.loads(plan.stdout)["tables"][TOGS]["chunks"] == []


def test_resume_of_mode_all_does_not_rewrite_what_the_killed_run_rewrote(
    server: Server, seeded: Settings
):
    """Mode all rewrites complete dates, so completeness cannot tell what the killed run did:
    resume rewrites the chunks that did not complete under it, and the second resume none. A
    completed run and an unknown one are refused in one line, exit 2."""
    chunks = chunks_of(seeded)
    wh = open_warehouse(seeded)
    try:
        for c in chunks:
            assert run_chunk(wh, TOGS, list(c.dates), RetrySettings(max_attempts=1)).ok
    finally:
        wh.close()
    close_shared()
    before = written(seeded)
    env = shell(server)
    run_id = kill_when_paused(server, env, [*RUN, "--mode", "all", "--no-downstream"], chunks)
    after_kill = written(seeded)
    assert {d for d, w in after_kill.items() if before[d] != w} == dates_of(chunks[:2])

    proc = cli("resume", run_id, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = written(seeded)
    assert {d for d, w in after.items() if after_kill[d] != w} == dates_of(chunks[2:])

    again = cli("resume", run_id, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to do" in again.stdout
    assert written(seeded) == after

    with history(server) as client:
        from prefect.client.schemas.filters import FlowFilter, FlowFilterName

        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["backfill"])))
    [first_resume, *_] = sorted(
        (r for r in runs if (r.parameters or {}).get("resume_from") == run_id),
        key=lambda r: r.start_time,
    )
    for ref, says in (
        (str(first_resume.id), f"({first_resume.id}) completed: nothing to resume"),
        ("7b0c1a52-0000-4000-8000-000000000000", "no backfill run"),
        ("no such run", "no backfill run 'no such run'"),
    ):
        refused = cli("resume", ref, env=env)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "Traceback" not in refused.stdout + refused.stderr
        [line] = [ln for ln in refused.stderr.splitlines() if ln.strip()]
        assert line.startswith("error: ") and says in line, line


def test_a_failed_run_prints_one_error_line_and_plan_failed_reads_it(
    server: Server, seeded: Settings
):
    """A chunk failing for good: exit 1, the error in one line without Prefect's traceback;
    ``plan --mode failed`` reads that run from this server (no temporary server, no warning)
    and plans the failed chunk's dates."""
    env = shell(server, NBA_BACKFILL_FAULTS__PERMANENT=f"{TOGS}:2021-11-16")
    args = ["--start", "2021-11-15", "--end", "2021-11-21"]
    args += ["--tables", "team_offense_game_summary", "--chunk-days", "3"]
    proc = cli("run", *args, "--skip-phase4", env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both and "Flow run encountered an exception" not in both
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) <= 8, proc.stderr  # the fault seam's own warnings, and the error
    [error] = [ln for ln in lines if ln.startswith("error:")]
    assert error.startswith("error: 1 chunk(s) failed: phase3 · team_offense_game_summary")

    plan = cli("plan", *args, "--mode", "failed", "--json", "--no-estimate", env=shell(server))
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "temporary server" not in plan.stdout + plan.stderr
    assert "Warning" not in plan.stderr, plan.stderr
    togs = json.loads(plan.stdout)["tables"][TOGS]
    failed = {"2021-11-15": "failed", "2021-11-16": "failed", "2021-11-17": "failed"}
    assert togs["requested"] == failed


def test_a_wrapped_error_line_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the error line wraps at 80 columns; piped, it stays one line."""
    from io import StringIO

    from rich.console import Console

    import cli.app

    screen = StringIO()
    monkeypatch.setattr(
        cli.app, "err", Console(file=screen, force_terminal=True, width=120, color_system=None)
    )
    message = "1 chunk(s) failed: " + "; ".join(f"chunk {n} of a long list" for n in range(8))
    cli.app._error_line(message)
    shown = screen.getvalue().splitlines()
    assert len(shown) > 1 and all(len(line) <= 80 for line in shown)
    assert " ".join(" ".join(shown).split()) == f"error: {message}"
    piped = StringIO()
    monkeypatch.setattr(cli.app, "err", Console(file=piped, width=80, color_system=None))
    cli.app._error_line(message)
    assert piped.getvalue().splitlines() == [f"error: {message}"]
