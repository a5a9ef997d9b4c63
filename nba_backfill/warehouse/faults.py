"""Fault injection for tests and drills (``NBA_BACKFILL_FAULTS__*``, off by default).

:func:`open_warehouse` wraps the real adapter in :class:`FaultyWarehouse` only when a fault is
configured. Today one kind exists: a *permanent* fault on (table, date) makes every range write
of that table covering that date raise a non-retryable :class:`WarehouseError` before anything
is written, as a syntax or access error would. More kinds (a fraction of transient errors per
retry class) can be added as further checks in :meth:`FaultyWarehouse.replace_range`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from nba_backfill.catalog import TableSpec
from nba_backfill.errors import WarehouseError
from nba_backfill.settings import FaultSettings
from nba_backfill.warehouse.base import Warehouse, WriteResult
from nba_backfill.warehouse.wrapper import DelegatingWarehouse

log = logging.getLogger("nba_backfill")


class InjectedFault(WarehouseError):
    """A failure injected on purpose (``NBA_BACKFILL_FAULTS__PERMANENT``)."""


class FaultyWarehouse(DelegatingWarehouse):
    def __init__(self, inner: Warehouse, faults: FaultSettings) -> None:
        super().__init__(inner)
        self.name = f"faults({inner.name})"
        self.permanent: dict[str, set[dt.date]] = {}
        for table, day in faults.permanent_pairs():
            self.permanent.setdefault(table, set()).add(day)
        log.warning("fault injection on: permanent write failures on %s", sorted(faults.permanent))

    def replace_range(
        self,
        table: TableSpec,
        start: dt.date,
        end: dt.date,
        *,
        labels: Mapping[str, str] | None = None,
    ) -> WriteResult:
        hit = sorted(d for d in self.permanent.get(table.name, ()) if start <= d <= end)
        if hit:
            raise InjectedFault(
                f"{table.name} {start}..{end}: injected permanent fault on {hit[0]} "
                "(NBA_BACKFILL_FAULTS__PERMANENT)",
                transient=False,
                reason="injected",
            )
        return super().replace_range(table, start, end, labels=labels)


__all__ = ["FaultyWarehouse", "InjectedFault"]
