"""Stale dates by fingerprint (issue 18, item 2): each write records what it read and which
model wrote it; a corrected Phase 2 row makes the dates reading it stale, and the windows
reading those downstream; mode ``stale`` refreshes them and nothing else. On a real DuckDB
slice (``seeded``)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from bench.checksum import checksum
from cli.app import app
from nba_backfill import fingerprints
from nba_backfill.catalog import PGS, PHASE3, PHASE4, TABLES, TDGS, TOGS, UPCG, UPTG
from nba_backfill.planner import Plan, Planner, Selection
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.warehouse import Warehouse, close_shared, shared_warehouse
from tests.conftest import SLICE_END, SLICE_START

D = dt.date
FAST = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
P4_START = D(2021, 11, 29)
CORRECTED = D(2021, 12, 1)
ALL = [*PHASE3, *PHASE4]
STALE = Selection("stale")


def fill(wh: Warehouse, table: str, dates: list[dt.date]) -> None:
    result = run_chunk(wh, table, sorted(dates), FAST)
    assert result.ok, result


@pytest.fixture
def filled(seeded: Settings) -> Warehouse:
    """Phase 3 over the slice, Phase 4 over its last week, every write fingerprinted."""
    wh = shared_warehouse()
    for spec in PHASE3:
        fill(wh, spec.name, sorted(wh.schedule(SLICE_START, SLICE_END)))
    for spec in PHASE4:
        fill(wh, spec.name, sorted(wh.schedule(P4_START, SLICE_END)))
    return wh


def stale_plan(wh: Warehouse, tables: list[str] | None = None, select: Selection = STALE) -> Plan:
    return Planner(wh).plan(SLICE_START, SLICE_END, tables, 31, select=select)


def planned(plan: Plan) -> dict[str, list[dt.date]]:
    return {t: tp.to_fill for t, tp in plan.tables.items() if tp.to_fill}


def correct_points(wh: Warehouse, day: dt.date) -> None:
    """A late box-score correction in place: one player's points on ``day``, the row's
    processed_at and the date's row count unchanged (the time rule cannot see it)."""
    wh.fetch(
        "UPDATE nba_raw.nbac_gamebook_player_stats SET points = points + 3 "
        "WHERE game_date = @d AND player_lookup = (SELECT MIN(player_lookup) "
        "FROM nba_raw.nbac_gamebook_player_stats WHERE game_date = @d AND points > 0)",
        {"d": day},
    )


def sums(wh: Warehouse, lo: dt.date, hi: dt.date) -> dict[str, tuple[int, str]]:
    return {s.name: checksum(wh, s, lo, hi) for s in ALL}


def test_a_corrected_phase2_row_makes_its_date_and_exactly_its_windows_stale(
    filled: Warehouse,
) -> None:
    wh = filled
    assert stale_plan(wh).empty  # every date as written: nothing stale
    correct_points(wh, CORRECTED)
    # Mode missing does not see it: every date is complete, none rewritten since written.
    assert Planner(wh).plan(SLICE_START, SLICE_END, chunk_days=31, phases=(3,)).empty
    assert Planner(wh).plan(P4_START, SLICE_END, chunk_days=31).empty

    plan = stale_plan(wh)
    week = sorted(wh.schedule(CORRECTED, SLICE_END))
    assert week == [D(2021, 12, 1), D(2021, 12, 2), D(2021, 12, 3), D(2021, 12, 4), D(2021, 12, 5)]
    # The Phase 3 tables reading the gamebook: player_game_summary on that date; the upcoming
    # player context on it (its own date's gamebook) and on the dates whose 30 days before it
    # hold it (through player_game_summary); the team context's 30-day starters window.
    # Phase 4: each reads an upcoming context of its own date. The team summaries read the
    # gamebook of their date (players_inactive, the defense's gamebook actions).
    assert planned(plan) == {
        TOGS: [CORRECTED],
        TDGS: [CORRECTED],
        PGS: [CORRECTED],
        UPCG: week,
        UPTG: week,
        **{s.name: week for s in PHASE4},
    }
    reasons = plan.tables[PGS].reasons()
    assert reasons == {
        CORRECTED: (
            "stale: input nba_raw.nbac_gamebook_player_stats 2021-12-01 changed since written"
        )
    }
    assert plan.tables[UPTG].reasons()[CORRECTED] == (
        "stale: input nba_raw.nbac_gamebook_player_stats 2021-11-01..2021-12-01 "
        "changed since written"
    )
    assert plan.tables[UPCG].reasons()[D(2021, 12, 2)].startswith("stale: input ")

    # `plan --mode stale` lists the same, with the reason.
    close_shared()
    res = CliRunner().invoke(
        app,
        ["plan", "--mode", "stale", "--start", str(SLICE_START), "--end", str(SLICE_END)],
    )
    assert res.exit_code == 0, res.output
    assert (
        "player_game_summary 2021-12-01: stale: input nba_raw.nbac_gamebook_player_stats "
        "2021-12-01 changed since written"
    ) in " ".join(res.output.split())
    res = CliRunner().invoke(app, ["status"])  # a stale count per table
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "stale: player_game_summary 1 date(s) (plan --mode stale)" in text
    assert "stale: upcoming_team_game_context 5 date(s)" in text
    assert "stale: team_offense_game_summary 1 date(s) (plan --mode stale)" in text
    res = CliRunner().invoke(app, ["plan", "--mode", "stale", "--json"])
    tables = json.loads(res.output)["tables"]
    assert tables[PGS]["reasons"] == {
        "2021-12-01": (
            "stale: input nba_raw.nbac_gamebook_player_stats 2021-12-01 changed since written"
        )
    }
    wh = shared_warehouse()

    # A stale run refreshes them and nothing else: the dates before, and the team summaries
    # everywhere, keep their checksums; the corrected points reach player_game_summary.
    before = sums(wh, SLICE_START, CORRECTED - dt.timedelta(days=1))
    teams = {t: checksum(wh, TABLES[t], SLICE_START, SLICE_END) for t in (TOGS, TDGS)}
    pgs_day = checksum(wh, TABLES[PGS], CORRECTED, CORRECTED)
    for chunk in plan.chunks:  # planner order = dependency order
        fill(wh, chunk.table, list(chunk.dates))
    assert sums(wh, SLICE_START, CORRECTED - dt.timedelta(days=1)) == before
    assert {t: checksum(wh, TABLES[t], SLICE_START, SLICE_END) for t in (TOGS, TDGS)} == teams
    assert checksum(wh, TABLES[PGS], CORRECTED, CORRECTED) != pgs_day
    # … and a second stale plan plans nothing.
    assert stale_plan(wh).empty


