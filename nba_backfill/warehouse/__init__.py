"""Warehouse adapters behind one interface; :func:`open_warehouse` picks one from settings."""

from __future__ import annotations

import threading

from nba_backfill.settings import Settings, get_settings
from nba_backfill.warehouse.base import DateProfile, KeyAudit, Loader, Warehouse, WriteResult

__all__ = [
    "DateProfile",
    "KeyAudit",
    "Loader",
    "Warehouse",
    "WriteResult",
    "close_shared",
    "open_warehouse",
    "shared_warehouse",
    "use_shared",
]


def open_warehouse(
    settings: Settings, *, read_only: bool = False, copy_if_locked: bool = False
) -> Warehouse:
    """The composition root: the one place that chooses the backend (and wraps it in fault
    injection when ``NBA_BACKFILL_FAULTS__*`` asks for it). ``copy_if_locked`` (read-only
    commands): a local warehouse another process writes is read from a consistent copy
    instead of refused."""
    wh: Warehouse
    if settings.warehouse.backend == "bigquery":
        from nba_backfill.warehouse.bigquery import BigQueryWarehouse

        wh = BigQueryWarehouse(settings)
    else:
        from nba_backfill.warehouse.duckdb import DuckDBWarehouse

        wh = DuckDBWarehouse(settings, read_only=read_only, copy_if_locked=copy_if_locked)
    if settings.faults.active:
        from nba_backfill.warehouse.faults import FaultyWarehouse

        wh = FaultyWarehouse(wh, settings.faults)
    return wh


_lock = threading.Lock()
_shared: Warehouse | None = None


def shared_warehouse() -> Warehouse:
    """One read-write warehouse per process: DuckDB allows one writer process per file, and
    BigQuery clients are thread-safe and costly to build. Tasks, seeding and the CLI share it."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = open_warehouse(get_settings())
        return _shared


def close_shared() -> None:
    """Close the shared warehouse and forget cached settings (between runs and tests)."""
    global _shared
    with _lock:
        if _shared is not None:
            _shared.close()
        _shared = None
        get_settings.cache_clear()


def use_shared(wh: Warehouse) -> Warehouse | None:
    """Make ``wh`` the process-wide warehouse the tasks use, and return the one it replaces
    (left open). The benchmarks install a wrapper of the real warehouse this way, to count
    jobs and time inside warehouse calls or to model BigQuery's latency."""
    global _shared
    with _lock:
        previous, _shared = _shared, wh
    return previous
