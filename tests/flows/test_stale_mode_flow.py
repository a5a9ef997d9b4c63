"""Reprocess mode ``stale`` through the backfill flow (issue 18, item 2), under the Prefect test
server: a gamebook row corrected in place after player_game_summary was written makes that
date stale by its write fingerprints; a ``mode="stale"`` run rewrites it and nothing else."""

from __future__ import annotations

import datetime as dt

import pytest

from bench.checksum import checksum
from nba_backfill.catalog import PGS, TABLES, TOGS
from nba_backfill.planner import Planner, Selection
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.warehouse import close_shared, shared_warehouse
from tests.test_stale_fingerprints import correct_points

pytestmark = pytest.mark.usefixtures("prefect_server")

FAST = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
START, END = dt.date(2021, 11, 26), dt.date(2021, 12, 5)
CORRECTED = dt.date(2021, 12, 1)


def test_a_stale_run_rewrites_the_corrected_date_and_nothing_else(seeded: Settings) -> None:
    from flows.backfill import backfill

    wh = shared_warehouse()
    days = sorted(wh.schedule(START, END))
    for table in (TOGS, PGS):
        assert run_chunk(wh, table, days, FAST).ok
    correct_points(wh, CORRECTED)
    alone = Selection("stale", downstream=False)
    plan = Planner(wh).plan(START, END, [PGS], 31, phases=(3,), select=alone)
    assert {t: tp.to_fill for t, tp in plan.tables.items() if tp.to_fill} == {PGS: [CORRECTED]}
    before = checksum(wh, TABLES[PGS], START, CORRECTED - dt.timedelta(days=1))
    after = checksum(wh, TABLES[PGS], CORRECTED + dt.timedelta(days=1), END)
    day = checksum(wh, TABLES[PGS], CORRECTED, CORRECTED)
    close_shared()

    state = backfill(
        START, END, [PGS], skip_phase4=True, mode="stale", downstream=False, return_state=True
    )
    assert state.is_completed(), state.message
    wh = shared_warehouse()
    assert checksum(wh, TABLES[PGS], START, CORRECTED - dt.timedelta(days=1)) == before
    assert checksum(wh, TABLES[PGS], CORRECTED + dt.timedelta(days=1), END) == after
    assert checksum(wh, TABLES[PGS], CORRECTED, CORRECTED) != day
    assert Planner(wh).plan(START, END, [PGS], 31, phases=(3,), select=alone).empty


def test_the_rerun_refreshes_stale_dates_when_the_settings_ask(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``NBA_BACKFILL_PREFECT__RERUN_INCLUDE_STALE``: the scheduled rerun, with no failed run
    to redo, rewrites the dates a corrected gamebook row made stale and the windows reading
    them; nothing stale is left, the dates before are as they were."""
    from flows.rerun import rerun_failed_dates
    from nba_backfill.catalog import PHASE3, PHASE4
    from tests.conftest import SLICE_END, SLICE_FINAL_THROUGH, SLICE_START

    wh = shared_warehouse()
    for spec in PHASE3:
        assert run_chunk(
            wh, spec.name, sorted(wh.schedule(SLICE_START, SLICE_FINAL_THROUGH)), FAST
        ).ok
    week = dt.date(2021, 11, 29)
    for spec in PHASE4:
        assert run_chunk(wh, spec.name, sorted(wh.schedule(week, SLICE_END)), FAST).ok
    correct_points(wh, CORRECTED)
    earlier = {s.name: checksum(wh, s, SLICE_START, week) for s in (*PHASE3, *PHASE4)}
    day = checksum(wh, TABLES[PGS], CORRECTED, CORRECTED)
    close_shared()

    # Failed runs of other tests on the same server are not this test's: only runs from now on.
    since = dt.datetime.now(dt.UTC)
    state = rerun_failed_dates(since=since, return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["nothing_to_do"]  # the setting off: stale dates are not its work
    monkeypatch.setenv("NBA_BACKFILL_PREFECT__RERUN_INCLUDE_STALE", "true")
    close_shared()
    state = rerun_failed_dates(since=since, return_state=True)
    assert state.is_completed(), state.message
    assert not state.result()["nothing_to_do"]
    wh = shared_warehouse()
    assert checksum(wh, TABLES[PGS], CORRECTED, CORRECTED) != day
    assert {s.name: checksum(wh, s, SLICE_START, week) for s in (*PHASE3, *PHASE4)} == earlier
    stale = Planner(wh).plan(SLICE_START, SLICE_FINAL_THROUGH, None, 31, select=Selection("stale"))
    assert stale.empty, {t: tp.reasons() for t, tp in stale.tables.items() if tp.to_fill}
