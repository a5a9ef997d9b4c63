"""Which dates a rerun fills (nba_backfill.rerun) and the planner's ``only``: history records
are plain values; the warehouse is a DuckDB slice."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill.catalog import PCF, PGS, PHASE4, TABLES, TDGS, TOGS, dependency_waves
from nba_backfill.planner import Planner
from nba_backfill.rerun import (
    ChunkRef,
    FailedRun,
    RerunReport,
    chunk_run_name,
    chunk_tags,
    parse_chunk_name,
    parse_chunk_run,
    parse_chunk_tags,
    rerun_scope,
    rerun_targets,
)
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.warehouse import shared_warehouse
from tests.conftest import SLICE_START

D = dt.date
FAST = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)


TABLE, PHASE, DATES = f"table:{TDGS}", "phase:3", "dates:2021-10-26..2021-11-01"


@pytest.mark.parametrize(
    ("tags", "ref"),
    [
        ([TABLE, PHASE, DATES], ChunkRef(3, TDGS, D(2021, 10, 26), D(2021, 11, 1))),
        (
            ["nba-backfill", DATES, TABLE, PHASE, PHASE],  # any order; other tags ignored
            ChunkRef(3, TDGS, D(2021, 10, 26), D(2021, 11, 1)),
        ),
        (
            [f"table:{PCF}", "phase:4", "dates:2022-01-03..2022-01-03"],
            ChunkRef(4, PCF, D(2022, 1, 3), D(2022, 1, 3)),
        ),
        ([], None),  # plan, validate, fan-out: no chunk tags
        (["gate:phase3"], None),
        ([TABLE, PHASE], None),
        ([TABLE, DATES], None),
        ([PHASE, DATES], None),
        ([TABLE, f"table:{TOGS}", PHASE, DATES], None),
        ([TABLE, "phase:5", DATES], None),
        (["table:nba_analytics.no_such_table", PHASE, DATES], None),
        ([TABLE, PHASE, "dates:2021-11-01..2021-10-26"], None),
        ([TABLE, PHASE, "dates:2021-02-30..2021-03-01"], None),
        ([TABLE, PHASE, "dates:2021-10-26"], None),
    ],
)
def test_parse_chunk_tags(tags, ref):
    assert parse_chunk_tags(tags) == ref


@pytest.mark.parametrize("spec", TABLES.values(), ids=lambda s: s.name)
def test_chunk_tags_read_back_as_the_chunk(spec):
    ref = ChunkRef(spec.phase, spec.name, D(2021, 12, 31), D(2022, 1, 6))
    tags = chunk_tags(ref.phase, ref.table, ref.start, ref.end)
    assert tags == [f"table:{spec.name}", f"phase:{spec.phase}", "dates:2021-12-31..2022-01-06"]
    assert parse_chunk_tags(tags) == ref


@pytest.mark.parametrize(
    ("name", "ref"),
    [
        (
            "phase3 · team_defense_game_summary · 2021-10-26..2021-11-01",
            ChunkRef(3, TDGS, D(2021, 10, 26), D(2021, 11, 1)),
        ),
        (
            f"phase4 · {PCF} · 2022-01-03..2022-01-03",  # dataset.table is read too
            ChunkRef(4, PCF, D(2022, 1, 3), D(2022, 1, 3)),
        ),
        ("plan · phase (4,) · 2021-10-19..2026-01-03", None),
        ("validate · phase 3 · 2021-10-19..2026-01-03", None),
        ("phase4 · g2", None),
        ("phase5 · team_defense_game_summary · 2021-10-26..2021-11-01", None),
        ("phase3 · no_such_table · 2021-10-26..2021-11-01", None),
        ("phase3 · team_defense_game_summary · 2021-11-01..2021-10-26", None),
        ("phase3 · team_defense_game_summary · 2021-02-30..2021-03-01", None),
        ("phase3 · team_defense_game_summary · 2021-10-26", None),
        ("phase3 · team_defense_game_summary · 2021-10-26..2021-11-01 (retry)", None),
        ("fill-chunk-0", None),
    ],
)
def test_parse_chunk_name(name, ref):
    assert parse_chunk_name(name) == ref


@pytest.mark.parametrize("spec", TABLES.values(), ids=lambda s: s.name)
def test_chunk_run_name_reads_back_as_the_chunk(spec):
    ref = ChunkRef(spec.phase, spec.name, D(2021, 12, 31), D(2022, 1, 6))
    name = chunk_run_name(ref.phase, ref.table, ref.start, ref.end)
    assert name == f"phase{spec.phase} · {spec.table} · 2021-12-31..2022-01-06"
    assert parse_chunk_run(name, []) == ref


def test_a_run_made_before_names_is_read_by_its_tags():
    """History keeps runs of the last days: those submitted with tags (and any display name)
    still name their chunk; a task run with neither is no chunk."""
    ref = ChunkRef(3, TDGS, D(2021, 10, 26), D(2021, 11, 1))
    old_name = "phase3 · team_defense_game_summary · 2021-10-26..2021-11-01"
    assert parse_chunk_run("anything", [TABLE, PHASE, DATES]) == ref
    assert parse_chunk_run(old_name, [TABLE, PHASE, DATES]) == ref
    assert parse_chunk_run("validate · phase 3", ["gate:phase3"]) is None


def run(**kw) -> FailedRun:
    base = dict(
        id="r", name="backfill · x", start=D(2021, 10, 19), end=D(2021, 11, 30), tables=None
    )
    return FailedRun(**{**base, **kw})


def test_scope_merges_unfinished_chunks_per_table():
    runs = [
        run(unfinished=[ChunkRef(3, TDGS, D(2021, 11, 1), D(2021, 11, 7))]),
        run(
            unfinished=[
                ChunkRef(3, TDGS, D(2021, 11, 5), D(2021, 11, 10)),
                ChunkRef(3, TDGS, D(2021, 11, 20), D(2021, 11, 21)),
                ChunkRef(3, PGS, D(2021, 11, 1), D(2021, 11, 7)),
            ]
        ),
    ]
    assert rerun_scope(runs) == {
        PGS: [(D(2021, 11, 1), D(2021, 11, 7))],
        TDGS: [(D(2021, 11, 1), D(2021, 11, 10)), (D(2021, 11, 20), D(2021, 11, 21))],
    }


def test_gate_block_puts_the_runs_phase4_in_scope_unless_skipped():
    blocked = run(gate_blocked=True, tables=[TDGS, PCF])
    assert rerun_scope([blocked]) == {PCF: [(D(2021, 10, 19), D(2021, 11, 30))]}
    assert rerun_scope([run(gate_blocked=True, skip_phase4=True)]) == {}
    everything = rerun_scope([run(gate_blocked=True)])
    assert set(everything) == {t.name for t in PHASE4}


def test_a_run_without_records_puts_its_whole_range_in_scope():
    scope = rerun_scope([run(whole_range=True, tables=[TOGS, PCF], skip_phase4=True)])
    assert scope == {TOGS: [(D(2021, 10, 19), D(2021, 11, 30))]}


def test_targets_are_the_scope_minus_what_is_complete_now(seeded: Settings):
    wh = shared_warehouse()
    lo, hi = D(2021, 11, 1), D(2021, 11, 14)
    dates = sorted(wh.schedule(lo, hi))
    run_chunk(wh, TDGS, [d for d in dates if d <= D(2021, 11, 7)], FAST)  # fixed since
    scope = {TDGS: [(lo, hi)], TOGS: [(D(2021, 11, 3), D(2021, 11, 4))]}
    targets = rerun_targets(wh, scope)
    assert targets == {
        TDGS: [d for d in dates if d > D(2021, 11, 7)],
        TOGS: [d for d in dates if D(2021, 11, 3) <= d <= D(2021, 11, 4)],
    }
    assert rerun_targets(wh, {}) == {}


def test_planner_only_plans_the_given_dates(seeded: Settings):
    wh = shared_warehouse()
    expected = sorted(wh.schedule(SLICE_START, D(2021, 11, 14)))
    only = {TDGS: [expected[3], expected[4], expected[9]]}
    plan = Planner(wh).plan(SLICE_START, D(2021, 11, 14), [TDGS, TOGS], 31, phases=(3,), only=only)
    assert list(plan.tables) == [TDGS]
    # scattered dates are one sparse chunk (one statement), never the dates between them
    assert [c.dates for c in plan.chunks] == [(expected[3], expected[4], expected[9])]


def test_report_fixed_and_still_failing():
    r = RerunReport(7, targets={TDGS: [D(2021, 11, 1), D(2021, 11, 2)], TOGS: [D(2021, 11, 3)]})
    assert not r.checked
    r.record_after({TDGS: {D(2021, 11, 2), D(2021, 12, 1)}, TOGS: set()})
    assert r.checked
    d = r.as_dict("Failed")
    assert d["fixed"] == {TDGS: ["2021-11-01"], TOGS: ["2021-11-03"]}
    assert d["still_failing"] == {TDGS: ["2021-11-02"]}
    assert RerunReport(7).as_dict("Completed")["nothing_to_do"] is True


def test_dependency_waves():
    assert dependency_waves(list(TABLES)) == [
        [
            "nba_analytics.team_offense_game_summary",
            "nba_analytics.team_defense_game_summary",
            "nba_analytics.upcoming_team_game_context",
        ],
        ["nba_analytics.player_game_summary", "nba_precompute.team_defense_zone_analysis"],
        [
            "nba_analytics.upcoming_player_game_context",
        ],
        ["nba_precompute.player_shot_zone_analysis"],
        # player_daily_cache reads the date's shot zones (production's processor does), so it
        # waits for them, beside player_composite_factors
        ["nba_precompute.player_daily_cache", "nba_precompute.player_composite_factors"],
        ["nba_predictions.ml_feature_store_v2"],
    ]
    assert dependency_waves([PCF, TDGS]) == [[TDGS], [PCF]]  # through TDZA
