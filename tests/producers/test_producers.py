"""Command producers without Prefect: settings, the start check, running a command, and a
chunk filled by the stand-in processor judged by the warehouse."""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.checksum import checksum
from nba_backfill.catalog import PGS, TABLES, TDGS, TOGS
from nba_backfill.errors import (
    ProducerFailed,
    ProducerIncomplete,
    UsageError,
    classify,
    classify_text,
)
from nba_backfill.params import resolve_params
from nba_backfill.producers import check_producers, command_argv, run_command, stop_all
from nba_backfill.runner import ChunkResult, add_listener, remove_listener, run_chunk
from nba_backfill.settings import ProducerSettings, RetrySettings, Settings, load_settings
from nba_backfill.warehouse import shared_warehouse
from tests.producers.conftest import standin

FAST = RetrySettings(max_attempts=3, initial_wait_seconds=0, max_wait_seconds=0, jitter_seconds=0)
WEEK = (dt.date(2021, 11, 1), dt.date(2021, 11, 7))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone for our purpose.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[1].startswith("Z"))


def _all_gone(pids: Path, within: float = 10) -> bool:
    """Whether every pid noted in ``pids`` is gone within ``within`` seconds (a killed process
    dies asynchronously)."""
    noted = [int(p) for p in pids.read_text().split()]
    deadline = time.monotonic() + within
    while any(_alive(p) for p in noted):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- settings and the start check -------------------------------------------------------------
def test_a_producer_per_table_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NBA_BACKFILL_PRODUCERS__PLAYER_GAME_SUMMARY__COMMAND", "true {start}")
    monkeypatch.setenv("NBA_BACKFILL_PRODUCERS__PLAYER_GAME_SUMMARY__PRE_DELETE", "true")
    monkeypatch.setenv("NBA_BACKFILL_PRODUCERS__PLAYER_GAME_SUMMARY__ENV", '{"A": "1"}')
    s = load_settings()
    p = s.producer(PGS)
    assert p is not None and p.command == "true {start}" and p.pre_delete and p.env == {"A": "1"}
    assert s.producer(TOGS) is None  # the default: the built-in SQL model


def test_a_producer_of_an_unknown_table_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NBA_BACKFILL_PRODUCERS__PLAYER_GAME_SUMARY__COMMAND", "true")
    with pytest.raises(UsageError, match=r"player_game_sumary.*not a table"):
        load_settings()


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("true --day {day}", "unknown placeholder {day}"),
        ("true {start!r}x{", "bad placeholder"),
        ("no-such-processor-xyz --start-date {start}", "executable 'no-such-processor-xyz'"),
        ("./missing.py {dates}", "executable './missing.py' not found"),
        ("'unclosed {start}", "cannot split"),
    ],
)
def test_a_command_that_cannot_run_is_one_line_at_start(command: str, problem: str):
    s = load_settings(producers={"player_game_summary": {"command": command}})
    with pytest.raises(UsageError) as err:
        resolve_params(s, "2021-11-01", "2021-11-07")
    message = str(err.value)
    assert problem in message and "\n" not in message
    assert "NBA_BACKFILL_PRODUCERS__PLAYER_GAME_SUMMARY__COMMAND" in message
    # A run of other tables is not stopped by it.
    resolve_params(s, "2021-11-01", "2021-11-07", tables=[TOGS])


def test_an_executable_is_a_name_on_path_or_a_path_from_the_cwd(tmp_path: Path):
    job = tmp_path / "jobs" / "job.sh"
    job.parent.mkdir()
    job.write_text("#!/bin/sh\nexit 0\n")
    job.chmod(0o755)
    ok = {
        TOGS: {"command": "sh -c 'exit 0' {start}"},
        PGS: {"command": "./jobs/job.sh --dates {dates}", "cwd": str(tmp_path)},
        TDGS: {"command": f"{job} --start-date {{start}} --end-date {{end}}"},
    }
    check_producers(load_settings(producers=ok))
    bad_cwd = {PGS: {"command": "true", "cwd": str(tmp_path / "nowhere")}}
    with pytest.raises(UsageError, match="working directory"):
        check_producers(load_settings(producers=bad_cwd))


