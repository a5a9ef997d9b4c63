"""Reads retried by the same policy as writes.

A read is a query job like any other: on BigQuery it can fail with a rate limit, a 5xx or a
timeout (the client's own job re-runs are off: the core's policy decides every retry). The
planner, the runner and validation read through :func:`with_read_retries`, so a transient read
error costs a retry, not the run. Reads are idempotent, so retrying them is always safe; writes
are retried by :func:`nba_backfill.runner.run_chunk`, which also records each retry. The shared
reads (schedule, profiles, audits) are ``fetch`` and ``table_exists`` calls, retried one by one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlglot import exp

from nba_backfill.retry import call_with_retries
from nba_backfill.warehouse.base import Params, Warehouse
from nba_backfill.warehouse.wrapper import DelegatingWarehouse

T = TypeVar("T")
_FIRST_TABLE = re.compile(r"\bFROM\s+`?([A-Za-z_][\w]*\.[A-Za-z_]\w*)", re.IGNORECASE)


def describe(sql: str | exp.Expr, params: Params | None) -> str:
    """What a query reads, for logs: its first ``dataset.table`` and its window, e.g.
    ``nba_analytics.player_game_summary 2021-10-19..2022-01-18`` (``a query`` when unknown)."""
    # Only text is searched: rendering a tree on every call would cost more than the read.
    found = _FIRST_TABLE.search(sql) if isinstance(sql, str) else None
    what = found.group(1) if found else "a query"
    if params and "start_date" in params and "end_date" in params:
        what += f" {params['start_date']}..{params['end_date']}"
    return what


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
        return self._read(describe(sql, params), lambda: self.inner.fetch(sql, params, labels))

    def table_exists(self, name: str) -> bool:
        return self._read(name, lambda: self.inner.table_exists(name))

    def close(self) -> None:
        """The wrapped warehouse belongs to whoever wrapped it: closing this view keeps it."""


def with_read_retries(wh: Warehouse) -> Warehouse:
    """``wh`` whose reads are retried (itself when it already is)."""
    return wh if isinstance(wh, RetryingReads) else RetryingReads(wh)


__all__ = ["RetryingReads", "describe", "with_read_retries"]
