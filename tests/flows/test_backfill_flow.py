"""The parent flow end to end under a real (test) Prefect server, on a DuckDB slice."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from bench.checksum import checksum
from nba_backfill.catalog import PHASE3, PHASE4, TABLES, TDGS
from nba_backfill.settings import Settings
from nba_backfill.validation import validate
from nba_backfill.warehouse import Warehouse, shared_warehouse
from tests.conftest import SLICE_END, SLICE_START

pytestmark = pytest.mark.usefixtures("prefect_server")


def _artifacts(flow_run_id) -> dict[str, object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
                )
            )

    return {a.key: a for a in asyncio.run(read()) if a.key}


def test_backfill_fills_phase3_then_phase4(seeded: Settings, monkeypatch: pytest.MonkeyPatch):
    from flows.backfill import backfill

    # The schedule is read once a run: the first plan's reads serve the gate, the Phase 4
    # groups' plans, Phase 4's validation and the chunks (planner.read_schedule).
    calls: list[str] = []
    for name in ("schedule_bounds", "season_openers", "schedule", "games_missing_inputs"):
        real = getattr(Warehouse, name)

        def counted(*a: object, _real: Any = real, _name: str = name, **k: object) -> Any:
            calls.append(_name)
            return _real(*a, **k)

        monkeypatch.setattr(Warehouse, name, counted)
    state = backfill(SLICE_START, SLICE_END, chunk_days=10, max_concurrency=3, return_state=True)
    assert state.is_completed(), state.message
    assert sorted(calls) == sorted(
        ["games_missing_inputs", "schedule", "schedule_bounds", "season_openers"]
    )
    summary = state.result()
    wh = shared_warehouse()
    gate = validate(wh, 3, SLICE_START, SLICE_END)
    assert gate.ok, gate.problems
    assert all(t.coverage == 1.0 for t in gate.tables)
    p4 = validate(wh, 4, SLICE_START, SLICE_END)
    assert p4.ok, p4.problems
    assert all(t.coverage == 1.0 and t.expected > 20 for t in p4.tables)
    assert p4.usage_rate_share is not None and p4.usage_rate_share >= 0.95
    for spec in [*PHASE3, *PHASE4]:
        audit = wh.key_audit(spec, SLICE_START, SLICE_END)
        assert audit.rows > 0 and audit.duplicate_keys == 0 and audit.null_keys == 0, spec.name
    # Phase 4 writes nothing on bootstrap days.
    for spec in PHASE4:
        assert wh.date_profile(spec, SLICE_START, SLICE_START + dt.timedelta(days=13)) == {}
    rows = {r["table"]: r for r in summary["tables"]}
    assert rows[TDGS]["filled"] == gate.tables[1].all_dates_expected
    arts = _artifacts(state.state_details.flow_run_id)
    assert {"backfill-summary", "backfill-report", "phase3-gate", "phase4-gate"} <= set(arts)

    # A second run finds nothing to do and changes nothing.
    before = {s.name: checksum(wh, s, SLICE_START, SLICE_END) for s in [*PHASE3, *PHASE4]}
    again = backfill(SLICE_START, SLICE_END, chunk_days=10, return_state=True)
    assert again.is_completed()
    assert all(r["filled"] == 0 for r in again.result()["tables"])
    after = {s.name: checksum(wh, s, SLICE_START, SLICE_END) for s in [*PHASE3, *PHASE4]}
    assert after == before


def test_gate_failure_keeps_phase4_from_starting(seeded: Settings, monkeypatch: pytest.MonkeyPatch):
    """The table-level gate (issue 18 item 3 made the per-date one the default: see
    tests/flows/test_gate_flow.py): a table below its threshold stops Phase 4 whole."""
    from flows.backfill import backfill
    from nba_backfill.settings import get_settings

    monkeypatch.setenv("NBA_BACKFILL_GATE__MODE", "table")
    get_settings.cache_clear()

    phase3 = backfill(SLICE_START, SLICE_END, skip_phase4=True, return_state=True)
    assert phase3.is_completed(), phase3.message
    wh = shared_warehouse()
    tdgs = TABLES[TDGS]
    # A run that "saved 2 of 16 teams": rows on every date, but most teams missing on 4 dates.
    dates = sorted(wh.date_profile(tdgs, SLICE_START, SLICE_END))[-4:]
    for d in dates:
        wh.fetch(
            f"DELETE FROM {TDGS} WHERE game_date = @d AND defending_team_abbr NOT IN "
            "(SELECT defending_team_abbr FROM "
            f"{TDGS} WHERE game_date = @d ORDER BY 1 LIMIT 2)",
            {"d": d},
        )
    assert all(
        p.rows == 2 for d, p in wh.date_profile(tdgs, dates[0], dates[-1]).items() if d in dates
    )
    p4_only = [t.name for t in PHASE4]
    state = backfill(SLICE_START, SLICE_END, tables=p4_only, return_state=True)
    assert state.is_failed()
    assert "Phase 3 gate failed" in state.message and TDGS in state.message
    for spec in PHASE4:
        assert wh.row_count(spec, SLICE_START, SLICE_END) == 0, spec.name


# --- issue 12: keys and exit codes --------------------------------------------------------------
OPENING = (SLICE_START, SLICE_START + dt.timedelta(days=1))  # UPCG's 30-day window starts here


def test_a_duplicated_key_is_repaired_by_the_next_run(seeded: Settings):
    """Issue 12, case 7: a duplicated player_game_summary row made the gate fail with no date
    and the next run had "nothing to do"; now the date is incomplete, re-planned and replaced."""
    from flows.backfill import backfill
    from nba_backfill.catalog import PGS

    first = backfill(*OPENING, skip_phase4=True, return_state=True)
    assert first.is_completed(), first.message
    wh = shared_warehouse()
    wh.fetch(
        f"INSERT INTO {PGS} SELECT * FROM {PGS} WHERE game_date = @d LIMIT 1", {"d": OPENING[1]}
    )
    gate = validate(wh, 3, *OPENING)
    assert f"1 duplicate key row on {OPENING[1]}" in gate.problems[PGS]

    again = backfill(*OPENING, skip_phase4=True, return_state=True)
    assert again.is_completed(), again.message
    rows = {r["table"]: r for r in again.result()["tables"]}
    assert rows[PGS]["filled"] == 1 and rows[PGS]["before"] == "1/2"
    assert validate(wh, 3, *OPENING).ok
    assert wh.key_audit(TABLES[PGS], *OPENING).duplicate_keys == 0


def test_skip_phase4_fails_when_the_gate_fails(seeded: Settings):
    """Issue 12, case 9: ``skip_phase4`` used to end Completed whatever the gate said.
    upcoming_player_game_context reads the 30 days of player_game_summary before each date,
    which this run does not fill: its dates are blocked, the table the run was asked to fill
    cannot be complete, and the run fails naming it and the date. (A day without box scores,
    this test's earlier recipe, is no failure since issue 12 item 3: its games are skipped
    for missing inputs — tests/test_schedule_anomalies.py.)"""
    from flows.backfill import backfill
    from flows.hooks import run_summary
    from nba_backfill.catalog import UPCG

    day = dt.date(2021, 11, 2)
    state = backfill(
        day, day, tables=["upcoming_player_game_context"], skip_phase4=True, return_state=True
    )
    assert state.is_failed()
    message = str(state.message)
    assert "Phase 3 gate failed" in message
    assert "upcoming_player_game_context" in message and str(day) in message
    summary = run_summary(state)
    assert summary is not None and summary["status"] == "Failed"
    assert summary["gate_blocked"] is None  # Phase 4 was not asked for: nothing was blocked
    assert set(summary["failed_checks"]["3"]) == {UPCG}  # only the table the run fills


def test_a_failing_phase4_validation_fails_the_run(seeded: Settings):
    """Issue 12, case 9: Phase 4 validation was "reported, never raised" and the run ended
    Completed; now the run that wrote Phase 4 fails when its own check does."""
    from flows.backfill import backfill
    from nba_backfill.catalog import PGS, TDZA, TOGS, UPCG, UPTG
    from nba_backfill.runner import run_chunk
    from nba_backfill.settings import RetrySettings

    fast = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
    wh = shared_warehouse()
    first = SLICE_START + dt.timedelta(days=14)  # the first day after the bootstrap days
    days = (first, first + dt.timedelta(days=1))
    history = sorted(wh.schedule(SLICE_START, days[1]))
    # The windows before the dates: UPCG's player games, the zone analysis' team defense.
    for table in (TOGS, PGS, TDGS):
        assert run_chunk(wh, table, history, fast).dates_filled == history
    for table in (UPCG, UPTG):
        assert run_chunk(wh, table, list(days), fast).dates_filled == list(days)
    assert validate(wh, 3, *days).ok
    wh.fetch(
        f"UPDATE {PGS} SET usage_rate = NULL WHERE game_date BETWEEN @a AND @b",
        {
            "a": days[0],
            "b": days[1],
        },
    )

    state = backfill(*days, tables=[TDZA], return_state=True)
    assert state.is_failed()
    message = str(state.message)
    assert "Phase 4 validation failed" in message and "not filled" not in message
    assert f"{PGS}: usage_rate non-null 0.0% < 95%" in message
    assert validate(wh, 4, *days, [TDZA]).tables[0].ok  # the table itself was written
