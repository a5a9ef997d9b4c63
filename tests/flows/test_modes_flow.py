"""Reprocess mode ``failed`` (issue 18, item 1): the dates of a chunk that failed in an earlier
run, read from the Prefect test server's run history, are planned (reason ``failed``) and
rewritten by a ``mode="failed"`` run, with the dates of the tables whose windows read them;
nothing else is."""

from __future__ import annotations

import datetime as dt

import pytest

from bench.checksum import checksum
from nba_backfill.catalog import PGS, TABLES, TDGS, TDZA, TOGS, UPCG
from nba_backfill.planner import Planner, Selection
from nba_backfill.rerun import failed_dates
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
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
    # The other Phase 3 inputs of the upcoming context were written meanwhile.
    fast = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
    for table in (TOGS, PGS):
        assert run_chunk(wh, table, sorted(wh.schedule(SLICE_START, END)), fast).ok
    targets = failed_dates(wh, read_failed_runs(since), SLICE_START, END)
    assert targets == {TDGS: failed}
    # Planned with reason "failed"; downstream, the zone analysis dates reading them (its
    # bootstrap days excepted) — Phase 4 here — and the upcoming context's dates whose 30
    # days read them (team_context.py: the opponent's last 10 games) — Phase 3.
    plan = Planner(wh).plan(SLICE_START, END, [TDGS], 7, select=Selection("failed", failed=targets))
    assert plan.tables[TDGS].reasons() == {d: "failed" for d in failed}
    assert TDZA in plan.tables
    readers = sorted(wh.schedule(failed[0] + dt.timedelta(days=1), END))
    assert plan.tables[UPCG].to_fill == readers
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
    # the upcoming context was written on its dates reading them, and on those only
    assert Planner(wh).plan(readers[0], END, [UPCG], 7, phases=(3,)).empty
    assert sorted(wh.written_at(TABLES[UPCG], SLICE_START, END)) == readers


