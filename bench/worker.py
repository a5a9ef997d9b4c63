"""One strategy, one warehouse copy, one process: ``python -m bench.worker CONFIG.json OUT.json``.

The parent (``bench.run``) starts a process per measurement so each reports its own peak RSS
and no strategy warms caches for another. The warehouse is wrapped in a
:class:`~bench.latency.LatencyWarehouse`: with the count-only model it
measures jobs and the time spent inside warehouse calls; with a charging model it stands in
for BigQuery's latency.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench.latency import LatencyModel, LatencyWarehouse
from bench.strategies import (
    LOWER_BOUND,
    NBA_BACKFILL,
    RUNBOOK,
    checksums,
    phase_split,
    plan_work,
    run_lower_bound,
    run_runbook,
)
from nba_backfill.settings import env_var

LOWER_BOUND_MEMORY_LIMIT = "4GB"  # DuckDB's buffer pool for the lower bound's statements


def _model(cfg: dict[str, Any]) -> LatencyModel:
    return LatencyModel(**cfg) if cfg else LatencyModel()


def _stats(wh: LatencyWarehouse, t0: float, t1: float) -> dict[str, Any]:
    s = wh.stats
    wall = t1 - t0
    out: dict[str, Any] = {
        "wall_seconds": round(wall, 3),
        "busy_seconds": round(s.busy_seconds, 3),
        "overhead_share": round(max(0.0, wall - s.busy_seconds) / wall, 4) if wall else 0.0,
        "calls": s.as_dict(),
        "phases": phase_split(wh, t0, t1),
    }
    if wh.latency.charging:
        out["projected_seconds"] = round(wh.projected_seconds(wall), 1)
    return out


def seed_states(work: Path, states: list[str], final_through: dt.date) -> dict[str, str]:
    """One synthetic warehouse per state, seeded once: ``empty`` is ``seeds`` with its Phase 3
    rows deleted (the same Phase 2 data, the same empty Phase 3/4 tables)."""
    from devtools.seeding import SEED_INFO, seed
    from nba_backfill.catalog import PHASE3
    from nba_backfill.settings import load_settings
    from nba_backfill.warehouse.duckdb import DuckDBWarehouse

    def open_db(path: Path) -> DuckDBWarehouse:
        return DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))

    first = "seeds" if "seeds" in states else "empty"
    paths = {first: work / f"{first}.duckdb"}
    wh = open_db(paths[first])
    try:
        seed(wh, "seeds" if first == "seeds" else "empty", final_through=final_through)
    finally:
        wh.close()
    if first == "seeds" and "empty" in states:
        paths["empty"] = work / "empty.duckdb"
        shutil.copy(paths[first], paths["empty"])
        wh = open_db(paths["empty"])
        try:
            bounds = wh.schedule_bounds()
            assert bounds is not None
            days = [bounds[0] + dt.timedelta(days=i) for i in range((bounds[1] - bounds[0]).days)]
            for spec in PHASE3:
                wh.delete_dates(spec, [*days, bounds[1]])
            wh.load_raw(SEED_INFO, [(7, "empty", final_through, dt.date.today())], replace=True)
        finally:
            wh.close()
    return {state: str(path) for state, path in paths.items()}


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM). ``ru_maxrss`` would also count the parent's
    memory at fork time, which Linux carries over into a child's maximum."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    # Every measurement works on a copy of a DuckDB file. A BigQuery backend in the environment
    # or .env must not send the strategies' writes (the runbook's per-date replaces, the lower
    # bound's whole-range rewrites of complete dates) to a real warehouse: pin the backend.
    os.environ[env_var("warehouse", "backend")] = "duckdb"
    strategy = cfg["strategy"]
    if strategy == "seed":
        t = time.perf_counter()
        paths = seed_states(
            Path(cfg["dir"]), list(cfg["states"]), dt.date.fromisoformat(cfg["final_through"])
        )
        return {"paths": paths, "seconds": round(time.perf_counter() - t, 1)}
    start = dt.date.fromisoformat(cfg["start"])
    end = dt.date.fromisoformat(cfg["end"])
    # Every strategy writes every table: the synthetic seasons are older than production's
    # partition expiration, which would otherwise skip three Phase 4 tables' history.
    os.environ["NBA_BACKFILL_WAREHOUSE__DUCKDB_PARTITION_EXPIRATION"] = "none"
    model = _model(cfg.get("model") or {})
    result: dict[str, Any] = {"strategy": strategy, "label": cfg.get("label", strategy)}

    if strategy == NBA_BACKFILL:
        os.environ["NBA_BACKFILL_WAREHOUSE__DUCKDB_PATH"] = cfg["db"]
        t = time.perf_counter()
        from flows.backfill import backfill  # Prefect's import is not the flow's run time

        result["import_seconds"] = round(time.perf_counter() - t, 3)
    from nba_backfill.settings import get_settings, load_settings
    from nba_backfill.warehouse import open_warehouse, use_shared

    warehouse: dict[str, object] = {"duckdb_path": cfg["db"]}
    if strategy == LOWER_BOUND:
        # A bound, not a product setting: its whole-range statements get the memory they ask
        # for (they took ~950 MiB), where the flow's chunks stay under the default cap.
        warehouse["duckdb_memory_limit"] = LOWER_BOUND_MEMORY_LIMIT
    settings = get_settings() if strategy == NBA_BACKFILL else load_settings(warehouse=warehouse)
    inner = open_warehouse(settings)
    bounds = inner.schedule_bounds()
    assert bounds is not None, "the warehouse copy holds no schedule"
    game_dates = list(inner.schedule(*bounds))
    work = plan_work(inner, start, end)
    result["work"] = work.as_dict()
    result["pairs"] = work.pairs()
    wh = LatencyWarehouse(inner, model, game_dates=game_dates)
    if not model.charging:
        # Only where nothing is scaled: a projection divides busy time by the time factor,
        # and these calls are not charged (the model charges ``runner.chunk_jobs``).
        wh.watch_adapter()

    if strategy == RUNBOOK:
        t0 = time.perf_counter()
        run_runbook(wh, plan_work(wh, start, end) if model.execute_writes else work)
        t1 = time.perf_counter()
        result.update(_stats(wh, t0, t1))
        if cfg.get("rerun") and model.execute_writes:
            wh.reset_stats()
            t0 = time.perf_counter()
            run_runbook(wh, plan_work(wh, start, end))  # the coverage queries, then no jobs
            t1 = time.perf_counter()
            result["rerun"] = _stats(wh, t0, t1)
    elif strategy == LOWER_BOUND:
        t0 = time.perf_counter()
        run_lower_bound(wh, work)
        t1 = time.perf_counter()
        result.update(_stats(wh, t0, t1))
    elif strategy == NBA_BACKFILL:
        from nba_backfill import runner

        use_shared(wh)
        finished: list[runner.ChunkResult] = []
        runner.add_listener(finished.append)
        kwargs = {k: cfg[k] for k in ("chunk_days", "max_concurrency") if cfg.get(k)}
        result["settings"] = {
            "chunk_days": kwargs.get("chunk_days", settings.run.chunk_days),
            "max_concurrency": kwargs.get("max_concurrency", settings.run.max_concurrency),
            "max_concurrency_per_table": settings.run.max_concurrency_per_table,
        }
        t0 = time.perf_counter()
        state = backfill(start, end, return_state=True, **kwargs)
        t1 = time.perf_counter()
        result.update(_stats(wh, t0, t1))
        result["flow_state"] = state.name
        result["chunks"] = len(finished)
        result["filled_pairs"] = sum(len(r.dates_filled) for r in finished)
        if cfg.get("rerun"):
            wh.reset_stats()
            t0 = time.perf_counter()
            again = backfill(start, end, return_state=True, **kwargs)
            t1 = time.perf_counter()
            result["rerun"] = _stats(wh, t0, t1)
            result["rerun"]["flow_state"] = again.name
            # Prefect 3.9 joins each flow run's heartbeat thread on exit, which sleeps in 1 s
            # steps: measure what the no-op rerun costs without it (a finding, not the default).
            from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

            wh.reset_stats()
            with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
                t0 = time.perf_counter()
                backfill(start, end, return_state=True, **kwargs)
                t1 = time.perf_counter()
            result["rerun_no_heartbeat"] = _stats(wh, t0, t1)
    else:
        raise SystemExit(f"unknown strategy {strategy!r}")

    if cfg.get("checksums", True) and model.execute_writes:
        result["tables"] = checksums(inner, start, end)
    inner.close()
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    cfg = json.loads(Path(args[0]).read_text())
    result = run(cfg)
    Path(args[1]).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