def test_placeholders_are_filled_per_word():
    p = ProducerSettings(command="job --start-date {start} --end-date={end} --dates {dates}")
    days = [dt.date(2021, 11, 1), dt.date(2021, 11, 3)]
    assert command_argv(p, days[0], days[-1], days) == [
        "job",
        "--start-date",
        "2021-11-01",
        "--end-date=2021-11-03",
        "--dates",
        "2021-11-01,2021-11-03",
    ]


# --- the retry classifier on a processor's text ------------------------------------------------
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("403 Quota exceeded: Your table exceeded quota for imports", "quota"),
        ("google.api_core.exceptions.Forbidden: 403 rateLimitExceeded", "quota"),
        ("429 Too Many Requests", "quota"),
        ("503 Service Unavailable", "server"),
        ("google.api_core.exceptions.InternalServerError: 500 Internal error", "server"),
        ("requests.exceptions.ReadTimeout: Read timed out. (read timeout=60)", "timeout"),
        ("400 Syntax error: Unexpected keyword WHERE at [3:1]", None),
        ("KeyError: 'player_lookup'", None),
    ],
)
def test_a_processors_stderr_is_classified_like_a_warehouse_error(text: str, reason: str | None):
    assert classify_text(text) == reason
    assert classify(ProducerFailed("x", reason=classify_text(text))) == reason


# --- running one command ---------------------------------------------------------------------
def test_output_is_streamed_line_by_line_and_the_exit_code_classified():
    lines: list[tuple[str, str]] = []
    script = "import sys; print('one'); print('two', file=sys.stderr); print('three')"
    run_command(
        [sys.executable, "-c", script],
        timeout_seconds=30,
        on_line=lambda s, line: lines.append((s, line)),
        what="t",
    )
    assert [x for x in lines if x[0] == "stdout"] == [("stdout", "one"), ("stdout", "three")]
    assert ("stderr", "two") in lines
    failing = "import sys; print('503 Service Unavailable', file=sys.stderr); sys.exit(3)"
    with pytest.raises(ProducerFailed, match="exit code 3: 503") as err:
        run_command([sys.executable, "-c", failing], timeout_seconds=30, on_line=print, what="t")
    assert classify(err.value) == "server"


def _hanging(pids: Path) -> list[str]:
    """A command that starts a grandchild (another process of its group), notes both pids and
    sleeps; it ignores SIGTERM, so only SIGKILL stops it."""
    script = (
        "import os, signal, subprocess, sys, time, pathlib;"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
        f"pathlib.Path({str(pids)!r}).write_text(f'{{os.getpid()}} {{c.pid}}');"
        "print('working', flush=True); time.sleep(600)"
    )
    return [sys.executable, "-c", script]


