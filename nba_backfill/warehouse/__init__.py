"""Warehouse adapters behind one interface; :func:`open_warehouse` picks one from settings."""

from __future__ import annotations

from nba_backfill.settings import Settings
from nba_backfill.warehouse.base import DateProfile, KeyAudit, Warehouse, WriteResult

__all__ = ["DateProfile", "KeyAudit", "Warehouse", "WriteResult", "open_warehouse"]


def open_warehouse(settings: Settings) -> Warehouse:
    """The composition root: the one place that chooses the backend."""
    if settings.warehouse.backend == "bigquery":
        from nba_backfill.warehouse.bigquery import BigQueryWarehouse

        return BigQueryWarehouse(settings)
    from nba_backfill.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(settings)
