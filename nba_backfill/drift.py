"""Drift between production's contract and the live warehouse, and the column roles report.

A write names every live production column of its table (``outputs.write_select``), so a
target that lacks one, or holds it with another type, fails the write; a run refuses to start
instead (:func:`require_writable`, a usage error: exit 2, nothing written)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from nba_backfill import outputs
from nba_backfill.catalog import TableSpec
from nba_backfill.errors import UsageError
from nba_backfill.sqlfiles import load_query
from nba_backfill.warehouse.base import Warehouse


@dataclass
class TableDrift:
    """How the live table differs from production's contract (empty lists: no drift)."""

    table: str
    exists: bool
    missing: list[str] = field(default_factory=list)  # "name TYPE" the live table lacks
    mistyped: list[str] = field(default_factory=list)  # "name: live TYPE MODE, production …"
    extra: list[str] = field(default_factory=list)  # live columns production does not have
    blocking_extra: list[str] = field(default_factory=list)  # extra REQUIRED: a write fails

    @property
    def ok(self) -> bool:
        return not (self.missing or self.mistyped or self.blocking_extra)

    @property
    def problems(self) -> list[str]:
        return (
            [f"missing {m}" for m in self.missing]
            + [f"mistyped {m}" for m in self.mistyped]
            + [f"extra REQUIRED {m} (a write leaves it NULL)" for m in self.blocking_extra]
        )


def _same_type(live: str, want: str) -> bool:
    # A server that does not report NUMERIC parameters (the emulator) cannot be told apart.
    return live == want or (live == "NUMERIC" and want.startswith("NUMERIC("))


def table_drift(wh: Warehouse, spec: TableSpec) -> TableDrift:
    """Compare ``spec``'s live table with production's contract, column by column."""
    live = wh.live_columns(spec.name)
    if live is None:
        return TableDrift(spec.name, exists=False)
    drift = TableDrift(spec.name, exists=True)
    have = {name: (type_, mode) for name, type_, mode in live}
    contract = spec.contract
    for col in contract.live_columns:
        if col.name not in have:
            drift.missing.append(f"{col.name} {col.type}")
            continue
        type_, mode = have[col.name]
        # A NULLABLE production column held as REQUIRED would refuse the NULLs a write puts in.
        mode_bad = mode == "REQUIRED" and not col.required
        if not _same_type(type_, col.type) or mode_bad:
            drift.mistyped.append(
                f"{col.name}: live {type_} {mode}, production {col.type} {col.mode}"
            )
    known = {c.name for c in contract.columns}  # optional migration columns are expected
    for name, type_, mode in live:
        if name not in known:
            drift.extra.append(f"{name} {type_}")
            if mode == "REQUIRED":
                drift.blocking_extra.append(f"{name} {type_}")
    return drift


def require_writable(wh: Warehouse, specs: Sequence[TableSpec]) -> None:
    """Raise a one-line :class:`UsageError` naming the first table and column a write of
    ``specs`` would fail on. A run never creates a table: an absent one is refused too (create
    it from the contract: ``seed`` on a sandbox, production's DDL in production)."""
    for spec in specs:
        drift = table_drift(wh, spec)
        if not drift.exists:
            raise UsageError(
                f"{spec.name}: the table does not exist; a run writes into existing tables "
                "only (create it from production's DDL, or `nba-backfill seed` on a sandbox)"
            )
        if not drift.ok:
            more = len(drift.problems) - 1
            raise UsageError(
                f"{spec.name}: {drift.problems[0]}"
                + (f" (+{more} more)" if more else "")
                + "; the live table differs from production's contract, nothing was written "
                "(`nba-backfill contract` lists the drift)"
            )


def column_roles(spec: TableSpec) -> outputs.ColumnRoles:
    """computed / tracked / not derived for every live production column of ``spec``."""
    return outputs.roles(spec.name, load_query(spec))
