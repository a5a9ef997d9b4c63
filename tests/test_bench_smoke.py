"""A smoke test of ``make bench`` on a tiny range: the pipeline runs end to end, the strategies
write the same rows, and the report holds every section. No timing is asserted: benchmarks are
not tests."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.latency import LatencyModel, LatencyWarehouse
from bench.model import FlowReads, SimChunk, simulate_pool
from nba_backfill.catalog import TABLES
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.base import Warehouse, WriteResult


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


class _Recorder(Warehouse):
    """A stand-in warehouse that records how many writes overlap."""

    def __init__(self) -> None:
        super().__init__(load_settings())
        self.active = self.most = 0
        self.lock = threading.Lock()

    def fetch(self, sql, params=None, labels=None):
        return [{"x": 1}]

    def ensure_tables(self, tables): ...

    def replace_range(self, table, start, end, *, labels=None, dates=None):
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        time.sleep(0.02)
        with self.lock:
            self.active -= 1
        return WriteResult(table.name, start, end, 0, 1)

    def table_exists(self, name):
        return True


def test_latency_warehouse_counts_and_caps_writes_per_table():
    spec = TABLES["nba_precompute.player_composite_factors"]
    day = dt.date(2024, 1, 2)
    inner = _Recorder()
    games = [day, day + dt.timedelta(days=1), day + dt.timedelta(days=3)]
    model = LatencyModel(time_factor=0.001, job_start_seconds=1.0, max_writes_per_table=1)
    wh = LatencyWarehouse(inner, model, game_dates=games)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: wh.replace_range(spec, day, day + dt.timedelta(days=3)), range(4)))
    wh.fetch("SELECT 1")
    wh.table_exists(spec.name)
    assert inner.most == 1  # the per-table cap serialised the four writes
    s = wh.stats
    assert (s.writes, s.reads, s.metadata, s.jobs) == (4, 1, 1, 5)
    assert s.tables[spec.name].dates == 12  # 3 game dates per write, not 4 calendar days
    assert wh.dates_in(day, day) == 1
    assert wh.reset_stats().jobs == 5 and wh.stats.jobs == 0
    assert LatencyWarehouse(inner).projected_seconds(3.0) == 3.0  # count-only: wall as is
