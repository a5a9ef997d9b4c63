"""A warehouse that forwards every call to another one: the base of wrappers that add
behaviour to a few calls (fault injection, accounting) and leave the rest to the adapter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlglot import exp

from nba_backfill.calendar import Openers
from nba_backfill.catalog import TableSpec
from nba_backfill.phase2 import RawTable
from nba_backfill.warehouse.base import DateProfile, KeyAudit, Params, Warehouse, WriteResult


class DelegatingWarehouse(Warehouse):
    """Forwards the whole :class:`Warehouse` interface to ``inner`` (including the shared
    reads, which an adapter may override); subclasses override what they change."""

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

    def ensure_raw_tables(self, tables: Sequence[RawTable]) -> None:
        self.inner.ensure_raw_tables(tables)

    def load_raw(
        self, table: RawTable, rows: Iterable[Sequence[Any]], *, replace: bool = True
    ) -> int:
        return self.inner.load_raw(table, rows, replace=replace)

    def ensure_tables(self, tables: Sequence[TableSpec]) -> None:
        self.inner.ensure_tables(tables)

    def replace_range(
        self,
        table: TableSpec,
        start: dt.date,
        end: dt.date,
        *,
        labels: Mapping[str, str] | None = None,
    ) -> WriteResult:
        result = self.inner.replace_range(table, start, end, labels=labels)
        self.jobs_run += result.jobs
        return result

    def delete_dates(self, table: TableSpec, dates: Sequence[dt.date]) -> int:
        return self.inner.delete_dates(table, dates)

    def table_exists(self, name: str) -> bool:
        return self.inner.table_exists(name)

    def estimate_bytes(self, table: TableSpec, start: dt.date, end: dt.date) -> int | None:
        return self.inner.estimate_bytes(table, start, end)

    def schedule(self, start: dt.date, end: dt.date) -> dict[dt.date, int]:
        return self.inner.schedule(start, end)

    def schedule_bounds(self) -> tuple[dt.date, dt.date] | None:
        return self.inner.schedule_bounds()

    def season_openers(self) -> Openers:
        return self.inner.season_openers()

    def date_profile(
        self, table: TableSpec, start: dt.date, end: dt.date
    ) -> dict[dt.date, DateProfile]:
        return self.inner.date_profile(table, start, end)

    def key_audit(self, table: TableSpec, start: dt.date, end: dt.date) -> KeyAudit:
        return self.inner.key_audit(table, start, end)

    def row_count(self, table: TableSpec, start: dt.date, end: dt.date) -> int:
        return self.inner.row_count(table, start, end)

    def checksum(self, table: TableSpec, start: dt.date, end: dt.date) -> tuple[int, str]:
        return self.inner.checksum(table, start, end)

    def partition_expiration_days(self, table: TableSpec) -> float | None:
        return self.inner.partition_expiration_days(table)

    def live_columns(self, name: str) -> list[tuple[str, str, str]] | None:
        return self.inner.live_columns(name)

    def close(self) -> None:
        self.inner.close()


__all__ = ["DelegatingWarehouse"]
