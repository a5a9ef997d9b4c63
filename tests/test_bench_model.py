"""The latency model at BigQuery's limits (issue 17 item 5): how each write strategy admits
concurrent writes to one table — merge statements run two at a time and queue the rest,
transactions run alone and a concurrent one is cancelled and retried — the queue's length, the
per-table DML rate, and the runner's backoff between attempts."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.latency import LatencyModel, LatencyWarehouse
from bench.model import SimChunk, base_model, simulate_pool_detail
from nba_backfill.catalog import TABLES
from nba_backfill.settings import RetrySettings, load_settings
from nba_backfill.warehouse.base import Warehouse, WriteResult

PCF = "nba_precompute.player_composite_factors"
TDZA = "nba_precompute.team_defense_zone_analysis"


def model(**kw: object) -> LatencyModel:
    """Writes of 2 s (1 s start + 1 s commit), no jitter: every figure below is exact."""
    values: dict[str, object] = {
        "job_start_seconds": 1.0,
        "commit_seconds": 1.0,
        "retry_jitter_seconds": 0.0,
        "max_writes_per_table": 2,
    }
    values.update(kw)
    return LatencyModel(**values)  # type: ignore[arg-type]


def chunks(n: int, table: str = PCF, dates: int = 0) -> list[SimChunk]:
    return [SimChunk(f"{table}-{i}", table, dates, 0, 0) for i in range(n)]


def pool(cs: list[SimChunk], m: LatencyModel, per_table: int = 2, threads: int = 8):
    return simulate_pool_detail(cs, m, threads, per_table, task_overhead=0)


def test_merge_runs_two_statements_of_a_table_at_once():
    r = pool(chunks(2), model(write_strategy="merge"))
    assert (r.seconds, r.retries, r.failed) == (2.0, 0, 0)


def test_a_concurrent_transaction_is_cancelled_and_retried_after_the_backoff():
    # The second transaction starts with the first, is cancelled at its first mutation (1 s,
    # a job start), backs off 2 s (the runner's first wait), then runs alone: 3 -> 5 s.
    r = pool(chunks(2), model(write_strategy="transaction"))
    assert (r.seconds, r.retries, r.failed) == (5.0, 1, 0)
    # With the runner's per-table limit at 1 nothing conflicts: one after the other, 4 s.
    r1 = pool(chunks(2), model(write_strategy="transaction"), per_table=1)
    assert (r1.seconds, r1.retries) == (4.0, 0)


def test_transactions_of_different_tables_do_not_conflict():
    r = pool(chunks(1, PCF) + chunks(1, TDZA), model(write_strategy="transaction"))
    assert (r.seconds, r.retries) == (2.0, 0)


def test_a_transaction_out_of_attempts_fails_its_chunk():
    # The first write holds the table 12 s; the second is cancelled at 0 and at 1 + 2 = 3 s:
    # with 2 attempts it gives up (its second start spent: 4 s).
    m = model(write_strategy="transaction", max_attempts=2, per_date_seconds={PCF: 10.0})
    r = pool(chunks(2, dates=1), m)
    assert (r.seconds, r.retries, r.failed) == (12.0, 2, 1)


def test_merge_queues_behind_the_running_statements_and_rejects_past_the_queue():
    # 2 running, 1 queued (starts at 2 s), the 4th rejected: back after 1 s + 2 s, runs 3 -> 5.
    r = pool(chunks(4), model(max_queued_per_table=1), per_table=4)
    assert (r.seconds, r.retries, r.failed) == (5.0, 1, 0)
    # With BigQuery's queue of 20 nothing is rejected: 2 + 2 in 4 s.
    r20 = pool(chunks(4), model(max_queued_per_table=20), per_table=4)
    assert (r20.seconds, r20.retries) == (4.0, 0)


def test_the_per_table_dml_rate_holds_statements_back():
    # 2 statements per 10 s: the first two start at 0, the next two wait for the window (10 s).
    m = model(commit_seconds=0.0, dml_per_window=2, dml_window_seconds=10.0)
    r = pool(chunks(4), m, per_table=4)
    assert (r.seconds, r.retries) == (11.0, 0)
    # BigQuery's 25 per 10 s never binds 1-second writes two at a time.
    assert pool(chunks(4), model(commit_seconds=0.0), per_table=4).seconds == 2.0


def test_the_model_backs_off_as_the_runner_does():
    retry = RetrySettings()
    m = base_model()
    assert m.max_attempts == retry.max_attempts
    assert m.backoff_seconds(1) == retry.initial_wait_seconds + retry.jitter_seconds / 2
    assert m.backoff_seconds(30) == retry.max_wait_seconds + retry.jitter_seconds / 2
    assert (m.running_per_table, base_model(write_strategy="transaction").running_per_table) == (
        2,
        1,
    )
    with pytest.raises(ValueError):
        LatencyModel(write_strategy="script")  # type: ignore[arg-type]


class _Overlap(Warehouse):
    """Records how many writes to one table overlap."""

    def __init__(self) -> None:
        super().__init__(load_settings())
        self.active = self.most = 0
        self.lock = threading.Lock()

    def fetch(self, sql, params=None, labels=None):
        return []

    def ensure_tables(self, tables): ...

    def replace_range(self, table, start, end, *, labels=None, dates=None):
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        time.sleep(0.01)
        with self.lock:
            self.active -= 1
        return WriteResult(table.name, start, end, 0, 1)

    def table_exists(self, name):
        return True


@pytest.mark.parametrize(
    ("strategy", "most", "cancelled"), [("merge", 2, False), ("transaction", 1, True)]
)
def test_the_scaled_warehouse_admits_writes_by_strategy(strategy: str, most: int, cancelled: bool):
    spec = TABLES[PCF]
    day = dt.date(2024, 1, 2)
    inner = _Overlap()
    m = model(time_factor=0.005, write_strategy=strategy)
    wh = LatencyWarehouse(inner, m)
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda _: wh.replace_range(spec, day, day), range(4)))
    assert inner.most == most
    assert wh.stats.writes == 4
    assert (wh.stats.cancelled > 0) is cancelled


class _SlowReads(_Overlap):
    def fetch(self, sql, params=None, labels=None):
        time.sleep(0.05)
        return []


def test_the_adapters_own_calls_count_as_busy_once_watched():
    """A chunk's fingerprints go to the adapter past the wrapper: idle time unless watched,
    then busy time (not a job, not charged); a call through the wrapper is not counted twice."""
    inner = _SlowReads()
    wh = LatencyWarehouse(inner)
    inner.fetch("SELECT 1")  # past the wrapper
    assert wh.stats.busy_seconds == 0
    wh.watch_adapter()
    inner.fetch("SELECT 1")
    assert 0.05 <= wh.stats.busy_seconds < 0.5
    assert wh.stats.jobs == 0
    before, t0 = wh.stats.busy_seconds, time.perf_counter()
    wh.fetch("SELECT 1")  # through the wrapper: one job, its time once
    wall = time.perf_counter() - t0
    assert wh.stats.jobs == 1
    assert 0.05 <= wh.stats.busy_seconds - before <= wall
