"""Issue 12, case 8 through the flows: run 1 (``skip_phase4``) refills a Phase 3 date, run 2
rewrites the dates whose windows read it (and only those: Phase 4's and the upcoming context's),
run 3 has nothing to do."""

from __future__ import annotations

import pytest

from bench.checksum import checksum
from nba_backfill.catalog import MLFS, PCF, PDC, PHASE4, PSZA, TABLES, TDGS, TDZA, UPCG
from nba_backfill.settings import Settings
from nba_backfill.warehouse import shared_warehouse
from tests.test_stale import P4_END, P4_START, REFILLED, prefill, window_dates

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_a_refill_by_one_run_is_followed_by_phase4_in_the_next(seeded: Settings) -> None:
    from flows.backfill import backfill

    wh = shared_warehouse()
    prefill(wh)
    stale = window_dates(wh, REFILLED, 60, P4_END)
    before = {s.name: checksum(wh, TABLES[s.name], stale[0], stale[-1]) for s in PHASE4}

    first = backfill(REFILLED, REFILLED, skip_phase4=True, return_state=True)
    assert first.is_completed(), first.message
    filled = {r["table"]: r["filled"] for r in first.result()["tables"]}
    assert filled[TDGS] == 1

    second = backfill(P4_START, P4_END, return_state=True)
    assert second.is_completed(), second.message
    filled = {r["table"]: r["filled"] for r in second.result()["tables"]}
    # The upcoming context's dates whose 30 days read the refilled date (the opponent's last
    # 10 games) are stale too, and the player tables reading them the same date.
    assert window_dates(wh, REFILLED, 30, P4_END) == stale
    assert {t: filled[t] for t in (UPCG, TDZA, PSZA, PDC, PCF, MLFS)} == {
        UPCG: len(stale),
        TDZA: len(stale),
        PSZA: len(stale),
        PDC: len(stale),
        PCF: len(stale),
        MLFS: len(stale),
    }
    after = {s.name: checksum(wh, TABLES[s.name], stale[0], stale[-1]) for s in PHASE4}
    # The zone analysis now reads the refilled date: its values changed. The player tables'
    # did not: 2021 is before team_context.py's 2024-10-01 floor, the context's team columns
    # are its 0.0 with or without the date.
    assert after[TDZA] != before[TDZA]
    assert after[PSZA] == before[PSZA] and after[PDC] == before[PDC]

    third = backfill(P4_START, P4_END, return_state=True)
    assert third.is_completed()
    assert all(r["filled"] == 0 for r in third.result()["tables"])
