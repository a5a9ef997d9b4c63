"""A failing chunk narrowed to its bad date, and --fail-fast, through the backfill flow under
a real (test) Prefect server, on the DuckDB slice."""

from __future__ import annotations

import pytest

from nba_backfill.catalog import PGS, TDGS, TOGS
from nba_backfill.planner import Planner
from nba_backfill.rerun import still_missing
from nba_backfill.settings import Settings
from nba_backfill.warehouse import close_shared, shared_warehouse
from tests.conftest import SLICE_END, SLICE_START
from tests.test_narrow import corrupt_minutes

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_a_bad_date_fails_its_chunk_and_the_rest_is_filled(seeded: Settings):
    from flows.backfill import backfill
    from flows.hooks import run_summary

    wh = shared_warehouse()
    plan = Planner(wh).plan(SLICE_START, SLICE_END, [TOGS, PGS], 31, phases=(3,))
    chunk = plan.tables[PGS].chunks[0]
    bad = chunk.dates[len(chunk.dates) // 2]
    corrupt_minutes(wh, bad)

    state = backfill(
        SLICE_START, SLICE_END, [TOGS, PGS], 31, 2, skip_phase4=True, return_state=True
    )
    assert state.is_failed()  # a run never completes after a date failed
    summary = run_summary(state)
    assert summary is not None
    assert summary["failed_dates"] == {PGS: [bad.isoformat()]}
    [failed] = summary["failed_chunks"]
    assert failed["label"] == f"phase3 · player_game_summary · {chunk.start}..{chunk.end}"
    assert failed["error_class"] == "DatesFailed"
    assert list(failed["dates_failed"]) == [bad.isoformat()]
    assert "Could not cast value 99999" in failed["dates_failed"][bad.isoformat()]
    assert bad.isoformat() in str(state.message)
    rows = {r["table"]: r for r in summary["tables"]}
    expected = len(plan.tables[PGS].expected)
    assert rows[PGS]["filled"] == expected - 1 and rows[PGS]["failed"] == 1
    assert rows[TOGS]["filled"] == len(plan.tables[TOGS].expected)
    # The warehouse agrees: everything but the bad date is complete.
    assert still_missing(shared_warehouse(), [PGS], SLICE_START, SLICE_END)[PGS] == {bad}


def test_fail_fast_starts_no_chunk_after_a_permanent_failure(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
):
    from flows.backfill import backfill
    from flows.hooks import run_summary

    wh = shared_warehouse()
    plan = Planner(wh).plan(SLICE_START, SLICE_END, [TOGS, TDGS], 14, phases=(3,))
    first, *rest = plan.phase_chunks(3)  # max_concurrency 1: they start in this order
    assert rest and {c.table for c in plan.chunks} == {TOGS, TDGS}
    table = first.table.split(".")[1]
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__PERMANENT", f"{table}:{first.dates[0]}")
    close_shared()

    state = backfill(
        SLICE_START,
        SLICE_END,
        [TOGS, TDGS],
        14,
        1,
        skip_phase4=True,
        fail_fast=True,
        return_state=True,
    )
    assert state.is_failed()
    summary = run_summary(state)
    assert summary is not None
    failed = {f["label"]: f for f in summary["failed_chunks"]}
    label = f"phase3 · {table} · {first.start}..{first.end}"
    assert failed[label]["error_class"] == "InjectedFault"
    why = f"--fail-fast after {first.table} {first.start}..{first.end} failed"
    # Every other chunk was never started, with that reason; nothing of theirs was written.
    assert {f"phase3 · {c.label}" for c in rest} == set(failed) - {label}
    assert all(failed[f"phase3 · {c.label}"]["error"] == f"not run: {why}" for c in rest)
    assert all(r["filled"] == 0 for r in summary["tables"])
    assert why in summary["reason"] and "no chunk started after it" in summary["reason"]
    assert summary["failed_checks"] == {}  # no gate ran after the stop
    close_shared()
    missing = still_missing(shared_warehouse(), [TOGS, TDGS], SLICE_START, SLICE_END)
    assert missing == {t: set(tp.expected) for t, tp in plan.tables.items()}
