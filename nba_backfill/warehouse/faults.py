"""Fault injection for tests and drills (``NBA_BACKFILL_FAULTS__*``, off by default).

:func:`open_warehouse` wraps the real adapter in :class:`FaultyWarehouse` only when a fault is
configured. Three kinds, all at the warehouse boundary (every read and every chunk write the
planner, the runner and validation make):

* **permanent** (``NBA_BACKFILL_FAULTS__PERMANENT``, ``table:YYYY-MM-DD`` pairs): every range
  write of that table covering that date raises a non-retryable :class:`WarehouseError` before
  anything is written, as a syntax or access error would;
* **transient** (``NBA_BACKFILL_FAULTS__TRANSIENT_RATE``, a fraction of calls, and
  ``..._TRANSIENT_KINDS``): the call fails with the error BigQuery would give — 403
  ``quotaExceeded`` / ``rateLimitExceeded``, 429, 400 "Could not serialize access … concurrent
  update", 500/503, a deadline — built as the real ``google.api_core`` exception and translated
  the way the adapters translate it (``errors.classify`` decides: a misclassified error would
  not be retried and the run would fail). A write fails either before it runs or, for 5xx and
  timeouts, *after* it committed (the client lost the answer): its retry must replace, not
  duplicate. Which calls fail is a function of ``NBA_BACKFILL_FAULTS__SEED``, the call (method,
  table, window) and how many times it was made — the same run fails the same calls whatever
  the threads' order;
* **delay** (``NBA_BACKFILL_FAULTS__DELAY``, ``table:YYYY-MM-DD`` pairs, and
  ``..._DELAY_SECONDS``): a write of that table covering that date pauses in the middle — on
  DuckDB between its DELETE and its COMMIT — so a test can kill the process mid-write, or hold
  a run (and its run lock) until it creates ``..._RELEASE_FILE``.

Every injected fault is counted (:meth:`FaultyWarehouse.stats`) and logged at close.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from sqlglot import exp

from nba_backfill.catalog import TableSpec
from nba_backfill.errors import TransientWarehouseError, WarehouseError, classify
from nba_backfill.settings import FaultSettings
from nba_backfill.warehouse.base import Params, Warehouse, WriteResult
from nba_backfill.warehouse.retrying import describe
from nba_backfill.warehouse.wrapper import DelegatingWarehouse, innermost

log = logging.getLogger("nba_backfill")
T = TypeVar("T")


class InjectedFault(WarehouseError):
    """A failure injected on purpose (``NBA_BACKFILL_FAULTS__PERMANENT``)."""


def vendor_error(kind: str, what: str) -> Exception:
    """The exception BigQuery's client raises for a fault of ``kind`` (SPEC §7's classes)."""
    table = what.split(" ")[0]
    if kind == "quota":
        return gexc.Forbidden(
            "Quota exceeded: Your project exceeded quota for concurrent queries",
            errors=[{"reason": "quotaExceeded", "message": "Quota exceeded"}],
        )
    if kind == "rate_limit":
        return gexc.Forbidden(
            f"Exceeded rate limits: too many table update operations for this table {table}",
            errors=[{"reason": "rateLimitExceeded", "message": "Exceeded rate limits"}],
        )
    if kind == "too_many_requests":
        return gexc.TooManyRequests("Too many requests: retry after a backoff")
    if kind == "serialization":
        return gexc.BadRequest(
            f"Could not serialize access to table {table} due to concurrent update",
            errors=[{"reason": "invalidQuery", "message": "concurrent update"}],
        )
    if kind == "dml_outstanding":
        return gexc.BadRequest(
            f"Resources exceeded during query execution: Too many DML statements outstanding "
            f"against table {table}, limit is 20.",
            errors=[{"reason": "invalidQuery", "message": "too many DML statements"}],
        )
    if kind == "server":
        return gexc.ServiceUnavailable(
            "Error encountered during execution. Retrying may solve the problem.",
            errors=[{"reason": "backendError"}],
        )
    if kind == "timeout":
        return gexc.DeadlineExceeded("Deadline of 900.0s exceeded while waiting for the job")
    raise ValueError(f"unknown fault kind {kind!r}")


# Faults after which the write may have committed: the client only lost the answer.
_AFTER_WRITE = {"server", "timeout"}


class FaultyWarehouse(DelegatingWarehouse):
    def __init__(self, inner: Warehouse, faults: FaultSettings) -> None:
        super().__init__(inner)
        self.name = f"faults({inner.name})"
        self.faults = faults
        self.permanent: dict[str, set[dt.date]] = {}
        for table, day in faults.permanent_pairs():
            self.permanent.setdefault(table, set()).add(day)
        self.delayed: dict[str, set[dt.date]] = {}
        for table, day in faults.delay_pairs():
            self.delayed.setdefault(table, set()).add(day)
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self.calls = 0
        self.injected: Counter[str] = Counter()
        self.after_write = 0
        if self.delayed:
            innermost(inner).mid_write = self._pause
        log.warning(
            "fault injection on: %s",
            "; ".join(
                part
                for part in (
                    faults.permanent and f"permanent write failures on {sorted(faults.permanent)}",
                    faults.transient_rate
                    and f"{faults.transient_rate:.0%} of calls fail transiently "
                    f"({', '.join(faults.transient_kinds)}; seed {faults.seed})",
                    faults.delay
                    and f"{faults.delay_seconds:g}s pauses mid-write on {sorted(faults.delay)}",
                )
                if part
            ),
        )

    # --- deciding --------------------------------------------------------------------------
    def _draw(self, key: str) -> tuple[float, int, int]:
        """Three numbers for the n-th call of ``key``: the same for the same seed and call,
        whatever the threads' order."""
        with self._lock:
            self.calls += 1
            self._seen[key] += 1
            n = self._seen[key]
        digest = hashlib.sha256(f"{self.faults.seed}|{key}|{n}".encode()).digest()
        return (
            int.from_bytes(digest[:8], "big") / 2**64,
            int.from_bytes(digest[8:12], "big"),
            digest[12],
        )

    def _transient(self, key: str, what: str, *, write: bool = False) -> tuple[str, bool] | None:
        """(kind, after the write?) when this call is to fail, else None."""
        rate = self.faults.transient_rate
        u, pick, when = self._draw(key)
        if not rate or u >= rate:
            return None
        kind = self.faults.transient_kinds[pick % len(self.faults.transient_kinds)]
        return kind, write and kind in _AFTER_WRITE and when % 2 == 1

    def _raise(self, kind: str, what: str, after: bool = False) -> None:
        vendor = vendor_error(kind, what)
        reason = classify(vendor)
        with self._lock:
            self.injected[kind] += 1
            self.after_write += after
        message = f"{what}: {str(vendor).splitlines()[0]} (injected"
        message += ", after the write ran)" if after else ")"
        if reason is None:  # a class the classifier does not retry: the test will say so
            raise WarehouseError(message) from vendor
        raise TransientWarehouseError(message, reason=reason) from vendor

    def _read(self, key: str, what: str, fn: Callable[[], T]) -> T:
        fault = self._transient(key, what)
        if fault is not None:
            self._raise(fault[0], what)
        return fn()

    def _pause(self, table: TableSpec, start: dt.date, end: dt.date) -> None:
        hit = sorted(d for d in self.delayed.get(table.name, ()) if start <= d <= end)
        if not hit:
            return
        release = self.faults.release_file
        log.warning(
            "fault injection: pausing %.0fs%s mid-write of %s %s..%s (after its DELETE, before "
            "its COMMIT)",
            self.faults.delay_seconds,
            f" or until {release} exists" if release else "",
            table.name,
            start,
            end,
        )
        deadline = time.monotonic() + self.faults.delay_seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if release is not None and release.exists():
                return
            time.sleep(min(remaining, 0.05 if release is not None else remaining))

    def stats(self) -> dict[str, Any]:
        """Calls seen and faults injected so far, by kind."""
        with self._lock:
            return {
                "calls": self.calls,
                "injected": sum(self.injected.values()),
                "by_kind": dict(self.injected),
                "after_write": self.after_write,
            }

    # --- writes ----------------------------------------------------------------------------
    def replace_range(
        self,
        table: TableSpec,
        start: dt.date,
        end: dt.date,
        *,
        labels: Mapping[str, str] | None = None,
        dates: Sequence[dt.date] | None = None,
    ) -> WriteResult:
        what = f"{table.name} {start}..{end}"
        written = set(dates) if dates is not None else None
        hit = sorted(
            d
            for d in self.permanent.get(table.name, ())
            if start <= d <= end and (written is None or d in written)
        )
        if hit:
            with self._lock:
                self.injected["permanent"] += 1
            raise InjectedFault(
                f"{what}: injected permanent fault on {hit[0]} (NBA_BACKFILL_FAULTS__PERMANENT)",
                transient=False,
                reason="injected",
            )
        fault = self._transient(f"write|{what}", what, write=True)
        if fault is not None and not fault[1]:
            self._raise(fault[0], what)
        result = super().replace_range(table, start, end, labels=labels, dates=dates)
        if fault is not None:
            self._raise(fault[0], what, after=True)
        return result

    # --- reads (the shared reads are fetch and table_exists calls: each may fail) ----------
    def fetch(
        self,
        sql: str | exp.Expr,
        params: Params | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        text = sql if isinstance(sql, str) else sql.sql()
        key = hashlib.sha1(f"{text}|{sorted((params or {}).items())}".encode()).hexdigest()
        what = describe(sql, params)
        return self._read(f"fetch|{key}", what, lambda: self.inner.fetch(sql, params, labels))

    def table_exists(self, name: str) -> bool:
        return self._read(f"exists|{name}", name, lambda: self.inner.table_exists(name))

    def close(self) -> None:
        stats = self.stats()
        if stats["calls"]:
            log.warning(
                "fault injection: %d calls, %d faults injected %s (%d after the write ran)",
                stats["calls"],
                stats["injected"],
                stats["by_kind"],
                stats["after_write"],
            )
        super().close()


__all__ = ["FaultyWarehouse", "InjectedFault", "vendor_error"]
