"""The per-date gate's rule (issue 18 item 3): a Phase 4 date is held back when a window it
reads holds a Phase 3 date the gate found not complete, and a held-back date holds back the
dates that read it in turn; the planner takes exactly those dates out of a plan."""

from __future__ import annotations

import datetime as dt

from nba_backfill.catalog import MLFS, PCF, PDC, PHASE4, PSZA, TDGS, TDZA, UPCG
from nba_backfill.planner import Chunk, Plan, TablePlan, chunk_dates, hold_back
from nba_backfill.readiness import held_back

D = dt.date
DAYS = [D(2021, 11, 25) + dt.timedelta(days=n) for n in range(11)]  # 11-25 .. 12-05


def test_two_bad_team_defense_dates_hold_back_the_zone_windows_after_them():
    held = held_back(PHASE4, DAYS, {TDGS: [D(2021, 12, 1), D(2021, 12, 2)]})
    # team_defense_zone_analysis reads the 60 days before each date: from 12-02 on.
    tdza = held[TDZA]
    assert sorted(tdza) == [D(2021, 12, d) for d in range(2, 6)]
    assert tdza[D(2021, 12, 2)] == (
        "held back: reads team_defense_game_summary 2021-12-01 (incomplete)"
    )
    assert tdza[D(2021, 12, 3)] == (
        "held back: reads team_defense_game_summary 2021-12-01 (incomplete) (+1 more)"
    )
    # Tables reading no team defense are not held back at all.
    assert held[PSZA] == {} and held[PDC] == {}
    # The composite factors and the feature store read the zone table on the same date.
    for table in (PCF, MLFS):
        assert sorted(held[table]) == sorted(tdza), table
    assert held[PCF][D(2021, 12, 2)] == (
        "held back: reads team_defense_zone_analysis 2021-12-02 (held back)"
    )


def test_a_bad_upcoming_context_date_holds_back_that_date_only():
    """A same-date input: the one date, of every table reading it; the zone table reads none."""
    bad = D(2021, 11, 30)
    held = held_back(PHASE4, DAYS, {UPCG: [bad]})
    assert held[TDZA] == {}
    for table in (PSZA, PDC, PCF, MLFS):
        assert list(held[table]) == [bad], table
    assert held[PSZA][bad] == (
        "held back: reads upcoming_player_game_context 2021-11-30 (incomplete)"
    )


def test_hold_back_takes_the_dates_out_of_the_plan_and_recuts_the_chunks():
    expected = DAYS
    tp = TablePlan(TDZA, 4, expected, {DAYS[0]}, DAYS[1:], [], {})
    tp.chunks = chunk_dates(TDZA, tp.to_fill, expected, 31)
    plan = Plan(DAYS[0], DAYS[-1], 31, {TDZA: tp})
    hold = {D(2021, 11, 25): "held back: x", D(2021, 12, 4): "held back: y"}
    out = hold_back(plan, {TDZA: hold})
    # 11-25 is complete already: nothing is held back there.
    assert out == {TDZA: {D(2021, 12, 4): "held back: y"}}
    assert tp.skipped[D(2021, 12, 4)] == "held back: y"
    assert D(2021, 12, 4) not in tp.to_fill
    # one sparse chunk over the rest: the held-back date is not among its dates
    assert [(c.start, c.end) for c in tp.chunks] == [(D(2021, 11, 26), D(2021, 12, 5))]
    assert list(tp.chunks[0].dates) == [d for d in DAYS[1:] if d != D(2021, 12, 4)]
    assert all(isinstance(c, Chunk) for c in plan.chunks)
