"""Seeding a warehouse for local runs: synthetic Phase 2 data, and optionally Phase 3 tables
pre-filled with the runbook's starting gaps (state ``seeds``)."""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from nba_backfill.catalog import PHASE3, TABLES, TDGS, UPCG, UPTG
from nba_backfill.contract import Column, TableContract
from nba_backfill.phase2 import RAW_TABLES
from nba_backfill.planner import chunk_dates
from nba_backfill.runner import run_chunk
from nba_backfill.safety import guard_destructive
from nba_backfill.settings import RetrySettings
from nba_backfill.warehouse.base import Warehouse
from nba_backfill.warehouse.wrapper import loader

log = logging.getLogger("nba_backfill")

State = Literal["empty", "seeds"]
# Which synthetic data this warehouse holds: nba-backfill's own marker, not a production table,
# so it is the one schema defined here.
SEED_INFO = TableContract(
    dataset="nba_backfill_meta",
    table="seed_info",
    columns=tuple(
        Column(name, ty, "NULLABLE")
        for name, ty in (
            ("seed", "INT64"),
            ("state", "STRING"),
            ("final_through", "DATE"),
            ("seeded_on", "DATE"),
        )
    ),
    partition_by="seeded_on",
    cluster_by=(),
    require_partition_filter=False,
    partition_expiration_days=None,
    source="devtools/seeding.py",
    extra={},
)
# The runbook's starting point (SPEC / issue): dates each Phase 3 table lacks; Phase 4 empty.
SEED_GAPS: dict[str, int] = {TDGS: 72, UPCG: 402, UPTG: 352}
STANDARD_START = dt.date(2021, 10, 19)
STANDARD_END = dt.date(2026, 1, 3)
# Every table a seed empties or replaces whole (logical names): what the guard names.
SEEDED_TABLES: tuple[str, ...] = (SEED_INFO.name, *(t.name for t in RAW_TABLES), *TABLES)


@dataclass
class SeedReport:
    state: str
    raw_rows: dict[str, int] = field(default_factory=dict)
    prefilled_rows: dict[str, int] = field(default_factory=dict)
    gaps: dict[str, int] = field(default_factory=dict)


def seeded_state(wh: Warehouse) -> str | None:
    """The state recorded by the last completed seed, or None when never seeded."""
    if not wh.table_exists(SEED_INFO.name):
        return None
    rows = wh.fetch(f"SELECT state FROM {SEED_INFO.name} LIMIT 1")
    return str(rows[0]["state"]) if rows else None


def seed(
    wh: Warehouse,
    state: State = "seeds",
    *,
    seed_value: int = 7,
    final_through: dt.date = STANDARD_END,
    chunk_days: int = 62,
    progress: Callable[[str], None] | None = None,
) -> SeedReport:
    """Replace the warehouse's Phase 2 data with the synthetic seasons, empty the Phase 3/4
    tables, and for ``seeds`` pre-fill Phase 3 except for the runbook's gaps.

    Raises UsageError before any write when the warehouse is not one that may be seeded
    (BigQuery with production's names, or a sandbox not confirmed: :mod:`nba_backfill.safety`).
    """
    from devtools.synthetic import seed_phase2

    # The adapter in hand decides: a DuckDB file opened directly (the bench, test templates)
    # stays a local file whatever backend the environment names.
    guard_destructive(wh.settings, "seed", SEEDED_TABLES, backend=wh.dialect)
    # Loads and deletes go to the adapter itself (a run's wrappers never load): the same calls
    # the wrappers used to forward unchanged.
    load = loader(wh)
    say = progress or (lambda msg: log.info(msg))
    report = SeedReport(state)
    # Forget the marker first: an interrupted seed must not look complete.
    load.ensure_raw_tables([SEED_INFO])
    load.load_raw(SEED_INFO, [], replace=True)
    say("generating synthetic Phase 2 seasons")
    report.raw_rows = seed_phase2(load, seed=seed_value, final_through=final_through)
    wh.ensure_tables(list(TABLES.values()))
    bounds = wh.schedule_bounds()
    assert bounds is not None
    for spec in TABLES.values():
        load.delete_dates(spec, [d for d in _all_days(bounds[0], bounds[1])])
    if state == "seeds":
        schedule = sorted(wh.schedule(*bounds))
        for spec in PHASE3:
            say(f"pre-filling {spec.name}")
            for chunk in chunk_dates(spec.name, schedule, schedule, chunk_days):
                run_chunk(wh, spec.name, chunk.dates, RetrySettings())
            standard = [d for d in schedule if STANDARD_START <= d < STANDARD_END]
            gaps = _gap_dates(spec.name, standard, seed_value)
            load.delete_dates(spec, gaps)
            report.gaps[spec.name] = len(gaps)
            report.prefilled_rows[spec.name] = wh.row_count(spec, bounds[0], bounds[1])
    load.load_raw(SEED_INFO, [(seed_value, state, final_through, dt.date.today())], replace=True)
    return report


def _gap_dates(table: str, dates: list[dt.date], seed_value: int) -> list[dt.date]:
    """TDGS lost scattered dates; the upcoming-context tables were never run for the oldest
    dates (their processors came later), so their gaps are the earliest dates."""
    n = SEED_GAPS.get(table, 0)
    if table == TDGS:
        return sorted(random.Random(seed_value).sample(dates, n))
    return dates[:n]


def _all_days(lo: dt.date, hi: dt.date) -> list[dt.date]:
    return [lo + dt.timedelta(days=i) for i in range((hi - lo).days + 1)]


__all__ = ["SEEDED_TABLES", "SEED_GAPS", "UPCG", "UPTG", "SeedReport", "seed", "seeded_state"]
