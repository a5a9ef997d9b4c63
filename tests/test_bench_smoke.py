"""A smoke test of ``make bench`` on a tiny range: the pipeline runs end to end, the strategies
write the same rows, and the report holds every section. No timing is asserted: benchmarks are
not tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.model import FlowReads, SimChunk, simulate_pool
from nba_backfill.warehouse.latency import LatencyModel


def test_bench_quick_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from bench.run import main

    # The flow strategy needs a Prefect server (minutes to start): the flow has its own tests.
    code = main(
        [
            "--quick",
            "--end",
            "2021-11-10",
            "--strategies",
            "runbook,lower-bound",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    [result_file] = tmp_path.glob("*.json")
    results = json.loads(result_file.read_text())
    emb = results["embedded"]["empty"]
    assert emb["same_rows"]["same"], emb["same_rows"]
    assert emb["runbook"]["pairs"] == emb["lower-bound"]["pairs"] > 0
    # One job per (table, date) for the runbook, one per table for the lower bound.
    assert emb["runbook"]["calls"]["writes"] == emb["runbook"]["pairs"]
    assert emb["lower-bound"]["calls"]["writes"] == len(emb["lower-bound"]["work"])
    assert emb["runbook"]["peak_rss_mib"] > 0
    lat = results["latency"]["empty"]
    assert lat["scaled_runs"]["runbook"]["projected_seconds"] > 0
    assert {"lower-bound 1x", "lower-bound 3x", "lower-bound 10x"} <= set(lat["simulated"])
    assert results["model"]["runbook_calibration"]["per_job_seconds"]
    markdown = (tmp_path / result_file.name.replace(".json", ".md")).read_text()
    assert "## Embedded engine" in markdown and "## Latency model" in markdown
    assert not list(tmp_path.glob("work-*")), "working copies are removed"
    assert "## Latency model" in capsys.readouterr().out  # the report is printed too


def test_simulated_pool_respects_the_per_table_write_cap():
    model = LatencyModel(
        job_start_seconds=1.0, commit_seconds=1.0, max_writes_per_table=2, time_factor=0
    )
    pcf = "nba_precompute.player_composite_factors"
    chunks = [SimChunk(f"c{i}", pcf, 10, 0, 0) for i in range(4)]
    # Four 2-second writes to one table, two at a time: 4 s however many threads.
    assert simulate_pool(chunks, model, max_concurrency=8, per_table_limit=4, task_overhead=0) == 4
    assert simulate_pool(chunks, model, max_concurrency=1, per_table_limit=4, task_overhead=0) == 8


def test_waiting_task_holds_its_thread():
    """Prefect's thread pool takes tasks in submission order and a task waiting for its
    upstream keeps its thread: with 2 threads, "down" blocks one while "up" runs."""
    model = LatencyModel(job_start_seconds=1.0, commit_seconds=0.0, time_factor=0)
    up = SimChunk("up", "nba_analytics.team_offense_game_summary", 1, 0, 0)
    down = SimChunk("down", "nba_analytics.player_game_summary", 1, 0, 0, upstream=["up"])
    uptg = "nba_analytics.upcoming_team_game_context"
    others = [SimChunk(f"o{i}", uptg, 1, 0, 0) for i in (1, 2)]
    assert simulate_pool([up, down, *others], model, 2, 2, task_overhead=0) == 3
    assert FlowReads(1, 2, (3, 4, 5), 6).total == 21
