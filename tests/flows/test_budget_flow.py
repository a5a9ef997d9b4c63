"""``--max-bytes`` on a DuckDB run (a real Prefect test server): exactly the chunks that fit the
budget run; the rest end "not run: over budget" and the run fails naming them."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill.budget import embedded_estimate
from nba_backfill.catalog import TABLES, TOGS
from nba_backfill.planner import Planner
from nba_backfill.settings import Settings
from nba_backfill.warehouse import close_shared, shared_warehouse

pytestmark = pytest.mark.usefixtures("prefect_server")

START, END = dt.date(2021, 11, 1), dt.date(2021, 11, 6)


def _chunks_and_estimates() -> list[tuple[str, list[dt.date], int]]:
    wh = shared_warehouse()
    plan = Planner(wh).plan(START, END, [TOGS], 2, phases=(3,))
    out = [
        (c.label, list(c.dates), embedded_estimate(wh, TABLES[TOGS], c.start, c.end))
        for c in plan.chunks
    ]
    close_shared()
    return out


@pytest.mark.timeout(600)
@pytest.mark.parametrize("fit", [2, 1], ids=["two-fit", "one-fits"])
def test_exactly_the_chunks_that_fit_run(seeded: Settings, fit: int):
    from flows.backfill import backfill
    from flows.hooks import run_summary

    chunks = _chunks_and_estimates()
    assert len(chunks) == 3 and all(est > 0 for _, _, est in chunks)
    budget = sum(est for _, _, est in chunks[:fit])  # exactly the first ``fit`` chunks

    state = backfill(
        START,
        END,
        tables=[TOGS],
        chunk_days=2,
        max_concurrency=1,
        skip_phase4=True,
        max_bytes=str(budget),
        return_state=True,
    )

    assert state.is_failed()
    summary = run_summary(state)
    assert summary is not None and summary["status"] == "Failed"
    filled = {r["table"]: r["filled"] for r in summary["tables"]}
    assert filled[TOGS] == sum(len(d) for _, d, _ in chunks[:fit])
    not_run = [c for c in summary["failed_chunks"] if "over budget" in (c.get("error") or "")]
    assert len(not_run) == 3 - fit
    left = [label for label, _, _ in chunks[fit:]]
    assert f"over budget: {3 - fit} chunk(s) not run" in summary["reason"]
    for label in left:
        assert label in summary["reason"]
    wh = shared_warehouse()
    written = wh.date_profile(TABLES[TOGS], START, END)
    assert sorted(written) == sorted(d for _, dates, _ in chunks[:fit] for d in dates)
    close_shared()


def test_a_budget_that_fits_everything_completes(seeded: Settings):
    from flows.backfill import backfill

    chunks = _chunks_and_estimates()
    total = sum(est for _, _, est in chunks)
    state = backfill(
        START,
        END,
        tables=[TOGS],
        chunk_days=2,
        skip_phase4=True,
        max_bytes=total,
        return_state=True,
    )
    assert state.is_completed(), state.message
