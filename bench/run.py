"""``make bench``: seed once, run the three strategies side by side on copies of the same
warehouse (states ``seeds`` and ``empty``), check they wrote the same rows, project production
times under the latency model, sweep chunk size and concurrency, and write the report.

Each measurement runs in its own process (``bench.worker``): its peak RSS is its own and it
starts cold. The Prefect server the flow needs is started once, before any clock starts.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench import model as bm
from bench import report
from bench.latency import LatencyWarehouse
from bench.strategies import LOWER_BOUND, NBA_BACKFILL, RUNBOOK, STRATEGIES, WorkList
from cli import local_server
from devtools.seeding import STANDARD_END, STANDARD_START
from nba_backfill.catalog import PHASE4_GROUPS, TABLES
from nba_backfill.planner import Planner
from nba_backfill.settings import load_settings, writes_per_table
from nba_backfill.validation import validate
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
RUNBOOK_TIME_FACTOR = 1 / 8000  # the runbook's modelled ~15–40 h in ~7–20 s
FLOW_TIME_FACTOR = 1 / 20  # nba-backfill's modelled minutes in a few tens of seconds
SWEEP_CHUNK_DAYS = (14, 31, 62, 92, 183, 366)
SWEEP_CONCURRENCY = (2, 4, 8, 16, 32)
SWEEP_PER_TABLE = (1, 2, 4)
MULTIPLIERS = (1.0, 3.0, 10.0)


@dataclass
class Options:
    start: dt.date = STANDARD_START
    end: dt.date = STANDARD_END
    final_through: dt.date = STANDARD_END
    states: tuple[str, ...] = ("seeds", "empty")
    strategies: tuple[str, ...] = STRATEGIES
    embedded_sweep: tuple[tuple[int, int], ...] = ((92, 8), (183, 8))
    # Scaled real flow runs (opt-in, ``--real-multipliers 1 --scaled-configs 92x8``): since the
    # production models, a chunk's real embedded work outlasts 1/20 of its modelled time, so
    # these runs only bound the projection from above; the simulation is the projection.
    real_multipliers: tuple[float, ...] = ()
    # Scaled real runs at other settings (state seeds): checks the simulation off the defaults.
    scaled_configs: tuple[tuple[int, int], ...] = ()
    runbook_time_factor: float = RUNBOOK_TIME_FACTOR
    out: Path = RESULTS
    keep: bool = False
    label: str = "full"
    defaults: dict[str, int] = field(default_factory=dict)
    write_strategy: str = "merge"  # the settings' warehouse.write_strategy


def _say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- setup ----------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def plans_for(path: Path, opts: Options, chunk_days: Sequence[int]) -> dict[str, Any]:
    """From a seeded file: the work list, the schedule, a plan per chunk size, and the query
    jobs the flow's planning and validation steps run (counted on the real code)."""
    inner = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}), read_only=True)
    try:
        wh = LatencyWarehouse(inner)  # count only
        planner = Planner(wh)
        plans = {
            cd: planner.plan(opts.start, opts.end, chunk_days=cd, phases=(3, 4))
            for cd in chunk_days
        }
        cd = opts.defaults["chunk_days"]

        def reads(fn: Callable[[], object]) -> int:
            wh.reset_stats()
            fn()
            return wh.reset_stats().reads

        p4_names = [t.name for t in TABLES.values() if t.phase == 4]
        # As the flow runs them: the first plan's schedule reads serve the later steps.
        wh.reset_stats()
        first = planner.plan(opts.start, opts.end, None, cd, phases=(3,))
        plan3 = wh.reset_stats().reads
        ground = first.reads
        flow_reads = bm.FlowReads(
            plan3=plan3,
            gate=reads(lambda: validate(wh, 3, opts.start, opts.end, reads=ground)),
            plan4=tuple(
                reads(
                    partial(
                        planner.plan, opts.start, opts.end, names, cd, phases=(4,), reads=ground
                    )
                )
                for names in ([t.name for t in g] for g in PHASE4_GROUPS)
            ),
            validate4=reads(lambda: validate(wh, 4, opts.start, opts.end, p4_names, ground)),
        )
        bounds = inner.schedule_bounds()
        assert bounds is not None
        dates = sorted(inner.schedule(*bounds))
    finally:
        inner.close()
    return {
        "work": WorkList.from_plan(plans[chunk_days[0]]),
        "plans": plans,
        "game_dates": dates,
        "flow_reads": flow_reads,
    }


