"""The three ways to fill the same (table, date) pairs, each timed on its own warehouse copy.

* ``runbook``: the manual procedure — one job per (table, date), one date after another; the
  Phase 3 tables with work run side by side (the runbook's parallel processes; here threads of
  one process, because DuckDB allows one writer process per file), a table waiting for the
  Phase 3 tables it reads; then Phase 4 group by group (G1's three tables side by side).
* ``nba-backfill``: the real parent flow ``flows.backfill.backfill`` under a Prefect server.
* ``lower-bound``: one set-based statement per table over the range it needs, catalog
  (dependency) order, no orchestration at all.

The runbook and the lower bound take their work list from the planner, so all three fill
exactly the same (table, date) pairs: the runbook plans inside its clock (its operators' coverage
queries, a fraction of a second), the lower bound before it (it bounds the writing alone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bench.checksum import checksum
from bench.latency import LatencyWarehouse, TableWrites
from nba_backfill.catalog import PHASE3, PHASE4_GROUPS, TABLES, TableSpec
from nba_backfill.planner import Plan, Planner
from nba_backfill.warehouse.base import Warehouse

RUNBOOK = "runbook"
NBA_BACKFILL = "nba-backfill"
LOWER_BOUND = "lower-bound"
STRATEGIES = (RUNBOOK, NBA_BACKFILL, LOWER_BOUND)


@dataclass
class WorkList:
    """Per table (catalog order), the game dates to write."""

    dates: dict[str, list[dt.date]] = field(default_factory=dict)

    @classmethod
    def from_plan(cls, plan: Plan) -> WorkList:
        return cls({name: tp.to_fill for name, tp in plan.tables.items() if tp.to_fill})

    def pairs(self) -> int:
        return sum(len(d) for d in self.dates.values())

    def as_dict(self) -> dict[str, int]:
        return {name: len(d) for name, d in self.dates.items()}


def plan_work(wh: Warehouse, start: dt.date, end: dt.date) -> WorkList:
    """What a full backfill of ``[start, end]`` must write, from what the warehouse holds now
    (Phase 4 counts the Phase 3 dates about to be written as available)."""
    return WorkList.from_plan(Planner(wh).plan(start, end, phases=(3, 4)))


def phase3_stages(tables: Sequence[str]) -> list[list[str]]:
    """Phase 3 tables with work, in stages: a table starts after the tables with work it reads
    (TOGS → PGS → UPCG); the rest of a stage runs side by side."""
    level: dict[str, int] = {}
    for spec in PHASE3:  # catalog order = dependency order
        if spec.name not in tables:
            continue
        ups = [level[d.table] for d in spec.depends_on if d.table in level]
        level[spec.name] = 1 + max(ups) if ups else 0
    stages: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for name, lvl in level.items():
        stages[lvl].append(name)
    return stages


def runbook_stages(work: WorkList) -> list[list[str]]:
    """The runbook's order: Phase 3 stages, then Phase 4 G1 (side by side) → G2 → G3."""
    names = list(work.dates)
    stages = phase3_stages([n for n in names if TABLES[n].phase == 3])
    for group in PHASE4_GROUPS:
        g = [t.name for t in group if t.name in work.dates]
        if g:
            stages.append(g)
    return stages


def _side_by_side(names: Sequence[str], fn: Callable[[str], None]) -> None:
    if len(names) == 1:
        fn(names[0])
        return
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        for fut in [pool.submit(fn, n) for n in names]:
            fut.result()


def run_runbook(wh: Warehouse, work: WorkList) -> None:
    """One replace per (table, date), one date after another per table."""

    def one_table(name: str) -> None:
        spec = TABLES[name]
        for day in work.dates[name]:
            wh.replace_range(spec, day, day)

    for stage in runbook_stages(work):
        _side_by_side(stage, one_table)


def run_lower_bound(wh: Warehouse, work: WorkList) -> None:
    """One replace per table over ``[first, last]`` of its dates (rewriting complete dates in
    between gives the same rows), in dependency order."""
    for name, dates in work.dates.items():
        wh.replace_range(TABLES[name], dates[0], dates[-1])


def checksums(wh: Warehouse, start: dt.date, end: dt.date) -> dict[str, dict[str, object]]:
    """Rows and an order-independent fingerprint of every Phase 3/4 table on the range."""
    out: dict[str, dict[str, object]] = {}
    for spec in TABLES.values():
        rows, digest = checksum(wh, spec, start, end)
        out[spec.name] = {"rows": rows, "checksum": digest}
    return out


def phase_split(wh: LatencyWarehouse, t0: float, t_end: float) -> dict[str, Any]:
    """Wall time split at the end of the last Phase 3 write and of the last Phase 4 write
    (Phase 3 includes its planning; Phase 4 the gate and the group plans; ``other`` the final
    validation), and the same split in projected production seconds when the model charges."""
    last: dict[int, TableWrites] = {}
    for name, tw in wh.stats.tables.items():
        spec: TableSpec | None = TABLES.get(name)
        if (
            spec is not None
            and tw.jobs
            and (spec.phase not in last or tw.last_end > last[spec.phase].last_end)
        ):
            last[spec.phase] = tw
    start = TableWrites(last_end=t0)
    p3 = last.get(3, start)
    p4 = last.get(4, p3)
    if p4.last_end < p3.last_end:
        p4 = p3
    end = TableWrites(last_end=t_end, busy_at_last_end=wh.stats.busy_seconds)

    def at(tw: TableWrites) -> float:
        return wh.projected_seconds(tw.last_end - t0, tw.busy_at_last_end)

    out: dict[str, Any] = {
        "phase3": round(p3.last_end - t0, 3),
        "phase4": round(p4.last_end - p3.last_end, 3),
        "other": round(max(0.0, t_end - p4.last_end), 3),
    }
    if wh.latency.charging:
        out["projected"] = {
            "phase3": round(at(p3), 1),
            "phase4": round(at(p4) - at(p3), 1),
            "other": round(max(0.0, at(end) - at(p4)), 1),
        }
    return out
