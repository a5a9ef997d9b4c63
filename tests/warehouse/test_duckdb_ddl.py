"""Chunks running side by side on one DuckDB warehouse create the bookkeeping tables at the
same moment (each records its first write fingerprints): DuckDB refuses concurrent DDL from
two cursors ("Catalog write-write conflict on create"), so the adapter serialises it — found
by the emulator-vs-DuckDB flow test, where a Phase 3 chunk failed on it."""

from __future__ import annotations

import datetime as dt
import threading

from nba_backfill import fingerprints
from nba_backfill.catalog import TABLES, TOGS
from nba_backfill.settings import Settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

THREADS = 8


def test_first_fingerprints_recorded_by_many_threads_at_once(local_settings: Settings) -> None:
    wh = DuckDBWarehouse(local_settings)
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    day = dt.date(2021, 11, 1)

    def record(i: int) -> None:
        start.wait()
        try:
            prints = {day + dt.timedelta(days=i): {"nba_raw.nbac_schedule": f"fp{i}"}}
            fingerprints.record(wh, TABLES[TOGS], prints)
        except BaseException as exc:  # every thread's error is reported
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    rows = wh.fetch("SELECT COUNT(*) AS n FROM nba_backfill_meta.write_fingerprints", {})
    assert rows[0]["n"] == THREADS
    wh.close()
