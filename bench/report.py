"""The benchmark's report: row comparison across strategies, targets, JSON, markdown, PNG."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from bench.latency import LatencyModel
from bench.strategies import LOWER_BOUND, NBA_BACKFILL, RUNBOOK, STRATEGIES
from nba_backfill.catalog import TABLES
from nba_backfill.outputs import is_volatile

TARGETS = {
    "speedup_vs_runbook": 50.0,
    "vs_lower_bound": 1.5,
    "model_vs_lower_bound": 3.0,  # projected production ÷ set-based lower bound, same model
    "projected_minutes": 20.0,
    "overhead_share": 0.10,
    "rerun_seconds": 5.0,
    "peak_rss_mib": 1024.0,
    "bench_minutes": 15.0,
}


# --- same rows? -----------------------------------------------------------------------------------
TOLERANCE = 1e-3  # the SQL rounds its floats to 4 decimals: float-order noise flips the last


def _columns(con: duckdb.DuckDBPyConnection, db: str, table: str) -> list[tuple[str, str]]:
    schema, name = table.split(".")
    return [
        (str(c), str(k))
        for c, k in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = ? AND schema_name = ? AND table_name = ? "
            "ORDER BY column_index",
            [db, schema, name],
        ).fetchall()
    ]


def _diff(con: duckdb.DuckDBPyConnection, a: str, b: str, table: str) -> dict[str, Any]:
    """Rows of ``table`` in ``a`` and ``b`` matched on the key: how many differ, the largest
    absolute difference per numeric column, and mismatches in the other columns."""
    spec = TABLES[table]
    schema, name = table.split(".")
    on = " AND ".join(f'x."{k}" = y."{k}"' for k in spec.key_columns)
    numeric, other, parts = [], [], []
    for col, kind in _columns(con, a, table):
        if col in spec.key_columns or is_volatile(col):  # write times differ by design
            continue
        x, y = f'x."{col}"', f'y."{col}"'
        if kind == "DOUBLE" or kind.startswith("DECIMAL"):
            numeric.append(col)
            parts.append(f"max(abs({x} - {y}))")
        elif kind == "DOUBLE[]":
            numeric.append(col)
            parts.append(
                f"max(list_max(list_transform(range(1, len({x}) + 1), "
                f"lambda i: abs({x}[i] - {y}[i]))))"
            )
        else:
            other.append(col)
    changed = " OR ".join(f'x."{c}" IS DISTINCT FROM y."{c}"' for c in numeric + other) or "FALSE"
    other_bad = " OR ".join(f'x."{c}" IS DISTINCT FROM y."{c}"' for c in other) or "FALSE"
    row = con.execute(
        f'SELECT (SELECT COUNT(*) FROM {a}."{schema}"."{name}"), '
        f'(SELECT COUNT(*) FROM {b}."{schema}"."{name}"), COUNT(*), '
        f"COUNT_IF({changed}), COUNT_IF({other_bad})"
        + "".join(f", {p}" for p in parts)
        + f' FROM {a}."{schema}"."{name}" AS x JOIN {b}."{schema}"."{name}" AS y ON {on}'
    ).fetchone()
    assert row is not None
    diffs = {c: float(v) for c, v in zip(numeric, row[5:], strict=True) if v}
    return {
        "rows": [int(row[0]), int(row[1])],
        "matched_on_key": int(row[2]),
        "differing_rows": int(row[3]),
        "non_numeric_mismatches": int(row[4]),
        "max_abs_diff": diffs,
    }


def compare_tables(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Per table: do the strategies hold the same rows? Exact (``bench.checksum.checksum``) first;
    where that differs, the rows that differ, matched on the key, and by how much."""
    ran = [s for s in STRATEGIES if s in results and "tables" in results[s]]
    tables: dict[str, Any] = {}
    all_exact = all_close = True
    con: duckdb.DuckDBPyConnection | None = None
    for name in TABLES:
        sums = {s: results[s]["tables"][name] for s in ran}
        exact = len({(v["rows"], v["checksum"]) for v in sums.values()}) <= 1
        entry: dict[str, Any] = {"rows": {s: int(v["rows"]) for s, v in sums.items()}}
        entry["exact"] = exact
        if not exact:
            if con is None:
                con = duckdb.connect()
                for i, s in enumerate(ran):
                    con.execute(f"ATTACH '{results[s]['db']}' AS s{i} (READ_ONLY)")
            entry["vs"] = {
                f"{s} vs {ran[0]}": _diff(con, "s0", f"s{i}", name)
                for i, s in enumerate(ran)
                if i
                and (sums[s]["rows"], sums[s]["checksum"])
                != (sums[ran[0]]["rows"], sums[ran[0]]["checksum"])
            }
            close = all(
                d["rows"][0] == d["rows"][1] == d["matched_on_key"]
                and d["non_numeric_mismatches"] == 0
                and all(v <= TOLERANCE for v in d["max_abs_diff"].values())
                for d in entry["vs"].values()
            )
            entry["same_within_tolerance"] = close
            all_close = all_close and close
        all_exact = all_exact and exact
        tables[name] = entry
    if con is not None:
        con.close()
    return {
        "strategies": ran,
        "exact": all_exact,
        "same": all_exact or all_close,
        "tolerance": TOLERANCE,
        "tables": tables,
    }


