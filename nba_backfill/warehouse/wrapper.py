"""A warehouse that forwards the protocol's primitives to another one: the base of wrappers
that add behaviour to a few calls (retries, fault injection, accounting) and leave the rest to
the adapter. The shared reads (``schedule``, ``date_profile``, ``key_audit`` …) are not
forwarded: they run here, through this wrapper's ``fetch`` and ``table_exists``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlglot import exp

from nba_backfill.catalog import TableSpec
from nba_backfill.warehouse.base import Loader, Params, Warehouse, WriteResult


class DelegatingWarehouse(Warehouse):
    """Forwards the :class:`Warehouse` primitives to ``inner``; subclasses override what they
    change."""

    def __init__(self, inner: Warehouse) -> None:
        super().__init__(inner.settings)
        self.inner = inner
        self.dialect = inner.dialect
        self.name = inner.name

    def fetch(
        self,
        sql: str | exp.Expr,
        params: Params | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        return self.inner.fetch(sql, params, labels)

    def ensure_tables(self, tables: Sequence[TableSpec]) -> None:
        self.inner.ensure_tables(tables)

    def replace_range(
        self,
        table: TableSpec,
        start: dt.date,
        end: dt.date,
        *,
        labels: Mapping[str, str] | None = None,
        dates: Sequence[dt.date] | None = None,
    ) -> WriteResult:
        result = self.inner.replace_range(table, start, end, labels=labels, dates=dates)
        self.jobs_run += result.jobs
        return result

    def table_exists(self, name: str) -> bool:
        return self.inner.table_exists(name)

    def estimate_bytes(self, table: TableSpec, start: dt.date, end: dt.date) -> int | None:
        return self.inner.estimate_bytes(table, start, end)

    def partition_expiration_days(self, table: TableSpec) -> float | None:
        return self.inner.partition_expiration_days(table)

    def cancel_jobs(self, labels: Mapping[str, str]) -> list[str]:
        return self.inner.cancel_jobs(labels)

    def live_columns(self, name: str) -> list[tuple[str, str, str]] | None:
        return self.inner.live_columns(name)

    def close(self) -> None:
        self.inner.close()

    def handoff(self) -> AbstractContextManager[object]:
        return self.inner.handoff()


def innermost(wh: Warehouse) -> Warehouse:
    """The adapter under any number of wrappers (``wh`` itself when it is one)."""
    while isinstance(wh, DelegatingWarehouse):
        wh = wh.inner
    return wh


def loader(wh: Warehouse) -> Loader:
    """What loads and deletes for ``wh``: the adapter under its wrappers (wrappers belong to
    runs, which never load). Raises TypeError when that adapter cannot load."""
    adapter = innermost(wh)
    if not isinstance(adapter, Loader):
        raise TypeError(f"{adapter.name} warehouse cannot load or delete rows")
    return adapter


__all__ = ["DelegatingWarehouse", "innermost", "loader"]
