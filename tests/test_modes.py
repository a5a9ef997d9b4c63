"""Reprocess modes (issue 18, item 1): ``all`` rewrites every expected date, ``--dates`` the
dates listed, each with the windows downstream that read them unless ``--no-downstream``;
bad modes and dates fail with one line. On a real DuckDB slice (``seeded``); mode
``failed`` runs under the Prefect test server in tests/flows/test_modes_flow.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from bench.checksum import checksum
from cli.app import app
from nba_backfill.catalog import (
    MLFS,
    PCF,
    PDC,
    PGS,
    PHASE3,
    PHASE4,
    PSZA,
    TABLES,
    TDGS,
    TDZA,
    UPCG,
)
from nba_backfill.errors import UsageError
from nba_backfill.params import resolve_params
from nba_backfill.planner import Planner, Selection
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.warehouse import Warehouse, close_shared, shared_warehouse
from tests.conftest import SLICE_END, SLICE_START

D = dt.date
FAST = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
P4_START, P4_END = D(2021, 11, 29), SLICE_END
ALL = [*PHASE3, *PHASE4]


def fill(wh: Warehouse, table: str, dates: list[dt.date]) -> None:
    result = run_chunk(wh, table, sorted(dates), FAST)
    assert result.ok, result


@pytest.fixture
def filled(seeded: Settings) -> Warehouse:
    """Phase 3 over the slice, Phase 4 over its last week: nothing missing there."""
    wh = shared_warehouse()
    for spec in PHASE3:
        fill(wh, spec.name, sorted(wh.schedule(SLICE_START, SLICE_END)))
    for spec in PHASE4:
        fill(wh, spec.name, sorted(wh.schedule(P4_START, P4_END)))
    assert Planner(wh).plan(P4_START, P4_END, chunk_days=31).empty
    return wh


def sums(wh: Warehouse) -> dict[str, tuple[int, str]]:
    return {s.name: checksum(wh, s, SLICE_START, SLICE_END) for s in ALL}


def after(wh: Warehouse, day: dt.date, days: int, end: dt.date = SLICE_END) -> list[dt.date]:
    """Game dates whose window ``[d - days, d - 1]`` reads ``day``, through ``end``."""
    return sorted(wh.schedule(day + dt.timedelta(days=1), min(end, day + dt.timedelta(days=days))))


def test_mode_all_replans_every_date_and_rewrites_them_bit_identically(filled: Warehouse) -> None:
    wh = filled
    plan = Planner(wh).plan(P4_START, P4_END, chunk_days=31, select=Selection("all"))
    week = sorted(wh.schedule(P4_START, P4_END))
    for spec in ALL:
        tp = plan.tables[spec.name]
        assert tp.to_fill == tp.expected == week, spec.name
        assert set(tp.reasons().values()) == {"requested"}, spec.name
    before = sums(wh)
    for chunk in plan.chunks:  # planner order = dependency order
        fill(wh, chunk.table, list(chunk.dates))
    assert sums(wh) == before
    assert Planner(wh).plan(P4_START, P4_END, chunk_days=31).empty


def test_one_date_replans_it_and_the_windows_reading_it(filled: Warehouse) -> None:
    wh = filled
    day = D(2021, 12, 1)
    one = Selection("dates", (day,))
    plan = Planner(wh).plan(P4_START, P4_END, [TDGS], 31, select=one)
    # team_defense_game_summary's readers: the zone analysis (60 days before), and through
    # it the composite factors and the feature store; the upcoming player context (the
    # opponent's last 10 games, 30 days before), and through it the Phase 4 player tables.
    assert set(plan.tables) == {TDGS, TDZA, PCF, MLFS, UPCG, PSZA, PDC}
    assert plan.tables[TDGS].reasons() == {day: "requested"}
    windows = after(wh, day, 60)
    assert windows == [D(2021, 12, 2), D(2021, 12, 3), D(2021, 12, 4), D(2021, 12, 5)]
    for table in (TDZA, PCF, MLFS, UPCG, PSZA, PDC):
        assert plan.tables[table].to_fill == windows, table
    assert plan.tables[TDZA].stale[windows[0]] == (
        "stale: input team_defense_game_summary 2021-12-01 is refilled first, in the same run"
    )
    # --no-downstream: that date of that table, nothing else.
    alone = Planner(wh).plan(
        P4_START, P4_END, [TDGS], 31, select=Selection("dates", (day,), downstream=False)
    )
    assert {t: tp.to_fill for t, tp in alone.tables.items()} == {TDGS: [day]}

    # Rewriting what the plan lists changes nothing else: every other checksum is the same.
    outside = {s.name: checksum(wh, s, SLICE_START, day - dt.timedelta(days=1)) for s in ALL}
    for chunk in plan.chunks:
        fill(wh, chunk.table, list(chunk.dates))
    assert {s.name: checksum(wh, s, SLICE_START, day - dt.timedelta(days=1)) for s in ALL} == (
        outside
    )
    assert Planner(wh).plan(P4_START, P4_END, chunk_days=31).empty


def test_a_player_game_summary_date_reaches_the_upcoming_context_and_phase4(
    filled: Warehouse,
) -> None:
    """Another date, other windows: the upcoming context reads the 30 days before its date,
    every Phase 4 player table reads it (90/180 days, or through the upcoming context), the
    zone analysis does not."""
    wh = filled
    day = D(2021, 11, 20)
    plan = Planner(wh).plan(SLICE_START, SLICE_END, [PGS], 31, select=Selection("dates", (day,)))
    assert plan.tables[PGS].to_fill == [day]
    upcg = after(wh, day, 30)
    assert plan.tables[UPCG].to_fill == upcg and len(upcg) == 14
    # Phase 4 holds the last week only: the window dates before it are planned as missing,
    # those of the week as stale.
    # The composite factors and feature store cannot be written before the week (a required
    # input is missing there): skipped, with that reason.
    week = [d for d in upcg if d >= P4_START]
    for table in (PSZA, PDC, PCF, MLFS):
        tp = plan.tables[table]
        assert sorted(tp.stale) == week, table
        if table in (PSZA, PDC):
            assert tp.to_fill == upcg, table
            assert {tp.reasons()[d] for d in upcg if d < P4_START} == {"missing"}
        else:
            assert tp.to_fill == week, table
            assert tp.skipped[upcg[0]].startswith("input ")
            assert "incomplete on 2021-11-21" in tp.skipped[upcg[0]]
    assert TDZA not in plan.tables and TDGS not in plan.tables
    # Phase 4 planned on its own (a group after Phase 3 ran) plans the same dates.
    p4 = Planner(wh).plan(
        SLICE_START, SLICE_END, [PGS], 31, phases=(4,), select=Selection("dates", (day,))
    )
    assert {t: tp.to_fill for t, tp in p4.tables.items()} == {
        PSZA: upcg,
        PDC: upcg,
        PCF: week,
        MLFS: week,
    }


def test_plan_says_why_each_date_is_planned(filled: Warehouse) -> None:
    close_shared()
    res = CliRunner().invoke(
        app,
        ["plan", "--dates", "2021-12-01", "--tables", "team_defense_game_summary"],
    )
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "team_defense_game_summary 2021-12-01: requested" in text
    assert (
        "team_defense_zone_analysis 2021-12-02 (+3 more dates): stale: input "
        "team_defense_game_summary 2021-12-01 is refilled first, in the same run"
    ) in text
    res = CliRunner().invoke(
        app,
        ["plan", "--dates", "2021-12-01", "--tables", "team_defense_game_summary", "--json"],
    )

    tables = json.loads(res.output)["tables"]  # every date's reason
    assert tables[TDGS]["reasons"] == {"2021-12-01": "requested"}
    assert sorted(tables) == sorted([TDGS, TDZA, PCF, MLFS, UPCG, PSZA, PDC])


BAD_CLI = [
    (["plan", "--mode", "everything"], "mode must be one of missing, failed, all, dates"),
    (["run", "--mode", "everything"], "mode must be one of missing, failed, all, dates"),
    (["run", "--dates", "2021-11-31"], "date '2021-11-31' is not a date"),
    (["plan", "--dates", "2021-11-20,soon"], "date 'soon' is not a date"),
    (["run", "--mode", "all", "--dates", "2021-11-20"], "not with mode all"),
    (["run", "--mode", "dates"], "mode dates needs a list of dates"),
    (
        ["run", "--start", "2021-11-01", "--end", "2021-11-10", "--dates", "2021-11-20"],
        "date 2021-11-20 is outside the range 2021-11-01..2021-11-10",
    ),
]


@pytest.mark.parametrize(("args", "needle"), BAD_CLI, ids=[" ".join(a) for a, _ in BAD_CLI])
def test_a_bad_mode_or_date_exits_2_with_one_line_and_writes_nothing(
    seeded: Settings, args: list[str], needle: str
) -> None:
    before = sums(shared_warehouse())
    close_shared()
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], res.output
    assert sums(shared_warehouse()) == before


def test_resolve_params_reads_modes_and_dates_as_they_come() -> None:
    from nba_backfill.settings import load_settings

    s = load_settings()
    p = resolve_params(s, dates="2021-11-21, 2021-11-20", tables="player_game_summary")
    # the range: from the first date to the settings' end (the windows reading them)
    assert (p.mode, p.dates, p.start, p.end) == (
        "dates",
        (D(2021, 11, 20), D(2021, 11, 21)),
        D(2021, 11, 20),
        s.run.end_date,
    )
    # downstream: the tables reading player_game_summary run too; --no-downstream: only it
    assert p.phase_tables(3) == [PGS, UPCG]
    assert p.phase_tables(4) == [PSZA, PDC, PCF, MLFS]
    alone = resolve_params(s, dates=["2021-11-20"], tables=[PGS], downstream="false")
    assert alone.phase_tables(4) == [] and not alone.to_phase4
    assert (alone.start, alone.end) == (D(2021, 11, 20), D(2021, 11, 20))
    assert resolve_params(s, mode="ALL").mode == "all"
    assert resolve_params(s).mode == "missing"
    assert resolve_params(s, tables=[PGS]).phase_tables(4) == []  # missing: as asked
    with pytest.raises(UsageError, match="the date list is empty"):
        resolve_params(s, dates=" , ")
    assert TABLES[TDGS].phase == 3