def test_a_model_change_makes_every_written_date_of_that_table_stale(
    filled: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = filled
    real = fingerprints.model_sha
    monkeypatch.setattr(
        fingerprints, "model_sha", lambda name: "edited" if name == TOGS else real(name)
    )
    alone = stale_plan(wh, tables=[TOGS], select=Selection("stale", downstream=False))
    written = sorted(wh.schedule(SLICE_START, SLICE_END))
    assert planned(alone) == {TOGS: written}
    assert set(alone.tables[TOGS].reasons().values()) == {"stale: the model changed since written"}
    # Downstream: every table reading team_offense_game_summary, on the dates reading them.
    down = stale_plan(wh, tables=[TOGS])
    assert down.tables[PGS].to_fill == written  # the same date
    assert TDGS not in down.tables  # reads the team box scores, not team offense


def test_a_rewrite_of_the_same_values_leaves_its_readers_fresh(filled: Warehouse) -> None:
    """Fingerprints are of content: rewriting player_game_summary 2021-12-01 with the same
    values (mode missing's time rule replans its readers) leaves no date stale by fingerprint;
    a corrected prop line (another Phase 2 input, the same date) does."""
    wh = filled
    fill(wh, PGS, [CORRECTED])
    assert Planner(wh).plan(SLICE_START, SLICE_END, chunk_days=31).tables[UPCG].stale
    assert stale_plan(wh).empty
    wh.fetch(
        "UPDATE nba_raw.odds_api_player_points_props SET points_line = points_line + 1 "
        "WHERE game_date = @d AND player_lookup = (SELECT MIN(player_lookup) "
        "FROM nba_raw.odds_api_player_points_props WHERE game_date = @d)",
        {"d": CORRECTED},
    )
    plan = stale_plan(wh, select=Selection("stale", downstream=False))
    # The readers of props on their own date: player_game_summary (prop outcome) and the
    # upcoming player context (the line before the game).
    assert planned(plan) == {PGS: [CORRECTED], UPCG: [CORRECTED]}


def test_a_tables_inputs_are_its_windows_and_the_phase2_tables_its_model_reads() -> None:
    """What a write fingerprints: the catalog's windows (content: data_hash) and each Phase 2
    table the model reads (shared pieces spliced in), on its own date unless the catalog
    declares a window over it (a schedule piece's is the schedule's)."""
    pgs = {i.table: (i.lookback_days, i.same_date, i.catalog) for i in fingerprints.inputs_of(PGS)}
    assert pgs[TOGS] == (0, True, True)
    assert pgs["nba_raw.nbac_gamebook_player_stats"] == (0, True, False)
    assert pgs["nba_raw.odds_api_player_points_props"] == (0, True, False)
    assert TDGS not in pgs
    uptg = {i.table: i.lookback_days for i in fingerprints.inputs_of(UPTG)}
    assert uptg["nba_raw.nbac_gamebook_player_stats"] == 30
    assert uptg["nba_raw.nbac_schedule"] == 366  # the expected games of a season
    assert uptg["nba_raw.nbac_injury_report"] == 7
    # The model's hash changes with its SQL and nothing else: stable across calls.
    assert (
        fingerprints.model_sha(PGS) == fingerprints.model_sha(PGS) != fingerprints.model_sha(UPCG)
    )