# --- rows of the report ---------------------------------------------------------------------------
def scaled(res: Mapping[str, Any], model: LatencyModel) -> dict[str, Any]:
    wall = float(res["wall_seconds"])
    projected = float(res.get("projected_seconds", wall))
    return {
        "time_factor": model.time_factor,
        "per_date_multiplier": model.per_date_multiplier,
        "wall_seconds": wall,
        "projected_seconds": round(projected, 1),
        "projected_phases": res["phases"].get("projected", {}),
        "jobs": res["calls"]["jobs"],
        "writes": res["calls"]["writes"],
        "modelled_job_seconds": res["calls"]["modelled_seconds"],
        # Calls whose real embedded work outlasted their scaled budget: the projection counts
        # them as lasting real time ÷ factor, at most overrun_seconds ÷ factor too long.
        "overruns": res["calls"].get("overruns", 0),
        "overrun_projected_seconds": round(
            float(res["calls"].get("overrun_seconds", 0.0)) / model.time_factor, 1
        )
        if model.time_factor
        else 0.0,
        "projected_overhead_share": round(
            max(0.0, wall - float(res["busy_seconds"])) / projected, 4
        )
        if projected
        else 0.0,
        "peak_rss_mib": res.get("peak_rss_mib"),
        "load_average": res.get("load_average"),
    }


def sweep_row(res: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "chunk_days": res["settings"]["chunk_days"],
        "max_concurrency": res["settings"]["max_concurrency"],
        "chunks": res.get("chunks"),
        "wall_seconds": res["wall_seconds"],
        "overhead_share": res["overhead_share"],
        "jobs": res["calls"]["jobs"],
        "peak_rss_mib": res.get("peak_rss_mib"),
    }


