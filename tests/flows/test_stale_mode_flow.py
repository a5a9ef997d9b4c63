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
