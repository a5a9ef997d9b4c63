"""The latency model alone, without embedded or scaled runs (for a loaded machine where a full
``make bench`` cannot run): seed the synthetic states, plan them for real, simulate the flow
under both write strategies at a few settings against the set-based lower bound.

``python -m bench.model_only [--per-date-ms 10] [--fixed-overhead 6]``: the per-date cost
and Prefect's fixed cost are stated, not measured (a full run measures them).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import model as bm
from bench.run import parse, plans_for
from bench.worker import seed_states
from nba_backfill.catalog import TABLES
from nba_backfill.settings import writes_per_table

# (chunk_days, max_concurrency, per-table limit): the defaults first
SETTINGS = ((92, 8, 2), (92, 8, 1), (183, 16, 2), (366, 16, 2), (366, 16, 1))
HEADER = (
    "| chunk_days × concurrency, per-table | state | strategy | chunks | jobs | min "
    "| ÷ lower bound |\n|---|---|---|---:|---:|---:|---:|"
)


def rows(
    state: str, planned: Mapping[str, Any], per_date: Mapping[str, float], fixed: float
) -> Iterator[str]:
    """Markdown rows: each setting × write strategy simulated, then the lower bound."""
    lower = bm.simulate_lower_bound(
        planned["work"], bm.base_model(per_date_seconds=dict(per_date)), planned["game_dates"]
    ).seconds
    for cd, conc, per_table in SETTINGS:
        plan = planned["plans"][cd]
        for ws in bm.WRITE_STRATEGIES:
            sim = bm.simulate_flow(
                plan,
                bm.base_model(per_date_seconds=dict(per_date), write_strategy=ws),
                max_concurrency=conc,
                per_table_limit=writes_per_table(ws, per_table),
                reads=planned["flow_reads"],
                fixed_overhead=fixed,
            )
            failed = f", {sim.failed} †" if sim.failed else ""
            yield (
                f"| {cd} × {conc}, {per_table} | {state} | {ws} | {len(plan.chunks)} | "
                f"{sim.jobs} | {sim.seconds / 60:.1f} | {sim.seconds / lower:.1f}× "
                f"({sim.retries} retried{failed}) |"
            )
    yield f"| lower bound | {state} | — | — | — | {lower / 60:.1f} | 1 |"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.model_only", description=__doc__)
    p.add_argument("--per-date-ms", type=float, default=10.0, help="set-based cost per date")
    p.add_argument("--fixed-overhead", type=float, default=6.0, help="Prefect's seconds a run")
    p.add_argument(
        "--seeded", type=Path, default=None, help="a directory holding seeds/empty.duckdb already"
    )
    a = p.parse_args(argv)
    opts = parse([])  # the standard range and the settings' defaults
    per_date = {t: a.per_date_ms / 1000 for t in TABLES}
    work = a.seeded or Path(tempfile.mkdtemp(prefix="bench-model-"))
    try:
        dbs = (
            {s: str(work / f"{s}.duckdb") for s in opts.states}
            if a.seeded
            else seed_states(work, list(opts.states), opts.final_through)
        )
        days = sorted({cd for cd, _, _ in SETTINGS})
        print(HEADER)
        for state in opts.states:
            planned = plans_for(Path(dbs[state]), opts, days)
            for row in rows(state, planned, per_date, a.fixed_overhead):
                print(row, flush=True)
    finally:
        if a.seeded is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