def strategy_rows(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    rb = state.get(RUNBOOK, {}).get("wall_seconds")
    lb = state.get(LOWER_BOUND, {}).get("wall_seconds")
    rows = []
    for s in STRATEGIES:
        r = state.get(s)
        if r is None:
            continue
        wall = float(r["wall_seconds"])
        rerun = r.get("rerun", {}).get("wall_seconds")
        quiet = (r.get("rerun_no_heartbeat") or {}).get("wall_seconds")
        rows.append(
            {
                "strategy": s,
                "wall_seconds": wall,
                "vs_runbook": round(rb / wall, 1) if rb and wall else None,
                "vs_lower_bound": round(wall / lb, 2) if lb else None,
                "overhead_share": r["overhead_share"],
                "peak_rss_mib": r.get("peak_rss_mib"),
                "jobs": r["calls"]["jobs"],
                "writes": r["calls"]["writes"],
                "pairs": r.get("filled_pairs", r.get("pairs")),
                "rerun_seconds": rerun,
                "cold_rerun_seconds": (r.get("cold_rerun") or {}).get("process_seconds"),
                "rerun_no_heartbeat_seconds": quiet,
                "phases": r["phases"],
            }
        )
    return rows


# --- targets --------------------------------------------------------------------------------------
def _check(name: str, value: float | None, target: float, op: str, detail: str) -> dict[str, Any]:
    met = None if value is None else (value >= target if op == ">=" else value < target)
    return {
        "target": name,
        "value": value,
        "goal": f"{op} {target:.0%}" if target < 1 else f"{op} {target:g}",
        "met": met,
        "detail": detail,
    }


def targets(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for state, emb in results.get("embedded", {}).items():
        rows = {r["strategy"]: r for r in strategy_rows(emb)}
        nb = rows.get(NBA_BACKFILL)
        if nb is None:
            continue
        out.append(
            _check(
                f"{state}: nba-backfill vs runbook, embedded (×)",
                nb["vs_runbook"],
                TARGETS["speedup_vs_runbook"],
                ">=",
                f"{rows[RUNBOOK]['wall_seconds']:.1f} s / {nb['wall_seconds']:.1f} s"
                if RUNBOOK in rows
                else "",
            )
        )
        out.append(
            _check(
                f"{state}: nba-backfill ÷ lower bound, embedded (×)",
                nb["vs_lower_bound"],
                TARGETS["vs_lower_bound"],
                "<",
                f"{nb['wall_seconds']:.1f} s / {rows[LOWER_BOUND]['wall_seconds']:.1f} s"
                if LOWER_BOUND in rows
                else "",
            )
        )
        out.append(
            _check(
                f"{state}: orchestration overhead, embedded",
                nb["overhead_share"],
                TARGETS["overhead_share"],
                "<",
                "time outside warehouse calls ÷ wall",
            )
        )
        out.append(
            _check(
                f"{state}: no-gap rerun, warm process (s)",
                nb["rerun_seconds"],
                TARGETS["rerun_seconds"],
                "<",
                "second flow run in the same process",
            )
        )
        out.append(
            _check(
                f"{state}: no-gap rerun, cold process (s)",
                nb["cold_rerun_seconds"],
                TARGETS["rerun_seconds"],
                "<",
                "new process: imports + server connect + flow",
            )
        )
        others = ", ".join(f"{s} {r['peak_rss_mib']:.0f}" for s, r in rows.items())
        out.append(
            _check(
                f"{state}: peak RSS, nba-backfill process (MiB)",
                nb["peak_rss_mib"],
                TARGETS["peak_rss_mib"],
                "<",
                f"each strategy's process: {others}",
            )
        )
        for row in emb.get("sweep", []):
            out.append(
                _check(
                    f"{state}: peak RSS, nba-backfill at chunk_days {row['chunk_days']}, "
                    f"max_concurrency {row['max_concurrency']} (MiB)",
                    row["peak_rss_mib"],
                    TARGETS["peak_rss_mib"],
                    "<",
                    "embedded sweep run",
                )
            )
    for state, lat in results.get("latency", {}).items():
        runbook_h = lat.get("scaled_runs", {}).get(RUNBOOK, {}).get("projected_seconds", 0) / 3600
        for key, res in lat.get("scaled_runs", {}).items():
            if key.startswith(NBA_BACKFILL) and runbook_h:
                out.append(
                    _check(
                        f"{state}: projected speed-up vs runbook, {key}, scaled run (×)",
                        round(runbook_h * 3600 / res["projected_seconds"], 1),
                        TARGETS["speedup_vs_runbook"],
                        ">=",
                        "same latency model for both",
                    )
                )
            if key.startswith(NBA_BACKFILL):
                minutes = res["projected_seconds"] / 60
                out.append(
                    _check(
                        f"{state}: projected production, {key}, scaled run (min)",
                        round(minutes, 1),
                        TARGETS["projected_minutes"],
                        "<",
                        f"runbook {runbook_h:.1f} h",
                    )
                )
                out.append(
                    _check(
                        f"{state}: projected overhead share, {key}",
                        res["projected_overhead_share"],
                        TARGETS["overhead_share"],
                        "<",
                        "orchestration ÷ projected time",
                    )
                )
        sims = lat.get("simulated", {})
        for key, sim in sims.items():
            if key.startswith(NBA_BACKFILL):
                out.append(
                    _check(
                        f"{state}: projected production, {key}, simulated (min)",
                        round(sim["seconds"] / 60, 1),
                        TARGETS["projected_minutes"],
                        "<",
                        "",
                    )
                )
                mult = key.split()[1]  # "1x", "3x", "10x"
                bound = sims.get(f"{LOWER_BOUND} {mult}")
                if bound and bound["seconds"]:
                    out.append(
                        _check(
                            f"{state}: projected ÷ lower bound, {key}, simulated (×)",
                            round(sim["seconds"] / bound["seconds"], 2),
                            TARGETS["model_vs_lower_bound"],
                            "<=",
                            f"same model; {sim.get('retries', 0)} writes cancelled or "
                            "rejected and retried",
                        )
                    )
    bench = results.get("timings", {}).get("bench_seconds")
    if bench is not None:
        out.append(
            _check("make bench (min)", round(bench / 60, 1), TARGETS["bench_minutes"], "<", "")
        )
    return out


# --- output ---------------------------------------------------------------------------------------
def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def _num(v: Any, fmt: str = "{:.1f}") -> str:
    return "—" if v is None else fmt.format(v)


def _loads(results: Mapping[str, Any]) -> list[float]:
    out: list[float] = []

    def walk(v: Any) -> None:
        if isinstance(v, Mapping):
            if isinstance(v.get("load_average"), list):
                out.extend(float(x) for x in v["load_average"])
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk({k: results.get(k) for k in ("embedded", "latency")})
    return out


def _load_text(results: Mapping[str, Any]) -> str:
    loads = _loads(results)
    if not loads:
        return ""
    cpus = results.get("environment", {}).get("cpus") or 1
    note = (
        " — other processes shared the CPUs: wall times are inflated"
        if max(loads) > cpus + 0.5
        else ""
    )
    span = f"{min(loads):.1f}–{max(loads):.1f}"
    return f"1-minute load average around the measurements: {span}{note}."


def markdown(results: Mapping[str, Any]) -> str:
    env = results.get("environment", {})
    t = results.get("timings", {})
    lines = [
        f"# nba-backfill benchmark {results['timestamp']} ({results.get('label', '')})",
        "",
        f"Range {results['range']['start']} → {results['range']['end']}; {env.get('cpus')} CPUs, "
        f"{env.get('memory_gib')} GiB, Python {env.get('python')}, DuckDB {env.get('duckdb')}, "
        f"Prefect {env.get('prefect')}. Seeding {_num(t.get('seed_seconds'))} s and the Prefect "
        f"server's start {_num(t.get('prefect_server_start_seconds'))} s are outside every "
        f"timing; the whole bench took {_hms(t.get('bench_seconds'))}. Defaults measured: "
        + ", ".join(f"{k}={v}" for k, v in results.get("defaults", {}).items())
        + f". {_load_text(results)}",
        "",
        "## Embedded engine (DuckDB), same work, same rows",
        "",
    ]
    for state, emb in results.get("embedded", {}).items():
        same = emb.get("same_rows", {})
        verdict = same_rows_text(same)
        lines += [
            f"### State `{state}`",
            "",
            "| strategy | wall | × faster than runbook | ÷ lower bound | overhead | peak RSS | "
            "jobs (writes) | (table, date) pairs | no-gap rerun warm / cold |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in strategy_rows(emb):
            lines.append(
                f"| {r['strategy']} | {r['wall_seconds']:.1f} s | {_num(r['vs_runbook'])} | "
                f"{_num(r['vs_lower_bound'], '{:.2f}')} | {r['overhead_share']:.1%} | "
                f"{_num(r['peak_rss_mib'], '{:.0f}')} MiB | {r['jobs']} ({r['writes']}) | "
                f"{r['pairs']} | {_num(r['rerun_seconds'])} s / {_num(r['cold_rerun_seconds'])} s |"
            )
        nb_row = next((r for r in strategy_rows(emb) if r["strategy"] == NBA_BACKFILL), None)
        if nb_row and nb_row.get("rerun_no_heartbeat_seconds") is not None:
            lines += [
                "",
                f"No-gap rerun with Prefect's flow-run heartbeat off "
                f"(`PREFECT_FLOWS_HEARTBEAT_FREQUENCY=None`): "
                f"{nb_row['rerun_no_heartbeat_seconds']:.1f} s (Prefect 3.9 joins each flow "
                "run's heartbeat thread on exit, which sleeps in 1 s steps: up to ~1 s per flow "
                "and subflow run).",
            ]
        lines += ["", f"Rows: {verdict}.", ""]
        if emb.get("sweep"):
            lines += [
                "Embedded sweep (real flow runs):",
                "",
                "| chunk_days | max_concurrency | chunks | wall | overhead | jobs | peak RSS |",
                "|---:|---:|---:|---:|---:|---:|---:|",
            ]
            nb = emb.get(NBA_BACKFILL)
            rows = list(emb["sweep"])
            if nb is not None:
                rows.insert(0, sweep_row(nb))
            for r in rows:
                lines.append(
                    f"| {r['chunk_days']} | {r['max_concurrency']} | {r['chunks']} | "
                    f"{r['wall_seconds']:.1f} s | {r['overhead_share']:.1%} | {r['jobs']} | "
                    f"{_num(r['peak_rss_mib'], '{:.0f}')} MiB |"
                )
            lines.append("")
    model = results.get("model")
    if model:
        cal = model["runbook_calibration"]
        lines += [
            "## Latency model (projected production times)",
            "",
            f"Assumptions: every query job {model['job_start_seconds']} s to start and return; "
            f"a write adds {model['commit_seconds']} s to commit plus its per-date work; "
            f"metadata calls {model['metadata_seconds']} s; per table, write strategy "
            f"`merge`: {model['max_writes_per_table']} mutating statements running, "
            f"{model.get('max_queued_per_table', '—')} queued (one more rejected and retried), "
            f"{model.get('dml_per_window', '—')} per {model.get('dml_window_seconds', '—')} s; "
            "`transaction`: one at a time, a concurrent one cancelled at its start and retried "
            f"after the runner's backoff; {model['max_concurrent_jobs']} jobs overall; "
            f"settings' strategy `{model.get('write_strategy', 'merge')}` (the unsuffixed rows "
            "and the scaled runs); "
            f"Prefect {model['task_overhead_seconds']} s per task in the simulation. Runbook "
            f"calibrated on the `seeds` state to Phase 3 {cal['phase3_hours']} h + Phase 4 "
            f"{cal['phase4_hours']} h: {cal['note']}. Set-based chunk writes: the embedded "
            "engine's measured seconds per game date and table ("
            + ", ".join(
                f"{k.split('.')[1]} {v * 1000:.1f} ms"
                for k, v in model["set_based_per_date_seconds"].items()
            )
            + f"), × 1, 3, 10. Scaled runs: runbook at time factor "
            f"1/{1 / model['runbook_time_factor']:.0f} (writes charged, not executed), "
            f"nba-backfill (the real flow, real writes) at 1/{1 / model['flow_time_factor']:.0f}.",
            "",
            "| state | strategy | projected (scaled run) | projected (simulation) | Phase 3 | "
            "Phase 4 | other | jobs |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for state, lat in results.get("latency", {}).items():
            keys = list(dict.fromkeys([*lat.get("scaled_runs", {}), *lat.get("simulated", {})]))
            for key in keys:
                run = lat.get("scaled_runs", {}).get(key)
                sim = lat.get("simulated", {}).get(key)
                ph = (run or {}).get("projected_phases") or (sim or {}).get("phases", {})
                lines.append(
                    f"| {state} | {key} | {_hms((run or {}).get('projected_seconds'))} | "
                    f"{_hms((sim or {}).get('seconds'))} | {_hms(ph.get('phase3'))} | "
                    f"{_hms(ph.get('phase4'))} | {_hms(ph.get('other'))} | "
                    f"{(run or sim or {}).get('jobs', '—')} |"
                )
        notes = [
            f"{state} / {key}: {run['overruns']} of {run['jobs']} calls outlasted their scaled "
            f"budget on the embedded engine, which adds at most "
            f"{_hms(run['overrun_projected_seconds'])} to the projection"
            for state, lat in results.get("latency", {}).items()
            for key, run in lat.get("scaled_runs", {}).items()
            if run.get("overruns")
        ]
        if notes:
            lines += ["", "Scaled runs are upper bounds: " + "; ".join(notes) + "."]
        lines.append("")
    sweep = results.get("sweep") or []
    if sweep:
        lines += _sweep_tables(sweep, results.get("defaults", {}))
    tg = results.get("targets") or []
    if tg:
        lines += [
            "## Targets",
            "",
            "| target | value | goal | met | detail |",
            "|---|---:|---|---|---|",
        ]
        for r in tg:
            met = {True: "yes", False: "**no**", None: "—"}[r["met"]]
            val = r["value"]
            shown = f"{val:.1%}" if "overhead" in r["target"] and val is not None else val
            lines.append(f"| {r['target']} | {shown} | {r['goal']} | {met} | {r['detail']} |")
        lines.append("")
    return "\n".join(lines)


def same_rows_text(same: Mapping[str, Any]) -> str:
    if not same:
        return "not compared"
    if same.get("exact"):
        return (
            "identical in every table (exact checksums: COUNT + BIT_XOR(fingerprint of each row))"
        )
    parts = []
    for name, v in same.get("tables", {}).items():
        if v.get("exact"):
            continue
        for label, d in v.get("vs", {}).items():
            worst = max(d["max_abs_diff"].values(), default=0.0)
            cols = ", ".join(sorted(d["max_abs_diff"]))
            parts.append(
                f"{name.split('.')[1]} ({label}): {d['differing_rows']} of {d['rows'][0]} rows "
                f"differ, max |Δ| {worst:.4g} in {cols}"
                + (
                    f", {d['non_numeric_mismatches']} non-numeric"
                    if d["non_numeric_mismatches"]
                    else ""
                )
            )
    n_exact = sum(1 for v in same.get("tables", {}).values() if v.get("exact"))
    verdict = (
        f"same rows: {n_exact} of {len(same.get('tables', {}))} tables identical; the rest "
        f"have the same keys and differ only by floating-point rounding (≤ {same['tolerance']:g})"
        if same.get("same")
        else "**DIFFERENT ROWS**"
    )
    return verdict + " — " + "; ".join(parts)


def best_configs(sweep: list[dict[str, Any]]) -> list[dict[str, Any]]:
    best: dict[tuple[str, str, float], dict[str, Any]] = {}
    for r in sweep:
        k = (r["state"], r.get("write_strategy", "merge"), r["multiplier"])
        if k not in best or _rank(r) < _rank(best[k]):
            best[k] = r
    return list(best.values())


def _sweep_tables(sweep: list[dict[str, Any]], defaults: Mapping[str, int]) -> list[str]:
    lines = [
        "## Sweep (simulated flow under the latency model, minutes)",
        "",
        "Rows: chunk_days, columns: max_concurrency; each cell the best per-table limit "
        "(in brackets) of "
        + ", ".join(str(p) for p in sorted({r["per_table"] for r in sweep}))
        + f" (the settings' is {defaults.get('max_concurrency_per_table')}); † some chunk "
        "ran out of attempts.",
        "",
    ]
    strategies = list(dict.fromkeys(r.get("write_strategy", "merge") for r in sweep))
    for state in dict.fromkeys(r["state"] for r in sweep):
        for mult in dict.fromkeys(r["multiplier"] for r in sweep):
            for ws in strategies:
                rows = [
                    r
                    for r in sweep
                    if r["state"] == state
                    and r["multiplier"] == mult
                    and r.get("write_strategy", "merge") == ws
                ]
                concs = sorted({r["max_concurrency"] for r in rows})
                lines += [
                    f"`{state}`, write strategy `{ws}`, per-date cost × {mult:g}:",
                    "",
                    "| chunk_days | chunks | " + " | ".join(f"conc {c}" for c in concs) + " |",
                    "|---:|---:|" + "---:|" * len(concs),
                ]
                for cd in sorted({r["chunk_days"] for r in rows}):
                    best: dict[int, dict[str, Any]] = {}
                    for r in rows:
                        c = r["max_concurrency"]
                        if r["chunk_days"] == cd and (c not in best or _rank(r) < _rank(best[c])):
                            best[c] = r
                    lines.append(
                        f"| {cd} | {next(iter(best.values()))['chunks']} | "
                        + " | ".join(
                            f"{best[c]['seconds'] / 60:.1f} ({best[c]['per_table']})"
                            + ("†" if best[c].get("failed") else "")
                            for c in concs
                        )
                        + " |"
                    )
                lines.append("")
    lines += ["Best per state, write strategy and multiplier:", ""]
    for r in best_configs(sweep):
        lines.append(
            f"- `{r['state']}` `{r.get('write_strategy', 'merge')}` × {r['multiplier']:g}: "
            f"chunk_days {r['chunk_days']}, max_concurrency {r['max_concurrency']}, per-table "
            f"{r['per_table']} → {r['seconds'] / 60:.1f} min"
        )
    lines.append("")
    return lines


def _rank(r: Mapping[str, Any]) -> tuple[bool, float]:
    """Complete runs first, then the fastest."""
    return (bool(r.get("failed")), r["seconds"])


def chart(results: Mapping[str, Any], path: Path) -> Path | None:
    """Time per strategy and phase: embedded engine (top), projected production (middle),
    the sweep (bottom). Needs the ``bench`` dependency group (matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    states = list(results.get("embedded", {}))
    if not states:
        return None
    fig, axes = plt.subplots(3, len(states), figsize=(7.5 * len(states), 11), squeeze=False)
    colors = {"phase3": "#4C72B0", "phase4": "#DD8452", "other": "#8C8C8C"}
    for col, state in enumerate(states):
        rows = strategy_rows(results["embedded"][state])
        _stacked(
            axes[0][col],
            [r["strategy"] for r in rows],
            [r["phases"] for r in rows],
            colors,
            1.0,
            "s",
        )
        axes[0][col].set_title(f"embedded engine, state {state} (wall seconds)")
        lat = results.get("latency", {}).get(state, {})
        names, phases = [], []
        runs, sims = lat.get("scaled_runs", {}), lat.get("simulated", {})
        wanted = [
            (RUNBOOK, runs),
            (f"{NBA_BACKFILL} 1x", runs),
            (f"{NBA_BACKFILL} 1x", sims),
            (f"{NBA_BACKFILL} 3x", sims),
            (f"{NBA_BACKFILL} 10x", sims),
            *[(k, runs) for k in runs if "chunk_days" in k],
            (f"{LOWER_BOUND} 1x", sims),
        ]
        for key, source in wanted:
            entry = source.get(key)
            if entry is None:
                continue
            scaled_run = source is runs
            short = key.replace(", chunk_days ", " @ ").replace(", max_concurrency ", "d×")
            names.append(f"{short} ({'scaled run' if scaled_run else 'simulated'})")
            phases.append(entry["projected_phases"] if scaled_run else entry["phases"])
        if names:
            _grouped(axes[1][col], names, phases, colors, 1 / 60)
            axes[1][col].set_title(f"projected production, state {state} (minutes, log scale)")
        ax = axes[2][col]
        sweep = [
            r
            for r in results.get("sweep", [])
            if r["state"] == state
            and r["multiplier"] == 1.0
            and r.get("write_strategy", "merge")
            == results.get("model", {}).get("write_strategy", "merge")
            and r["per_table"] == results.get("defaults", {}).get("max_concurrency_per_table")
        ]
        for conc in sorted({r["max_concurrency"] for r in sweep}):
            pts = sorted(
                (r["chunk_days"], r["seconds"] / 60) for r in sweep if r["max_concurrency"] == conc
            )
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                marker="o",
                label=f"max_concurrency {conc}",
            )
        if sweep:
            ax.set_xscale("log")
            ax.minorticks_off()
            ax.set_xticks(sorted({r["chunk_days"] for r in sweep}))
            ax.set_xticklabels([str(x) for x in sorted({r["chunk_days"] for r in sweep})])
            ax.set_xlabel("chunk_days")
            ax.set_ylabel("projected minutes")
            ax.set_title(f"sweep (simulated, × 1), state {state}")
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    fig.legend(
        handles, ["Phase 3", "Phase 4", "plan / validate / other"], loc="upper center", ncol=3
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _stacked(
    ax: Any,
    names: list[str],
    phases: list[Mapping[str, float]],
    colors: Mapping[str, str],
    scale: float,
    unit: str,
) -> None:
    """One horizontal bar per strategy, its phases stacked (linear axis)."""
    left = [0.0] * len(names)
    for key, color in colors.items():
        vals = [max(0.0, float(p.get(key, 0.0))) * scale for p in phases]
        ax.barh(names, vals, left=left, color=color)
        left = [a + b for a, b in zip(left, vals, strict=True)]
    for i, total in enumerate(left):
        ax.text(total, i, f" {total:.1f} {unit}", va="center", fontsize=8)
    ax.invert_yaxis()


def _grouped(
    ax: Any,
    names: list[str],
    phases: list[Mapping[str, float]],
    colors: Mapping[str, str],
    scale: float,
) -> None:
    """Per strategy, one thin bar per phase and the total written next to it (log axis: the
    runbook and nba-backfill differ by two orders of magnitude)."""
    height = 0.8 / len(colors)
    totals = []
    for i, p in enumerate(phases):
        total = 0.0
        for j, (key, color) in enumerate(colors.items()):
            v = max(0.0, float(p.get(key, 0.0))) * scale
            total += v
            if v > 0:
                ax.barh(i - 0.4 + (j + 0.5) * height, v, height=height, color=color)
        totals.append(total)
        ax.text(total, i, f" total {_hms(total / scale)}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names)
    ax.set_xscale("log")
    positive = [t for t in totals if t > 0]
    if positive:
        ax.set_xlim(min(positive) / 20, max(positive) * 8)
    ax.invert_yaxis()


def write(results: Mapping[str, Any], out: Path, stamp: str) -> list[Path]:
    paths = [out / f"{stamp}.json", out / f"{stamp}.md"]
    paths[0].write_text(json.dumps(results, indent=2, default=str))
    paths[1].write_text(markdown(results))
    png = chart(results, out / f"{stamp}.png")
    if png is not None:
        paths.append(png)
    return paths
