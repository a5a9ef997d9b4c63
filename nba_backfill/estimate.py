"""What a plan would cost on BigQuery: per table, the bytes its planned chunks would process
(one dry-run estimate per chunk, free) and their on-demand price. Plain functions of a plan and a
warehouse; the CLI's ``plan`` shows them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from nba_backfill.catalog import TABLES
from nba_backfill.errors import WarehouseError
from nba_backfill.planner import Chunk, Plan
from nba_backfill.warehouse.base import Warehouse

log = logging.getLogger("nba_backfill")

TIB = 1024**4
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
# Dry runs are cheap API calls that return at once; a few at a time keep `plan` quick over
# hundreds of chunks without crowding the project's API quota.
_DRY_RUN_WORKERS = 8

EstimateKind = Literal["dry_run", "embedded", "skipped"]
UNAVAILABLE = "estimate unavailable"
EMBEDDED = "n/a (embedded)"


@dataclass(frozen=True)
class PlanEstimate:
    """Bytes per table of a plan. ``kind``: ``dry_run`` (BigQuery dry runs; a table's bytes are
    None when any of its chunks could not be estimated), ``embedded`` (DuckDB: nothing is billed
    per query) or ``skipped`` (``--no-estimate``)."""

    kind: EstimateKind
    price_per_tib_usd: float
    bytes_by_table: Mapping[str, int | None]

    def bytes(self, table: str) -> int | None:
        return self.bytes_by_table.get(table) if self.kind == "dry_run" else None

    def cost_usd(self, table: str) -> float | None:
        n = self.bytes(table)
        return None if n is None else cost_usd(n, self.price_per_tib_usd)

    @property
    def total_bytes(self) -> int | None:
        """Bytes of the whole plan; None unless every table's estimate is known."""
        values = list(self.bytes_by_table.values())
        if self.kind != "dry_run" or any(v is None for v in values):
            return None
        return sum(v for v in values if v is not None)

    def cell(self, table: str) -> str:
        """The plan table's "est. bytes / $" cell."""
        if self.kind == "embedded":
            return EMBEDDED
        if self.kind == "skipped":
            return "skipped"
        return format_estimate(self.bytes(table), self.price_per_tib_usd)

    def as_dict(self) -> dict[str, object]:
        total = self.total_bytes
        return {
            "kind": self.kind,
            "price_per_tib_usd": self.price_per_tib_usd,
            "total_bytes": total,
            "total_cost_usd": None if total is None else cost_usd(total, self.price_per_tib_usd),
        }


def cost_usd(nbytes: int, price_per_tib_usd: float) -> float:
    """On-demand price of processing ``nbytes`` (billed per TiB = 2^40 bytes). Before BigQuery's
    rounding up to whole MB and its 10 MB minimum per table a job references."""
    return nbytes / TIB * price_per_tib_usd


def format_bytes(nbytes: int) -> str:
    """``nbytes`` in binary units, one decimal above bytes: ``0 B``, ``512 B``, ``1.5 GiB``."""
    value = float(nbytes)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_usd(amount: float) -> str:
    if amount == 0:
        return "$0.00"
    if amount < 0.01:
        return "<$0.01"
    return f"${amount:,.2f}"


def format_estimate(nbytes: int | None, price_per_tib_usd: float) -> str:
    """``12.3 GiB / $0.08``, or "estimate unavailable" (never 0) when the bytes are unknown."""
    if nbytes is None:
        return UNAVAILABLE
    return f"{format_bytes(nbytes)} / {format_usd(cost_usd(nbytes, price_per_tib_usd))}"


def estimate_plan(wh: Warehouse, plan: Plan, *, skip: bool = False) -> PlanEstimate:
    """Per table of ``plan``, the bytes its chunks would process: the sum of one
    ``wh.estimate_bytes`` per chunk (a table with nothing to do costs 0). DuckDB is not asked
    (``embedded``); with ``skip`` nothing is asked (``skipped``)."""
    price = wh.settings.warehouse.price_per_tib_usd
    if skip:
        return PlanEstimate("skipped", price, {})
    if wh.settings.warehouse.backend == "duckdb":
        return PlanEstimate("embedded", price, {})
    chunks = plan.chunks
    with ThreadPoolExecutor(max_workers=max(1, min(_DRY_RUN_WORKERS, len(chunks)))) as pool:
        per_chunk = list(pool.map(lambda c: _chunk_bytes(wh, c), chunks))
    totals: dict[str, int | None] = dict.fromkeys(plan.tables, 0)
    for chunk, n in zip(chunks, per_chunk, strict=True):
        done = totals[chunk.table]
        totals[chunk.table] = None if done is None or n is None else done + n
    return PlanEstimate("dry_run", price, totals)


def _chunk_bytes(wh: Warehouse, chunk: Chunk) -> int | None:
    """One chunk's estimate; None when the warehouse cannot tell (the emulator's dry runs, a
    target table that does not exist yet, a dry run refused)."""
    try:
        return wh.estimate_bytes(TABLES[chunk.table], chunk.start, chunk.end)
    except WarehouseError as exc:
        log.warning(
            "%s %s..%s: no cost estimate: %s",
            chunk.table,
            chunk.start,
            chunk.end,
            str(exc).splitlines()[0],
        )
        return None


__all__ = [
    "EMBEDDED",
    "UNAVAILABLE",
    "PlanEstimate",
    "cost_usd",
    "estimate_plan",
    "format_bytes",
    "format_estimate",
    "format_usd",
]
