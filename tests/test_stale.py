"""Stale dates (issue 12, case 8): a refilled input date re-plans the dates whose windows read
it, within one run (the input is planned) and across runs (the input was written after them),
on a real DuckDB slice."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from cli.app import app
from nba_backfill.catalog import MLFS, PCF, PDC, PGS, PHASE3, PHASE4, PSZA, TDGS, TDZA, UPCG
from nba_backfill.planner import Planner
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.warehouse import Warehouse, close_shared, shared_warehouse
from nba_backfill.warehouse.wrapper import loader
from tests.conftest import SLICE_END, SLICE_START

D = dt.date
FAST = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
REFILLED = D(2021, 12, 1)
P4_START, P4_END = D(2021, 11, 29), SLICE_END


def fill(wh: Warehouse, table: str, start: dt.date, end: dt.date) -> None:
    result = run_chunk(wh, table, sorted(wh.schedule(start, end)), FAST)
    assert result.ok, result


def window_dates(wh: Warehouse, refilled: dt.date, days: int, end: dt.date) -> list[dt.date]:
    """Game dates whose window ``[d - days, d - 1]`` holds ``refilled``, through ``end``."""
    last = min(end, refilled + dt.timedelta(days=days))
    return sorted(wh.schedule(refilled + dt.timedelta(days=1), last))


def prefill(wh: Warehouse) -> None:
    """Phase 3 over the slice, then Phase 4 over its last week, while team_defense_game_summary
    lacked 2021-12-01 (a failed chunk: Phase 4 was computed without it)."""
    for spec in PHASE3:
        fill(wh, spec.name, SLICE_START, SLICE_END)
    loader(wh).delete_dates(PHASE3[1], [REFILLED])
    for spec in PHASE4:
        fill(wh, spec.name, P4_START, P4_END)


@pytest.fixture
def filled(seeded: Settings) -> Warehouse:
    wh = shared_warehouse()
    prefill(wh)
    return wh


def test_a_refilled_phase3_date_replans_the_phase4_dates_whose_windows_read_it(
    filled: Warehouse,
) -> None:
    wh = filled
    # Same run: the refill is planned, so are the zone dates reading it (60 days back) and,
    # through them, the composite and feature-store dates of those days.
    both = Planner(wh).plan(P4_START, P4_END, chunk_days=31)
    assert both.tables[TDGS].to_fill == [REFILLED]
    stale = window_dates(wh, REFILLED, 60, SLICE_END)
    assert stale == [D(2021, 12, 2), D(2021, 12, 3), D(2021, 12, 4), D(2021, 12, 5)]
    for table in (TDZA, PCF, MLFS):
        assert sorted(both.tables[table].stale) == stale, table
        assert both.tables[table].to_fill == stale, table
    # The upcoming context reads the team defense too (team_context.py: the opponent's last 10
    # games, 30 days back): its dates after the refill, and through them the Phase 4 player
    # tables reading its same-date rows.
    assert both.tables[UPCG].to_fill == stale
    assert both.tables[PSZA].to_fill == both.tables[PDC].to_fill == stale
    assert both.tables[TDZA].stale[stale[0]] == (
        "stale: input team_defense_game_summary 2021-12-01 is refilled first, in the same run"
    )
    # (the composite factors name their first input refilled first: the upcoming context, the
    # zones being refilled first too)
    assert both.tables[PCF].stale[stale[0]] == (
        "stale: input upcoming_player_game_context 2021-12-02 is refilled first, in the same run"
    )

    # Across runs: run 1 (--skip-phase4) refills the date; run 2 plans the stale dates.
    fill(wh, TDGS, REFILLED, REFILLED)
    p4 = Planner(wh).plan(P4_START, P4_END, chunk_days=31, phases=(4,))
    assert p4.tables[TDZA].stale == {
        d: "stale: input team_defense_game_summary 2021-12-01 refilled after it" for d in stale
    }
    assert p4.tables[PCF].to_fill == p4.tables[MLFS].to_fill == stale
    assert p4.tables[PSZA].to_fill == p4.tables[PDC].to_fill == []
    # `plan` says why: the first stale date of each table and its reason.
    close_shared()
    res = CliRunner().invoke(
        app,
        [
            "plan",
            "--start",
            str(P4_START),
            "--end",
            str(P4_END),
            "--tables",
            "team_defense_zone_analysis",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (
        "team_defense_zone_analysis 2021-12-02 (+3 more dates): stale: input "
        "team_defense_game_summary 2021-12-01 refilled after it"
    ) in " ".join(res.output.split())
    wh = shared_warehouse()

    # A Phase 4 group planned after the one before it wrote (the flow's order): the composite
    # dates are stale by time now, the zone dates no longer.
    fill(wh, TDZA, stale[0], stale[-1])  # the dates group 1 planned
    g2 = Planner(wh).plan(P4_START, P4_END, [PCF, MLFS], 31, phases=(4,))
    assert sorted(g2.tables[PCF].stale) == stale
    assert g2.tables[PCF].stale[stale[0]] == (
        "stale: input team_defense_zone_analysis 2021-12-02 refilled after it"
    )
    assert g2.tables[MLFS].to_fill == stale  # reads the zones too
    fill(wh, PCF, stale[0], stale[-1])
    fill(wh, MLFS, stale[0], stale[-1])
    # The upcoming context's dates after the refill remain (run 1 skipped them: Phase 3 here
    # refilled the team defense only); then the player tables reading them.
    rest = Planner(wh).plan(P4_START, P4_END, chunk_days=31)
    assert rest.tables[UPCG].stale == {
        d: "stale: input team_defense_game_summary 2021-12-01 refilled after it" for d in stale
    }
    for table in (UPCG, PSZA, PDC, PCF, MLFS):
        fill(wh, table, stale[0], stale[-1])
    assert Planner(wh).plan(P4_START, P4_END, chunk_days=31).empty


def test_a_refilled_player_game_summary_date_replans_the_upcoming_context_after_it(
    filled: Warehouse,
) -> None:
    """Another input, another window: upcoming_player_game_context reads the 30 days before
    its date, the Phase 4 player tables 90/180 days (and the feature store a year)."""
    wh = filled
    refilled = D(2021, 11, 20)
    fill(wh, PGS, refilled, refilled)
    plan = Planner(wh).plan(SLICE_START, SLICE_END, chunk_days=31, phases=(3,))
    after = window_dates(wh, refilled, 30, SLICE_END)
    assert len(after) == 14 and D(2021, 11, 25) not in after  # 11-21..12-05 but Thanksgiving
    assert plan.tables[UPCG].stale == {
        d: "stale: input player_game_summary 2021-11-20 refilled after it" for d in after
    }
    assert plan.tables[PGS].to_fill == []  # the refill itself is complete and fresh
    # Phase 4 over its week: every player table reads the refilled date (directly, or through
    # the upcoming context refilled first); the zone analysis reads team tables only.
    p4 = Planner(wh).plan(P4_START, P4_END, chunk_days=31)
    week = [d for d in after if d >= P4_START]
    assert p4.tables[UPCG].to_fill == week
    for table in (PSZA, PDC, PCF, MLFS):
        assert p4.tables[table].to_fill == week, table
    # (its own stale dates are the fixture's missing team_defense_game_summary 2021-12-01)
    assert all("team_defense_game_summary" in r for r in p4.tables[TDZA].stale.values())


def test_input_windows_are_the_dependencies_and_the_windows_over_catalog_tables() -> None:
    """One entry per input table, the widest look-back: the feature store's year of player
    games (1 YEAR = 366 days, its own date included), the zone analysis' 60 days before."""
    from nba_backfill.catalog import TABLES, TOGS, UPTG

    windows = {w.table: (w.lookback_days, w.same_date) for w in TABLES[MLFS].input_windows}
    assert windows == {
        PCF: (0, True),
        PDC: (0, True),
        UPCG: (0, True),
        PSZA: (0, True),
        TDZA: (0, True),
        PGS: (366, True),
        TOGS: (366, True),
    }
    zone = {w.table: (w.lookback_days, w.same_date) for w in TABLES[TDZA].input_windows}
    assert zone == {TDGS: (60, False), UPTG: (0, True)}
    assert TABLES[MLFS].written_column == "created_at"
    assert TABLES[TDZA].written_column == "processed_at"
