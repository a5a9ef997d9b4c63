"""Mixed runs under a real (test) Prefect server: three Phase 3 tables filled by the stand-in
processor, the rest by their SQL models."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bench.checksum import checksum
from nba_backfill.catalog import PGS, TABLES, TDGS, TOGS
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.validation import validate
from nba_backfill.warehouse import close_shared, shared_warehouse
from tests.conftest import SLICE_START
from tests.producers.conftest import standin_command

pytestmark = pytest.mark.usefixtures("prefect_server")

END = dt.date(2021, 11, 10)  # three weeks: the bootstrap days, then one of Phase 4
ON_STANDIN = (TOGS, TDGS, PGS)


def _use_standin(monkeypatch: pytest.MonkeyPatch, env: dict[str, dict[str, str]]) -> None:
    for name in ON_STANDIN:
        bare = name.rpartition(".")[2]
        var = f"NBA_BACKFILL_PRODUCERS__{bare.upper()}__"
        monkeypatch.setenv(var + "COMMAND", standin_command(bare))
        monkeypatch.setenv(var + "ENV", json.dumps(env.get(name, {})))
    close_shared()  # settings are read once per process


def _logged(text: str) -> int:
    """How many log records on the server hold ``text`` (their batches land within seconds)."""
    import time

    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTextSearch

    deadline = time.monotonic() + 20
    with get_client(sync_client=True) as client:
        while True:
            logs = client.read_logs(
                log_filter=LogFilter(text=LogFilterTextSearch(query=f'"{text}"')), limit=200
            )
            found = sum(text in log.message for log in logs)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


def test_a_mixed_run_fills_gates_and_feeds_phase4_as_sql_does(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path
):
    from flows.backfill import backfill

    quota = {"STANDIN_QUOTA_FAILS": "1", "STANDIN_STATE": str(tmp_path / "quota")}
    _use_standin(monkeypatch, {PGS: quota})
    state = backfill(SLICE_START, END, chunk_days=7, max_concurrency=3, return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["retries"] == {"quota": 1}  # the stand-in's quota failure, retried
    wh = shared_warehouse()
    gate = validate(wh, 3, SLICE_START, END)
    assert gate.ok and all(t.coverage == 1.0 for t in gate.tables), gate.problems
    p4 = validate(wh, 4, SLICE_START, END)
    assert p4.ok and all(t.coverage == 1.0 and t.expected > 0 for t in p4.tables), p4.problems
    # The second run finds nothing to do.
    again = backfill(SLICE_START, END, chunk_days=7, return_state=True)
    assert again.is_completed() and all(r["filled"] == 0 for r in again.result()["tables"])
    # (Last: a Phase 3 table rewritten after Phase 4 makes Phase 4's dates stale.)
    # What the stand-in wrote is what the SQL models write: rewriting with them changes nothing.
    before = {n: checksum(wh, TABLES[n], SLICE_START, END) for n in ON_STANDIN}
    dates = sorted(wh.schedule(SLICE_START, END))
    fast = RetrySettings(max_attempts=1)
    for name in ON_STANDIN:
        run_chunk(wh, name, dates, fast)
    assert {n: checksum(wh, TABLES[n], SLICE_START, END) for n in ON_STANDIN} == before
    # The processors' lines are in the task runs' logs on the server (the UI shows them).
    assert _logged("stdout | done:") >= 3 * 3  # three tables, three weekly chunks at least
    assert _logged("Quota exceeded") >= 1  # the stand-in's stderr


def test_a_skipped_team_and_a_silent_exit_are_failed_chunks_naming_their_dates(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
):
    from flows.backfill import backfill
    from flows.hooks import run_summary

    day = dt.date(2021, 10, 21)
    wh = shared_warehouse()
    team = wh.fetch(
        "SELECT home_team_tricode AS t FROM nba_raw.nbac_schedule WHERE game_date = @d LIMIT 1",
        {"d": day},
    )[0]["t"]
    _use_standin(
        monkeypatch, {TOGS: {"STANDIN_SKIP": f"{team}:{day}"}, TDGS: {"STANDIN_SILENT": "1"}}
    )
    start, end = SLICE_START, dt.date(2021, 10, 24)
    since = dt.datetime.now(dt.UTC)
    state = backfill(start, end, tables=[TOGS, TDGS], skip_phase4=True, return_state=True)
    assert state.is_failed()
    summary = run_summary(state)
    assert summary is not None
    errors = {f["label"]: f["error"] for f in summary["failed_chunks"]}
    togs = next(e for label, e in errors.items() if "team_offense" in label)
    assert f"1 date(s) are not complete in the warehouse: {day}" in togs
    tdgs = next(e for label, e in errors.items() if "team_defense" in label)
    assert "exited 0" in tdgs and str(start) in tdgs
    assert day.isoformat() in summary["failed_dates"][TOGS]
    # The other dates the skipping processor wrote are complete.
    wh = shared_warehouse()  # the one before was closed with the settings
    other = [d for d in sorted(wh.schedule(start, end)) if d != day]
    assert all(validate(wh, 3, d, d, [TOGS]).ok for d in other)
    assert set(summary["failed_dates"]) == {TOGS, TDGS}

    # Once the processors behave, rerun-failed-dates refills exactly what they left, through
    # the same producers.
    from flows.rerun import rerun_failed_dates

    _use_standin(monkeypatch, {})
    state = rerun_failed_dates(since=since, return_state=True)
    assert state.is_completed(), state.message
    report = state.result()
    assert report["still_failing"] == {}
    assert report["fixed"][TOGS] == [day.isoformat()]
    assert len(report["fixed"][TDGS]) == len(other) + 1
    assert validate(shared_warehouse(), 3, start, end, [TOGS, TDGS]).ok
