"""Reads retried by the same policy as writes.

A read is a query job like any other: on BigQuery it can fail with a rate limit, a 5xx or a
timeout (the client's own job re-runs are off: the core's policy decides every retry). The
planner, the runner and validation read through :func:`with_read_retries`, so a transient read
error costs a retry, not the run. Reads are idempotent, so retrying them is always safe; writes
are retried by :func:`nba_backfill.runner.run_chunk`, which also records each retry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlglot import exp

from nba_backfill.calendar import Openers
from nba_backfill.catalog import TableSpec
from nba_backfill.retry import call_with_retries
from nba_backfill.warehouse.base import DateProfile, KeyAudit, Params, Warehouse
from nba_backfill.warehouse.wrapper import DelegatingWarehouse

T = TypeVar("T")


class RetryingReads(DelegatingWarehouse):
    """Every read of ``inner`` under ``settings.retry`` (transient errors only, with backoff);
    writes pass through unchanged."""

    def __init__(self, inner: Warehouse) -> None:
        super().__init__(inner)
        self.policy = inner.settings.retry

    def _read(self, what: str, fn: Callable[[], T]) -> T:
        return call_with_retries(fn, self.policy, what=f"reading {what}")

    def fetch(
        self,
        sql: str | exp.Expr,
        params: Params | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        return self._read("a query", lambda: self.inner.fetch(sql, params, labels))

    def table_exists(self, name: str) -> bool:
        return self._read(name, lambda: self.inner.table_exists(name))

    def schedule(self, start: dt.date, end: dt.date) -> dict[dt.date, int]:
        return self._read(f"the schedule {start}..{end}", lambda: self.inner.schedule(start, end))

    def schedule_bounds(self) -> tuple[dt.date, dt.date] | None:
        return self._read("the schedule's bounds", self.inner.schedule_bounds)

    def season_openers(self) -> Openers:
        return self._read("the season openers", self.inner.season_openers)

    def date_profile(
        self, table: TableSpec, start: dt.date, end: dt.date
    ) -> dict[dt.date, DateProfile]:
        return self._read(
            f"{table.name} {start}..{end}", lambda: self.inner.date_profile(table, start, end)
        )

    def key_audit(self, table: TableSpec, start: dt.date, end: dt.date) -> KeyAudit:
        return self._read(
            f"{table.name} keys {start}..{end}", lambda: self.inner.key_audit(table, start, end)
        )

    def row_count(self, table: TableSpec, start: dt.date, end: dt.date) -> int:
        return self.key_audit(table, start, end).rows

    def checksum(self, table: TableSpec, start: dt.date, end: dt.date) -> tuple[int, str]:
        return self._read(
            f"{table.name} checksum {start}..{end}", lambda: self.inner.checksum(table, start, end)
        )

    def close(self) -> None:
        """The wrapped warehouse belongs to whoever wrapped it: closing this view keeps it."""


def with_read_retries(wh: Warehouse) -> Warehouse:
    """``wh`` whose reads are retried (itself when it already is)."""
    return wh if isinstance(wh, RetryingReads) else RetryingReads(wh)


__all__ = ["RetryingReads", "with_read_retries"]
