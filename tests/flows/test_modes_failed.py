"""Reprocess mode ``failed`` (issue 18, item 1): the dates of a chunk that failed in an earlier
run, read from the Prefect test server's run history, are planned (reason ``failed``) and
rewritten by a ``mode="failed"`` run; nothing else is."""

from __future__ import annotations

import datetime as dt

import pytest

from bench.checksum import checksum
from nba_backfill.catalog import TABLES, TDGS, TDZA
from nba_backfill.planner import Planner, Selection
from nba_backfill.rerun import failed_dates
from nba_backfill.settings import Settings
from nba_backfill.warehouse import close_shared, shared_warehouse
from tests.conftest import SLICE_START

pytestmark = pytest.mark.usefixtures("prefect_server")

END = dt.date(2021, 11, 10)
FAULT_DAY = dt.date(2021, 10, 28)


def test_mode_failed_plans_and_fills_the_dates_of_a_failed_chunk(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.backfill import backfill
    from flows.hooks import run_summary
    from tasks.history import read_failed_runs

    since = dt.datetime.now(dt.UTC)
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__PERMANENT", f"team_defense_game_summary:{FAULT_DAY}")
    close_shared()
    state = backfill(SLICE_START, END, [TDGS], chunk_days=7, skip_phase4=True, return_state=True)
    assert state.is_failed()
    summary = run_summary(state)
    assert summary is not None
    failed = [dt.date.fromisoformat(d) for d in summary["failed_dates"][TDGS]]
    assert FAULT_DAY in failed and len(failed) > 1  # the whole chunk

    monkeypatch.delenv("NBA_BACKFILL_FAULTS__PERMANENT")
    close_shared()
    wh = shared_warehouse()
    targets = failed_dates(wh, read_failed_runs(since), SLICE_START, END)
    assert targets == {TDGS: failed}
    # Planned with reason "failed"; downstream, the zone analysis dates reading them (its
    # bootstrap days excepted) — Phase 4 here.
    plan = Planner(wh).plan(SLICE_START, END, [TDGS], 7, select=Selection("failed", failed=targets))
    assert plan.tables[TDGS].reasons() == {d: "failed" for d in failed}
    assert TDZA in plan.tables
    alone = Planner(wh).plan(
        SLICE_START, END, None, 7, select=Selection("failed", failed=targets, downstream=False)
    )
    assert {t: tp.to_fill for t, tp in alone.tables.items()} == {TDGS: failed}
    # Outside the range asked for, nothing: failed dates are those of the run's range.
    assert failed_dates(wh, read_failed_runs(since), END, END) == {}

    lo, hi = failed[0] - dt.timedelta(days=1), failed[-1] + dt.timedelta(days=1)
    outside = [checksum(wh, TABLES[TDGS], SLICE_START, lo), checksum(wh, TABLES[TDGS], hi, END)]
    close_shared()
    state = backfill(
        SLICE_START, END, [TDGS], chunk_days=7, skip_phase4=True, mode="failed", return_state=True
    )
    assert state.is_completed(), state.message
    wh = shared_warehouse()
    assert [
        checksum(wh, TABLES[TDGS], SLICE_START, lo),
        checksum(wh, TABLES[TDGS], hi, END),
    ] == outside
    assert Planner(wh).plan(SLICE_START, END, [TDGS], 7, phases=(3,)).empty
