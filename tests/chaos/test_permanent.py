"""A permanent fault on some dates (with transient noise around it): exactly those dates' chunks
fail and are named, everything else is filled exactly as a clean run fills it, the gate names
exactly what is missing, and nothing partial is visible anywhere."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill.catalog import PHASE3, PHASE4, TABLES, TDGS, UPTG
from nba_backfill.planner import Chunk, Plan, Planner
from nba_backfill.readiness import ONE_DAY
from nba_backfill.settings import Settings
from nba_backfill.validation import validate
from nba_backfill.warehouse import close_shared
from nba_backfill.warehouse.base import Warehouse
from tests.chaos.conftest import (
    SCENARIOS,
    Scenario,
    duplicate_keys,
    record,
    reopen_clean,
    same_as_clean,
)

pytestmark = pytest.mark.usefixtures("prefect_server")

# Tables with no Phase 3 table downstream, so a failed chunk holds back only itself (and the
# Phase 4 dates whose inputs it is).
FAULTY_TABLES = (TDGS, UPTG)


def _doomed(chunks: list[Chunk], wh: Warehouse) -> tuple[Chunk, dt.date]:
    """A chunk in the middle of the plan, past the bootstrap days, and a date inside it."""
    openers = wh.season_openers()
    later = [c for c in chunks if not openers.is_bootstrap(c.start)]
    chunk = later[len(later) // 2]
    return chunk, chunk.dates[len(chunk.dates) // 2]


def _label(c: Chunk) -> str:
    return f"phase3 · {c.table.split('.')[1]} · {c.start}..{c.end}"


def _readers(plan: Plan, doomed: set[str], tables: set[str]) -> list[Chunk]:
    """The chunks of ``tables`` that read a doomed chunk's dates, directly or through another
    such chunk (``plan.upstream``: the flow waits on these edges)."""
    chunks = {c.id: c for tp in plan.tables.values() for c in tp.chunks}
    out: set[str] = set()
    grew = True
    while grew:
        grew = False
        for cid, ups in plan.upstream.items():
            if cid in out or cid in doomed or chunks[cid].table not in tables:
                continue
            if any(u in doomed or u in out for u in ups):
                out.add(cid)
                grew = True
    return [chunks[c] for c in sorted(out)]


def _around(start: dt.date, end: dt.date, days: set[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """The spans of ``[start, end]`` outside the days' span (first to last failed day)."""
    lo, hi = min(days), max(days)
    spans = [(start, lo - ONE_DAY), (hi + ONE_DAY, end)]
    return [(a, b) for a, b in spans if a <= b]


@pytest.mark.parametrize("scenario", SCENARIOS, indirect=True)
def test_permanent_faults_fail_by_name_and_fill_everything_else(
    scenario: Scenario, chaos_env: Settings, monkeypatch: pytest.MonkeyPatch
):
    from flows.backfill import backfill
    from flows.hooks import run_summary

    wh = reopen_clean(monkeypatch)
    before = Planner(wh).plan(scenario.start, scenario.end, chunk_days=scenario.chunk_days)
    doomed = dict(_doomed(before.tables[t].chunks, wh) for t in FAULTY_TABLES)
    faults = [(c.table, day) for c, day in doomed.items()]
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__PERMANENT", ",".join(f"{t}:{d}" for t, d in faults))
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__TRANSIENT_RATE", "0.1")
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__SEED", "11")
    # The table-level gate, whose all-or-nothing block the slice asserts below (the per-date
    # gate, the default since issue 18 item 3, is tests/flows/test_gate_flow.py's).
    monkeypatch.setenv("NBA_BACKFILL_GATE__MODE", "table")
    close_shared()

    state = backfill(**scenario.args(), return_state=True)
    assert state.is_failed()
    summary = run_summary(state)
    assert summary is not None

    # Failed by name: exactly the doomed chunks, with the injected error's class, and the
    # Phase 3 chunks that read their dates (the plan's edges, transitively: the upcoming
    # context reads both team summaries 30 days back), never started; their dates are the
    # run's failed dates, and nothing else failed.
    readers = _readers(before, {c.id for c in doomed}, {s.name for s in PHASE3})
    labels = {_label(c) for c in doomed}
    failed = summary["failed_chunks"]
    assert {f["label"] for f in failed} == labels | {_label(c) for c in readers}
    assert {f["error_class"] for f in failed if f["label"] in labels} == {"InjectedFault"}
    assert all("upstream" in str(f["error"]) for f in failed if f["label"] not in labels)
    assert all(label in str(state.message) for label in labels)
    failed_days: dict[str, set[dt.date]] = {}
    for c in [*doomed, *readers]:
        failed_days.setdefault(c.table, set()).update(c.dates)
    assert {t: sorted(ds) for t, ds in summary["failed_dates"].items()} == {
        t: sorted(d.isoformat() for d in ds) for t, ds in failed_days.items()
    }

    wh = reopen_clean(monkeypatch)
    gate = validate(wh, 3, scenario.start, scenario.end)
    openers = wh.season_openers()
    for check in gate.tables:
        # The gate names exactly the missing dates: those of the failed chunks.
        missing = set(check.missing) | set(check.incomplete)
        expected = failed_days.get(check.table, set())
        assert missing == {d for d in expected if not openers.is_bootstrap(d)}, check.table
        assert check.all_dates_covered == check.all_dates_expected - len(expected)
    # Nothing partial: a failed chunk's dates hold no rows at all.
    for chunk in [*doomed, *readers]:
        assert wh.date_profile(TABLES[chunk.table], chunk.start, chunk.end) == {}, chunk
    assert duplicate_keys(wh, scenario.start, scenario.end) == 0
    if gate.ok:  # the full range: two missing chunks leave the gate above 95 %
        p4 = validate(wh, 4, scenario.start, scenario.end)
        unexplained = [p for ps in p4.problems.values() for p in ps if "although" in p]
        assert not unexplained  # a Phase 4 date is missing only because its inputs are
    else:  # the slice: the gate blocked, and Phase 4 never started
        assert summary["gate_blocked"]
        assert all(wh.row_count(s, scenario.start, scenario.end) == 0 for s in PHASE4)
    close_shared()

    # Everything else is exactly the clean run's: the other Phase 3 tables in full, the
    # faulted ones on both sides of their failed chunk.
    db = chaos_env.warehouse.duckdb_path
    others = [s.name for s in PHASE3 if s.name not in failed_days]
    same_as_clean(scenario, db, others)
    for table, days in failed_days.items():
        for lo, hi in _around(scenario.start, scenario.end, days):
            same_as_clean(scenario, db, [table], lo, hi)
    record(
        scenario,
        "permanent faults",
        faults=[f"{t}:{d}" for t, d in faults],
        chunks_failed=sorted(labels | {_label(c) for c in readers}),
        dates_failed={t.split(".")[1]: len(ds) for t, ds in failed_days.items()},
        dates_filled=sum(r["filled"] for r in summary["tables"]),
        gate_passed=gate.ok,
        gate_missing={
            c.table.split(".")[1]: len(c.missing) + len(c.incomplete)
            for c in gate.tables
            if c.missing or c.incomplete
        },
        duplicate_keys=0,
        retries=summary["retries"],
    )
