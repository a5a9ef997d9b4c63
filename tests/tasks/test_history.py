"""Failed runs are read per warehouse: the run lock tags a run with its warehouse, and a rerun
(or ``plan --mode failed``) on one warehouse never counts another's failed runs, although one
Prefect server records both (dev and prod datasets, two DuckDB files, the test suite's)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from prefect import flow

from nba_backfill.settings import Settings, get_settings
from nba_backfill.warehouse import close_shared
from tasks.history import failed_runs
from tasks.runlock import run_lock, warehouse_tag

pytestmark = pytest.mark.usefixtures("prefect_server")


@flow(name="backfill", flow_run_name="backfill · tagged")
def _failing(start: str, end: str) -> None:
    with run_lock(get_settings(), "a failing run"):
        raise ValueError("a chunk failed")


def _use(monkeypatch: pytest.MonkeyPatch, db: Path) -> Settings:
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__DUCKDB_PATH", str(db))
    get_settings.cache_clear()
    close_shared()
    return get_settings()


def test_a_failed_run_counts_only_for_the_warehouse_it_locked(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    since = dt.datetime.now(dt.UTC)
    mine = _use(monkeypatch, local_settings.warehouse.duckdb_path)
    state = _failing("2021-11-01", "2021-11-05", return_state=True)
    assert state.is_failed()
    runs = failed_runs(since)
    assert [(r.name, r.start, r.end) for r in runs] == [
        ("backfill · tagged", dt.date(2021, 11, 1), dt.date(2021, 11, 5))
    ]

    other = _use(monkeypatch, tmp_path / "other.duckdb")
    assert warehouse_tag(other) != warehouse_tag(mine)
    assert failed_runs(since) == []  # the same server, another warehouse: none of its runs
    _use(monkeypatch, local_settings.warehouse.duckdb_path)
    assert len(failed_runs(since)) == 1