def test_the_timeout_stops_the_whole_process_group(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("nba_backfill.producers.TERM_GRACE_SECONDS", 0.5)
    pids = tmp_path / "pids"
    started = time.monotonic()
    with pytest.raises(ProducerFailed, match="timeout") as err:
        run_command(_hanging(pids), timeout_seconds=2, on_line=lambda *_: None, what="t")
    assert time.monotonic() - started < 15
    assert classify(err.value) == "timeout"  # retried like a warehouse timeout
    assert _all_gone(pids)


def test_stop_all_ends_a_running_command_and_its_children(tmp_path: Path):
    """What the flows' cancellation and crash hooks call: the command and its children stop,
    and the chunk's attempt fails instead of waiting for the timeout."""
    pids = tmp_path / "pids"
    failure: list[BaseException] = []

    def run() -> None:
        try:
            run_command(_hanging(pids), timeout_seconds=600, on_line=lambda *_: None, what="t")
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while not pids.exists() or len(pids.read_text().split()) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(stop_all()) == 1
    worker.join(timeout=30)
    assert not worker.is_alive() and isinstance(failure[0], ProducerFailed)
    assert "stopped" in str(failure[0]) and classify(failure[0]) is None  # never retried
    assert _all_gone(pids)


# --- a chunk filled by the stand-in, judged by the warehouse ---------------------------------
def _dates(wh, start: dt.date, end: dt.date) -> list[dt.date]:
    return sorted(wh.schedule(start, end))


def test_the_standin_writes_what_the_sql_model_writes(seeded: Settings):
    wh = shared_warehouse()
    dates = _dates(wh, *WEEK)
    run_chunk(wh, TOGS, dates, FAST)
    sql = checksum(wh, TABLES[TOGS], dates[0], dates[-1])
    wh.fetch(f"DELETE FROM {TOGS} WHERE game_date BETWEEN @a AND @b", {"a": WEEK[0], "b": WEEK[1]})
    res = run_chunk(wh, TOGS, dates, FAST, producer=standin("team_offense_game_summary"))
    assert res.ok and res.dates_filled == dates and res.rows_written > 0
    assert checksum(wh, TABLES[TOGS], dates[0], dates[-1]) == sql


def test_quota_failures_are_retried_then_land(seeded: Settings, tmp_path: Path):
    wh = shared_warehouse()
    dates = _dates(wh, *WEEK)
    producer = standin(
        "team_offense_game_summary", STANDIN_QUOTA_FAILS="2", STANDIN_STATE=str(tmp_path / "n")
    )
    lines: list[str] = []
    res = run_chunk(
        wh, TOGS, dates, FAST, producer=producer, on_output=lambda s, x: lines.append(x)
    )
    assert [e.reason for e in res.retries] == ["quota", "quota"]
    assert res.ok and res.dates_filled == dates
    assert any("Quota exceeded" in x for x in lines)  # its stderr, line by line
    assert any(x.startswith("done:") for x in lines)


def test_a_permanent_failure_is_not_retried(seeded: Settings):
    wh = shared_warehouse()
    dates = _dates(wh, *WEEK)
    producer = standin("team_offense_game_summary", STANDIN_FAIL="KeyError: 'team_abbr'")
    with pytest.raises(ProducerFailed, match="exit code 1: KeyError") as err:
        run_chunk(wh, TOGS, dates, FAST, producer=producer)
    assert classify(err.value) is None


def test_a_skipped_team_makes_its_date_incomplete(seeded: Settings):
    wh = shared_warehouse()
    dates = _dates(wh, *WEEK)
    team = wh.fetch(
        "SELECT home_team_tricode AS t FROM nba_raw.nbac_schedule WHERE game_date = @d LIMIT 1",
        {"d": dates[2]},
    )[0]["t"]
    producer = standin("team_offense_game_summary", STANDIN_SKIP=f"{team}:{dates[2]}")
    seen: list[ChunkResult] = []
    add_listener(seen.append)
    try:
        with pytest.raises(ProducerIncomplete, match=f"1 date.*not complete.*: {dates[2]}$"):
            run_chunk(wh, TOGS, dates, FAST, producer=producer)
    finally:
        remove_listener(seen.append)
    assert seen[0].dates_incomplete == [dates[2]]
    assert seen[0].dates_filled == [d for d in dates if d != dates[2]]


def test_a_silent_zero_exit_is_every_date_incomplete(seeded: Settings):
    wh = shared_warehouse()
    dates = _dates(wh, *WEEK)
    with pytest.raises(ProducerIncomplete) as err:
        run_chunk(wh, TOGS, dates, FAST, producer=standin(TOGS, STANDIN_SILENT="1"))
    assert err.value.dates == dates and str(dates[0]) in str(err.value)
    assert classify(err.value) is None  # not retried: a zero exit says nothing about why


def test_a_hanging_processor_is_stopped_at_the_timeout(seeded: Settings, tmp_path, monkeypatch):
    monkeypatch.setattr("nba_backfill.producers.TERM_GRACE_SECONDS", 0.5)
    wh = shared_warehouse()
    dates = _dates(wh, *WEEK)
    pids = tmp_path / "pids"
    producer = standin(TOGS, timeout=3, STANDIN_HANG="1", STANDIN_PIDS=str(pids))
    one = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
    with pytest.raises(ProducerFailed, match="timeout"):
        run_chunk(wh, TOGS, dates, one, producer=producer)
    assert _all_gone(pids)
    # The warehouse is this process's again.
    assert wh.schedule(*WEEK)


def test_merge_leaves_orphans_and_pre_delete_removes_them(seeded: Settings):
    wh = shared_warehouse()
    dates = _dates(wh, *WEEK)
    run_chunk(wh, TOGS, dates, FAST)
    rows = wh.row_count(TABLES[TOGS], *WEEK)
    # A row the model no longer produces (a team renamed since, say): MERGE keeps it.
    wh.fetch(
        f"INSERT INTO {TOGS} SELECT * REPLACE ('ZZZ' AS team_abbr) FROM {TOGS} "
        "WHERE game_date = @d LIMIT 1",
        {"d": dates[0]},
    )
    # MERGE keeps the orphan row, and the date holding it is not complete (a team that
    # played no game there): the chunk fails naming it.
    with pytest.raises(ProducerIncomplete, match=f": {dates[0]}$"):
        run_chunk(wh, TOGS, dates, FAST, producer=standin(TOGS))
    assert wh.row_count(TABLES[TOGS], *WEEK) == rows + 1
    res = run_chunk(wh, TOGS, dates, FAST, producer=standin(TOGS, pre_delete=True))
    assert wh.row_count(TABLES[TOGS], *WEEK) == rows
    assert res.rows_deleted == rows + 1 and res.rows_written == rows and res.ok


# --- a Python entry point ------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]


def _entry(name: str, **env: str) -> ProducerSettings:
    return ProducerSettings(
        entry_point=f"tests.producers.standin_entry:{name}", cwd=REPO, env=env, timeout_seconds=120
    )


def test_an_entry_point_fills_a_chunk_with_the_same_retries(seeded: Settings, tmp_path: Path):
    wh = shared_warehouse()
    dates = _dates(wh, *WEEK)
    run_chunk(wh, TOGS, dates, FAST)
    sql = checksum(wh, TABLES[TOGS], dates[0], dates[-1])
    wh.fetch(f"DELETE FROM {TOGS} WHERE game_date BETWEEN @a AND @b", {"a": WEEK[0], "b": WEEK[1]})
    lines: list[str] = []
    producer = _entry("team_offense", STANDIN_QUOTA_FAILS="1", STANDIN_STATE=str(tmp_path / "n"))
    res = run_chunk(
        wh, TOGS, dates, FAST, producer=producer, on_output=lambda s, x: lines.append(x)
    )
    assert [e.reason for e in res.retries] == ["quota"]  # its traceback's last line, classified
    assert res.ok and checksum(wh, TABLES[TOGS], dates[0], dates[-1]) == sql
    assert f"merging {len(dates)} dates" in lines


@pytest.mark.parametrize(
    ("entry_point", "problem"),
    [
        ("no_such_module_xyz:f", "No module named 'no_such_module_xyz'"),
        ("tests.producers.standin_entry:nope", "is not a callable"),
        ("tests.producers.standin_entry:NOT_CALLABLE", "is not a callable"),
    ],
)
def test_a_bad_entry_point_is_one_line_at_start(entry_point: str, problem: str):
    s = load_settings(
        producers={"team_offense_game_summary": {"entry_point": entry_point, "cwd": str(REPO)}}
    )
    with pytest.raises(UsageError) as err:
        check_producers(s)
    message = str(err.value)
    assert problem in message and "\n" not in message
    assert "NBA_BACKFILL_PRODUCERS__TEAM_OFFENSE_GAME_SUMMARY__ENTRY_POINT" in message


def test_command_and_entry_point_together_are_refused():
    with pytest.raises(UsageError, match="command or entry_point, not both"):
        load_settings(
            producers={"team_offense_game_summary": {"command": "true", "entry_point": "m:f"}}
        )