def test_the_rerun_with_downstream_rewrites_the_windows_reading_the_failed_dates(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rerun deployment's ``downstream``: after refilling a failed chunk of
    team_defense_game_summary, the zone analysis dates whose 60 days read it (and the
    composite factors and feature store reading those) are rewritten, and so are the upcoming
    context's dates whose 30 days read it (the opponent's last 10 games) with the player tables
    reading those: the 2021 dates are before team_context.py's 2024-10-01 floor, so those
    rewrites are bit-identical where rows were."""
    from flows.backfill import backfill
    from flows.rerun import rerun_failed_dates
    from nba_backfill.catalog import PDC, PHASE3, PHASE4, PSZA
    from nba_backfill.runner import run_chunk
    from nba_backfill.settings import RetrySettings

    since = dt.datetime.now(dt.UTC)
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__PERMANENT", f"team_defense_game_summary:{FAULT_DAY}")
    close_shared()
    state = backfill(SLICE_START, END, [TDGS], chunk_days=7, skip_phase4=True, return_state=True)
    assert state.is_failed()
    monkeypatch.delenv("NBA_BACKFILL_FAULTS__PERMANENT")
    close_shared()
    # Meanwhile the other tables were filled, Phase 4 over 11-03..11-10 without those dates
    # (the zone analysis does not require them).
    wh = shared_warehouse()
    fast = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
    p4_start = dt.date(2021, 11, 3)
    for spec in PHASE3:
        if spec.name != TDGS:
            assert run_chunk(wh, spec.name, sorted(wh.schedule(SLICE_START, END)), fast).ok
    for spec in PHASE4:
        assert run_chunk(wh, spec.name, sorted(wh.schedule(p4_start, END)), fast).ok
    players = {t: checksum(wh, TABLES[t], p4_start, END) for t in (PSZA, PDC)}
    zones = checksum(wh, TABLES[TDZA], SLICE_START, END)
    written = {t: wh.written_at(TABLES[t], p4_start, END) for t in (UPCG, PSZA, PDC)}
    close_shared()

    state = rerun_failed_dates(since=since, downstream=True, return_state=True)
    assert state.is_completed(), state.message
    wh = shared_warehouse()
    # Nothing stale, nothing missing: every reader of the refilled dates was rewritten after.
    plan = Planner(wh).plan(p4_start, END, chunk_days=31)
    assert plan.empty, {t: tp.reasons() for t, tp in plan.tables.items() if tp.to_fill}
    assert checksum(wh, TABLES[TDZA], SLICE_START, END) != zones  # computed with the refill
    assert {t: checksum(wh, TABLES[t], p4_start, END) for t in (PSZA, PDC)} == players
    # ... though rewritten: each of their dates reads an upcoming context date rewritten
    now = {t: wh.written_at(TABLES[t], p4_start, END) for t in (UPCG, PSZA, PDC)}
    for t, days in written.items():
        assert days and all(now[t][d][1] > days[d][1] for d in days), t


def test_a_dates_run_through_the_flow_rewrites_the_date_and_its_windows_only(
    seeded: Settings,
) -> None:
    """``backfill(dates=[...])`` as a deployment run passes it: Phase 3 rewrites the date and
    the upcoming context's windows reading it, the Phase 4 groups the windows reading those
    (planned group by group), nothing else moves."""
    from flows.backfill import backfill
    from nba_backfill.catalog import MLFS, PCF, PDC, PHASE3, PHASE4, PSZA
    from nba_backfill.runner import run_chunk
    from nba_backfill.settings import RetrySettings
    from tests.conftest import SLICE_END, SLICE_FINAL_THROUGH

    # Phase 3 filled through the schedule's last final games (the Phase 3 gate checks the
    # run's range: the first date through the settings' end), Phase 4 over the last week.
    wh = shared_warehouse()
    fast = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
    week = dt.date(2021, 11, 29)
    for spec in PHASE3:
        dates = sorted(wh.schedule(SLICE_START, SLICE_FINAL_THROUGH))
        assert run_chunk(wh, spec.name, dates, fast).ok
    for spec in PHASE4:
        assert run_chunk(wh, spec.name, sorted(wh.schedule(week, SLICE_END)), fast).ok
    day = dt.date(2021, 12, 1)
    # the windows reading it: through the last final games (12-06.. were never written)
    windows = sorted(wh.schedule(day + dt.timedelta(days=1), SLICE_FINAL_THROUGH))
    span = (SLICE_START, SLICE_FINAL_THROUGH)
    written = {s.name: wh.written_at(s, *span) for s in [*PHASE3, *PHASE4]}
    sums = {s.name: checksum(wh, s, SLICE_START, SLICE_END) for s in [*PHASE3, *PHASE4]}
    close_shared()

    state = backfill(dates=[day.isoformat()], tables=[TDGS], return_state=True)
    assert state.is_completed(), state.message
    wh = shared_warehouse()
    now = {s.name: wh.written_at(s, *span) for s in [*PHASE3, *PHASE4]}
    rewritten = {t: sorted(d for d in now[t] if now[t][d] != written[t].get(d)) for t in now}
    # The upcoming context's 30 days read the date too (the opponent's last 10 games), and the
    # player tables read its same-date rows: all of them write the windows, player_daily_cache
    # on 12-06.. too (never written there before), so the feature store has its input there.
    assert rewritten == {
        **{s.name: [] for s in [*PHASE3, *PHASE4]},
        TDGS: [day],
        UPCG: windows,
        TDZA: windows,
        PSZA: windows,
        PDC: windows,
        PCF: windows,
        MLFS: windows,
    }
    # Same inputs, same rows: the rewrite is bit-identical where rows were.
    assert {s.name: checksum(wh, s, SLICE_START, SLICE_END) for s in [*PHASE3, *PHASE4]} == sums