class Server:
    """The local Prefect server the flow runs need, on a free port and a private home."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = _free_port()
        self.api: str | None = None
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._start, daemon=True)

    def _start(self) -> None:
        started = time.perf_counter()
        try:
            self.api = local_server.ensure_server(self.home, self.port, timeout=180)
        except BaseException as exc:
            self.error = exc
        self.seconds = time.perf_counter() - started

    def start(self) -> None:
        self._thread.start()

    def wait(self) -> str:
        self._thread.join()
        if self.error is not None or self.api is None:
            raise RuntimeError(f"the Prefect server did not start: {self.error}")
        return self.api

    def env(self) -> dict[str, str]:
        assert self.api is not None
        return {
            **local_server.base_env(self.home),
            "PREFECT_API_URL": self.api,
            "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
            "NBA_BACKFILL_HOME": str(self.home),
        }

    def cpu_seconds(self) -> float:
        """CPU time of the server process so far (Linux /proc): the verified pid of
        ``prefect server start --background``'s pid file (one uvicorn process)."""
        pid_file = local_server.read_pid_file(self.home)
        if pid_file is None or not pid_file.ours or pid_file.pid is None:
            return 0.0
        try:
            fields = Path(f"/proc/{pid_file.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def wait_quiet(self, limit: float = 90.0) -> float:
        """Wait until the server has persisted what the last flow sent (its CPU use drops
        under 10 %), so the next measurement does not share the CPU with it."""
        started = time.perf_counter()
        last = self.cpu_seconds()
        while time.perf_counter() - started < limit:
            time.sleep(0.5)
            now = self.cpu_seconds()
            if now - last < 0.05:
                break
            last = now
        return time.perf_counter() - started

    def stop(self) -> None:
        local_server.stop_server(self.home)


# --- one measurement ------------------------------------------------------------------------------
def run_worker(
    cfg: dict[str, Any], work: Path, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``bench.worker`` in a fresh process; add its wall time and peak RSS (wait4)."""
    name = cfg["label"].replace(" ", "_").replace("/", "-")
    cfg_path, out_path = work / f"{name}.json", work / f"{name}.out.json"
    cfg_path.write_text(json.dumps(cfg, default=str))
    log = open(work / f"{name}.log", "wb")  # noqa: SIM115 - closed below
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.worker", str(cfg_path), str(out_path)],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    log.close()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = (work / f"{name}.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{cfg['label']} failed (exit {proc.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(out_path.read_text())
    result["process_seconds"] = round(seconds, 2)
    # The worker's own VmHWM; wait4's ru_maxrss (KiB) also counts the parent at fork time.
    result.setdefault("peak_rss_mib", round(usage.ru_maxrss / 1024, 1))
    result["rusage_maxrss_mib"] = round(usage.ru_maxrss / 1024, 1)
    result["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


def copy_db(src: Path, work: Path, name: str) -> Path:
    dst = work / f"{name}.duckdb"
    shutil.copy(src, dst)
    return dst


# --- the whole benchmark --------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    opts = parse(argv)
    t_start = time.perf_counter()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    opts.out.mkdir(parents=True, exist_ok=True)
    work = opts.out / f"work-{stamp}"
    work.mkdir()
    env_info = environment()
    results: dict[str, Any] = {
        "timestamp": stamp,
        "label": opts.label,
        "range": {"start": opts.start.isoformat(), "end": opts.end.isoformat()},
        "environment": env_info,
        "defaults": opts.defaults,
        "embedded": {},
        "latency": {},
        "timings": {},
    }
    need_server = NBA_BACKFILL in opts.strategies
    server = Server(work / "home") if need_server else None
    try:
        if server is not None:
            server.start()
        _say("seeding the synthetic warehouse")
        t = time.perf_counter()
        seeded = run_worker(
            {
                "strategy": "seed",
                "label": "seed",
                "dir": str(work),
                "states": list(opts.states),
                "final_through": opts.final_through.isoformat(),
            },
            work,
        )
        dbs = {state: Path(path) for state, path in seeded["paths"].items()}
        results["timings"]["seed_seconds"] = round(time.perf_counter() - t, 1)
        server_env: dict[str, str] = {}
        if server is not None:
            server.wait()
            results["timings"]["prefect_server_start_seconds"] = round(server.seconds, 1)
            server_env = server.env()

        # 1. Embedded engine: the three strategies on copies of the same seeded file.
        for state in opts.states:
            results["embedded"][state] = embedded_state(state, dbs[state], work, opts, server)

        # 2. Latency model: calibrate, derive the set-based per-date cost, run and simulate.
        per_date = bm.set_based_per_date(
            r[NBA_BACKFILL]["calls"]["tables"]
            for r in results["embedded"].values()
            if NBA_BACKFILL in r
        ) or bm.set_based_per_date(
            r[LOWER_BOUND]["calls"]["tables"] for r in results["embedded"].values()
        )
        sweep_days = sorted({opts.defaults["chunk_days"], *SWEEP_CHUNK_DAYS})
        planned = {s: plans_for(dbs[s], opts, sweep_days) for s in opts.states}
        calib_state = "seeds" if "seeds" in opts.states else opts.states[0]
        calibration = bm.calibrate_runbook(planned[calib_state]["work"])
        results["model"] = model_assumptions(opts, calibration, per_date)
        for state in opts.states:
            _say(f"latency model, state {state}")
            results["latency"][state] = latency_state(
                state,
                dbs[state],
                work,
                opts,
                planned[state],
                calibration,
                per_date,
                results["embedded"][state],
                server_env,
                server,
            )
        results["sweep"] = sweep(opts, planned, per_date, results["embedded"])
    finally:
        if server is not None:
            server.stop()
    results["timings"]["bench_seconds"] = round(time.perf_counter() - t_start, 1)
    results["targets"] = report.targets(results)
    paths = report.write(results, opts.out, stamp)
    print(report.markdown(results))
    shown = [p.relative_to(ROOT) if p.is_relative_to(ROOT) else p for p in paths]
    _say("wrote " + ", ".join(str(p) for p in shown))
    if not opts.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def embedded_state(
    state: str, db: Path, work: Path, opts: Options, server: Server | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    env = server.env() if server is not None else {}
    base: dict[str, Any] = {"start": opts.start.isoformat(), "end": opts.end.isoformat()}
    for strategy in opts.strategies:
        _say(f"embedded engine, state {state}: {strategy}")
        copy = copy_db(db, work, f"{state}-{strategy}")
        cfg = {**base, "strategy": strategy, "db": str(copy), "label": f"{state}-{strategy}"}
        cfg["rerun"] = strategy != LOWER_BOUND
        res = run_worker(cfg, work, env if strategy == NBA_BACKFILL else None)
        res["db"] = str(copy)
        if strategy == NBA_BACKFILL and server is not None:
            res["server_drain_seconds"] = round(server.wait_quiet(), 1)
            # A cold no-op rerun: a new process, imports and server connection included.
            cold = run_worker(
                {
                    **cfg,
                    "label": f"{state}-{strategy}-cold-rerun",
                    "rerun": False,
                    "checksums": False,
                },
                work,
                env,
            )
            res["cold_rerun"] = {
                "process_seconds": cold["process_seconds"],
                "flow_seconds": cold["wall_seconds"],
                "import_seconds": cold.get("import_seconds"),
                "jobs": cold["calls"]["jobs"],
            }
            server.wait_quiet()
        out[strategy] = res
    out["same_rows"] = report.compare_tables(out)
    if opts.embedded_sweep and state == "seeds" and NBA_BACKFILL in opts.strategies:
        out["sweep"] = []
        for chunk_days, conc in opts.embedded_sweep:
            _say(f"embedded sweep, state {state}: chunk_days={chunk_days} max_concurrency={conc}")
            copy = copy_db(db, work, f"{state}-sweep-{chunk_days}-{conc}")
            res = run_worker(
                {
                    **base,
                    "strategy": NBA_BACKFILL,
                    "db": str(copy),
                    "checksums": False,
                    "label": f"{state}-sweep-{chunk_days}x{conc}",
                    "chunk_days": chunk_days,
                    "max_concurrency": conc,
                },
                work,
                env,
            )
            assert server is not None
            server.wait_quiet()
            out["sweep"].append(report.sweep_row(res))
            copy.unlink()
    return out


def latency_state(
    state: str,
    db: Path,
    work: Path,
    opts: Options,
    planned: dict[str, Any],
    calibration: bm.Calibration,
    per_date: dict[str, float],
    embedded: dict[str, Any],
    server_env: dict[str, str],
    server: Server | None,
) -> dict[str, Any]:
    base = {"start": opts.start.isoformat(), "end": opts.end.isoformat(), "checksums": False}
    work_list: WorkList = planned["work"]
    out: dict[str, Any] = {"scaled_runs": {}, "simulated": {}}
    # Runbook: its schedule is fixed up front, so its writes are charged and skipped.
    if RUNBOOK in opts.strategies:
        rb_model = calibration.model(opts.runbook_time_factor)
        res = run_worker(
            {
                **base,
                "strategy": RUNBOOK,
                "db": str(db),
                "label": f"{state}-latency-runbook",
                "model": rb_model.as_dict(),
            },
            work,
        )
        out["scaled_runs"][RUNBOOK] = report.scaled(res, rb_model)
        out["simulated"][RUNBOOK] = bm.simulate_runbook(work_list, rb_model).as_dict()
    for mult in MULTIPLIERS:
        out["simulated"][f"{LOWER_BOUND} {mult:g}x"] = bm.simulate_lower_bound(
            work_list,
            bm.base_model(per_date_seconds=per_date, per_date_multiplier=mult),
            planned["game_dates"],
        ).as_dict()
    if NBA_BACKFILL in opts.strategies and server is not None:
        nb = embedded[NBA_BACKFILL]
        fixed = fixed_overhead(nb)
        out["flow_constants"] = {
            "reads": planned["flow_reads"].as_dict(),
            "fixed_overhead_seconds": fixed,
        }
        # Both write strategies at the defaults, side by side ("nba-backfill 1x" is the
        # settings' strategy, as the scaled runs use it).
        for ws in bm.WRITE_STRATEGIES:
            for mult in MULTIPLIERS:
                m = bm.base_model(
                    per_date_seconds=per_date, per_date_multiplier=mult, write_strategy=ws
                )
                sim = bm.simulate_flow(
                    planned["plans"][opts.defaults["chunk_days"]],
                    m,
                    max_concurrency=opts.defaults["max_concurrency"],
                    per_table_limit=writes_per_table(
                        ws, opts.defaults["max_concurrency_per_table"]
                    ),
                    reads=planned["flow_reads"],
                    fixed_overhead=fixed,
                )
                key = f"{NBA_BACKFILL} {mult:g}x"
                out["simulated"][key if ws == opts.write_strategy else f"{key} {ws}"] = (
                    sim.as_dict()
                )
        for mult in opts.real_multipliers:
            m = bm.base_model(
                time_factor=FLOW_TIME_FACTOR,
                per_date_seconds=per_date,
                per_date_multiplier=mult,
                write_strategy=opts.write_strategy,
            )
            copy = copy_db(db, work, f"{state}-latency-nba-{mult:g}")
            res = run_worker(
                {
                    **base,
                    "strategy": NBA_BACKFILL,
                    "db": str(copy),
                    "label": f"{state}-latency-nba-backfill-{mult:g}x",
                    "model": m.as_dict(),
                },
                work,
                server_env,
            )
            server.wait_quiet()
            out["scaled_runs"][f"{NBA_BACKFILL} {mult:g}x"] = report.scaled(res, m)
            copy.unlink()
        for chunk_days, conc in opts.scaled_configs if state == "seeds" else ():
            key = f"{NBA_BACKFILL} 1x, chunk_days {chunk_days}, max_concurrency {conc}"
            m = bm.base_model(
                time_factor=FLOW_TIME_FACTOR,
                per_date_seconds=per_date,
                write_strategy=opts.write_strategy,
            )
            copy = copy_db(db, work, f"{state}-latency-nba-{chunk_days}x{conc}")
            res = run_worker(
                {
                    **base,
                    "strategy": NBA_BACKFILL,
                    "db": str(copy),
                    "label": f"{state}-latency-nba-backfill-{chunk_days}x{conc}",
                    "model": m.as_dict(),
                    "chunk_days": chunk_days,
                    "max_concurrency": conc,
                },
                work,
                server_env,
            )
            server.wait_quiet()
            out["scaled_runs"][key] = report.scaled(res, m)
            plan = planned["plans"].get(chunk_days)
            if plan is not None:
                out["simulated"][key] = bm.simulate_flow(
                    plan,
                    bm.base_model(per_date_seconds=per_date, write_strategy=opts.write_strategy),
                    max_concurrency=conc,
                    per_table_limit=writes_per_table(
                        opts.write_strategy, opts.defaults["max_concurrency_per_table"]
                    ),
                    reads=planned["flow_reads"],
                    fixed_overhead=fixed,
                ).as_dict()
            copy.unlink()
    return out


def fixed_overhead(nb: dict[str, Any]) -> float:
    """Prefect's fixed cost per flow run: the embedded no-op rerun's time outside warehouse
    calls (flow and subflow runs, tasks, artifacts, on this machine's local server)."""
    rerun = nb.get("rerun") or {}
    return round(
        max(0.0, float(rerun.get("wall_seconds", 0.0)) - float(rerun.get("busy_seconds", 0.0))), 2
    )


def sweep(
    opts: Options,
    planned: dict[str, dict[str, Any]],
    per_date: dict[str, float],
    embedded: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """The parent flow's schedule simulated under the latency model for every chunk size ×
    concurrency × per-table limit × per-date multiplier, in both states."""
    rows: list[dict[str, Any]] = []
    for state, p in planned.items():
        nb = embedded[state].get(NBA_BACKFILL)
        if nb is None:
            continue
        fixed = fixed_overhead(nb)
        for ws, mult in itertools.product(bm.WRITE_STRATEGIES, MULTIPLIERS):
            m = bm.base_model(
                per_date_seconds=per_date, per_date_multiplier=mult, write_strategy=ws
            )
            for cd, plan in sorted(p["plans"].items()):
                for conc in SWEEP_CONCURRENCY:
                    # Transactions run one per table whatever the setting (writes_per_table).
                    for per_table in SWEEP_PER_TABLE if ws == "merge" else (1,):
                        sim = bm.simulate_flow(
                            plan,
                            m,
                            max_concurrency=conc,
                            per_table_limit=per_table,
                            reads=p["flow_reads"],
                            fixed_overhead=fixed,
                        )
                        rows.append(
                            {
                                "state": state,
                                "write_strategy": ws,
                                "multiplier": mult,
                                "chunk_days": cd,
                                "max_concurrency": conc,
                                "per_table": per_table,
                                "chunks": len(plan.chunks),
                                "seconds": round(sim.seconds, 1),
                                "jobs": sim.jobs,
                                "retries": sim.retries,
                                "failed": sim.failed,
                            }
                        )
    return rows


def model_assumptions(
    opts: Options, cal: bm.Calibration, per_date: dict[str, float]
) -> dict[str, Any]:
    return {
        "job_start_seconds": bm.JOB_START_SECONDS,
        "commit_seconds": bm.COMMIT_SECONDS,
        "metadata_seconds": bm.METADATA_SECONDS,
        "max_writes_per_table": bm.MAX_WRITES_PER_TABLE,
        "max_concurrent_jobs": bm.MAX_CONCURRENT_JOBS,
        "max_queued_per_table": bm.MAX_QUEUED_PER_TABLE,
        "dml_per_window": bm.DML_PER_WINDOW,
        "dml_window_seconds": bm.DML_WINDOW_SECONDS,
        "write_strategy": opts.write_strategy,
        "task_overhead_seconds": bm.TASK_OVERHEAD_SECONDS,
        "runbook_time_factor": opts.runbook_time_factor,
        "flow_time_factor": FLOW_TIME_FACTOR,
        "runbook_calibration": cal.as_dict(),
        "set_based_per_date_seconds": {k: round(v, 5) for k, v in per_date.items()},
    }


def environment() -> dict[str, Any]:
    import platform

    import duckdb

    try:
        from importlib.metadata import version

        prefect_version = version("prefect")
    except Exception:
        prefect_version = "?"
    mem = 0
    with contextlib.suppress(ValueError, OSError):
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024**3
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gib": mem,
        "duckdb": duckdb.__version__,
        "prefect": prefect_version,
    }


def parse(argv: Sequence[str] | None) -> Options:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="a tiny range, state empty (smoke test)")
    p.add_argument("--end", type=dt.date.fromisoformat, default=None, help="with --quick")
    p.add_argument("--states", default=None, help="comma-separated: seeds,empty")
    p.add_argument("--strategies", default=None, help="comma-separated: " + ",".join(STRATEGIES))
    p.add_argument("--embedded-sweep", default=None, help="e.g. 92x4,183x4 ('' for none)")
    p.add_argument("--real-multipliers", default=None, help="e.g. 1,10 (scaled real flow runs)")
    p.add_argument("--scaled-configs", default=None, help="e.g. 92x8 ('' for none)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--keep", action="store_true", help="keep the working warehouse copies")
    a = p.parse_args(argv)
    opts = Options(out=a.out, keep=a.keep)
    if a.quick:
        opts.start, opts.end = dt.date(2021, 10, 19), dt.date(2021, 12, 5)
        opts.final_through = dt.date(2021, 12, 8)
        opts.states = ("empty",)  # the seeds state's gaps need the full range
        opts.embedded_sweep = ()
        opts.runbook_time_factor = RUNBOOK_TIME_FACTOR / 20
        opts.label = "quick"
        if a.end is not None:
            opts.end, opts.final_through = a.end, a.end + dt.timedelta(days=3)
    if a.states:
        opts.states = tuple(s.strip() for s in a.states.split(",") if s.strip())
    if a.strategies:
        opts.strategies = tuple(s.strip() for s in a.strategies.split(",") if s.strip())
    if a.embedded_sweep is not None:
        opts.embedded_sweep = tuple(
            (int(x), int(y))
            for x, y in (part.split("x") for part in a.embedded_sweep.split(",") if part)
        )
    if a.scaled_configs is not None:
        opts.scaled_configs = tuple(
            (int(x), int(y))
            for x, y in (part.split("x") for part in a.scaled_configs.split(",") if part)
        )
    if a.real_multipliers:
        opts.real_multipliers = tuple(float(x) for x in a.real_multipliers.split(","))
    bad = set(opts.strategies) - set(STRATEGIES) or set(opts.states) - {"seeds", "empty"}
    if bad:
        p.error(f"unknown: {', '.join(sorted(bad))}")
    loaded = load_settings()
    run = loaded.run
    opts.write_strategy = loaded.warehouse.write_strategy
    opts.defaults = {
        "chunk_days": run.chunk_days,
        "max_concurrency": run.max_concurrency,
        "max_concurrency_per_table": run.max_concurrency_per_table,
    }
    return opts


__all__ = ["main"]
