"""Warehouse adapters behind one interface; :func:`open_warehouse` picks one from settings."""

from __future__ import annotations

import threading

from nba_backfill.settings import Settings, get_settings
from nba_backfill.warehouse.base import DateProfile, KeyAudit, Warehouse, WriteResult

__all__ = [
    "DateProfile",
    "KeyAudit",
    "Warehouse",
    "WriteResult",
    "close_shared",
    "open_warehouse",
    "shared_warehouse",
]


def open_warehouse(settings: Settings, *, read_only: bool = False) -> Warehouse:
    """The composition root: the one place that chooses the backend."""
    if settings.warehouse.backend == "bigquery":
        from nba_backfill.warehouse.bigquery import BigQueryWarehouse

        return BigQueryWarehouse(settings)
    from nba_backfill.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(settings, read_only=read_only)


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
