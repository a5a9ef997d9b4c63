"""The jobs of one chunk (issue 17, item 5): ``runner.run_chunk`` runs the number of warehouse
jobs ``runner.chunk_jobs`` claims around its write — the inputs' fingerprints in one query,
the games missing inputs read once — counted on the DuckDB adapter itself (the fingerprint
reads and the ledger go to it under any wrapper), and decides what it decided with one job
per read: the same blocked dates and reasons, the same fingerprints recorded."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from nba_backfill import fingerprints
from nba_backfill.catalog import PCF, PDC, PGS, PHASE3, TABLES, TOGS, UPCG
from nba_backfill.readiness import blocked_by_inputs
from nba_backfill.runner import chunk_jobs, run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.warehouse import Warehouse, shared_warehouse
from nba_backfill.warehouse.wrapper import innermost
from tests.conftest import SLICE_START

FAST = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
D = dt.date


class Jobs:
    """Counts the jobs of the adapter under ``wh`` in order: ``read``, ``write``, ``load``."""

    def __init__(self, wh: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log: list[str] = []
        adapter: Any = innermost(wh)
        for name, kind in (("fetch", "read"), ("replace_range", "write"), ("load_raw", "load")):
            real = getattr(adapter, name)

            def counted(*a: Any, _real: Any = real, _kind: str = kind, **k: Any) -> Any:
                self.log.append(_kind)
                return _real(*a, **k)

            monkeypatch.setattr(adapter, name, counted)

    def around_write(self) -> tuple[int, int]:
        assert self.log.count("write") == 1, self.log
        at = self.log.index("write")
        return at, len(self.log) - at - 1


@pytest.fixture
def wh(seeded: Settings) -> Iterator[Warehouse]:
    """Phase 3 written over the slice's first five weeks (Phase 4 reads it)."""
    wh = shared_warehouse()
    days = sorted(wh.schedule(SLICE_START, D(2021, 11, 25)))
    for spec in PHASE3:
        assert run_chunk(wh, spec.name, days, FAST).ok
    yield wh


@pytest.mark.parametrize("table", [TOGS, PGS, UPCG, PDC])
def test_a_chunk_runs_the_jobs_claimed(
    wh: Warehouse, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Phase 3 table without required inputs (TOGS), two with (PGS, UPCG), a Phase 4 one
    with four inputs (PDC): before = 3 + its required inputs, after = 2, whatever its inputs
    (PGS reads eight Phase 2 tables: eight fingerprint jobs before, one now)."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    jobs = Jobs(wh, monkeypatch)
    result = run_chunk(wh, table, days, FAST)
    assert result.ok and result.dates_filled == days
    required = sum(1 for d in TABLES[table].depends_on if d.required)
    assert jobs.around_write() == chunk_jobs(table) == (3 + required, 2)
    assert len(fingerprints.inputs_of(table)) > 1  # several inputs, one fingerprint job


def _one_by_one(wh: Warehouse, table: str, dates: list[dt.date]) -> dict[dt.date, dict[str, str]]:
    """The fingerprints as they were read before: one ``read_day_hashes`` query per input."""
    out: dict[dt.date, dict[str, str]] = {d: {} for d in dates}
    for inp in fingerprints.inputs_of(table):
        lo = dates[0] - dt.timedelta(days=inp.lookback_days)
        hashes = fingerprints.read_day_hashes(wh, inp, lo, dates[-1])
        for day in dates:
            if inp.date_column is None:
                parts = [hashes.get(None, "0:")]
            else:
                a, b = inp.window(day)
                parts = [f"{d}={h}" for d, h in sorted(hashes.items()) if d and a <= d <= b]
            out[day][inp.table] = fingerprints._digest(parts)
    return out


@pytest.mark.parametrize("table", [PGS, PDC])
def test_one_query_fingerprints_what_one_query_per_input_did(
    wh: Warehouse, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    reference = _one_by_one(wh, table, days)
    jobs = Jobs(wh, monkeypatch)
    assert fingerprints.InputReader(wh).current(TABLES[table], days) == reference
    assert jobs.log == ["read"]
    run_chunk(wh, table, days, FAST)
    recorded = fingerprints.recorded(wh, TABLES[table], days[0], days[-1])
    assert {d: dict(r.inputs) for d, r in recorded.items()} == reference
    assert {json.dumps(r.inputs, sort_keys=True) for r in recorded.values()} == {
        json.dumps(reference[d], sort_keys=True) for d in days
    }


def test_a_missing_input_table_reads_as_empty_in_the_one_query(wh: Warehouse) -> None:
    """An input table not there yet (Phase 4 read before it exists) fingerprints as empty, as
    the per-input read did, and the others are still read."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 16)))
    inputs = fingerprints.inputs_of(PCF)
    gone = fingerprints.Input("nba_precompute.no_such_table", 0, True, "game_date", True)
    asks = [(i, days[0], days[-1]) for i in inputs] + [(gone, days[0], days[-1])]
    read = fingerprints.read_many_day_hashes(wh, asks)
    assert read[(gone.table, True)] == {}
    for inp in inputs:
        assert read[(inp.table, inp.catalog)] == fingerprints.read_day_hashes(
            wh, inp, days[0], days[-1]
        ), inp.table


def test_blocked_and_incomplete_dates_are_decided_as_before(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PGS on a week whose TOGS is short on one date: blocked for the same reason the
    readiness check reading its own games gives, the rest filled, the chunk's jobs as
    claimed (the blocked date changes no count)."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    short = days[2]
    wh.fetch(
        f"DELETE FROM {TOGS} WHERE game_date = @d AND team_abbr IN "
        f"(SELECT team_abbr FROM {TOGS} WHERE game_date = @d LIMIT 3)",
        {"d": short},
    )
    lookback = max(d.lookback_days for d in TABLES[PGS].depends_on)
    schedule = wh.schedule(days[0] - dt.timedelta(days=lookback), days[-1])
    expected = blocked_by_inputs(wh, TABLES[PGS], days, schedule)
    assert list(expected) == [short] and expected[short].startswith("input ")
    jobs = Jobs(wh, monkeypatch)
    result = run_chunk(wh, PGS, days, FAST)
    assert result.dates_blocked == expected
    assert result.dates_filled == [d for d in days if d != short]
    assert result.dates_incomplete == []
    assert jobs.around_write() == chunk_jobs(PGS)
    # TOGS itself, rewritten on the short date, is complete again: a check after that passes.
    assert run_chunk(wh, TOGS, [short], FAST).dates_filled == [short]
