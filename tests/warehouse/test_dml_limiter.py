"""The DML limiter on the BigQuery adapter (emulator, real google-cloud-bigquery client): write
jobs answered "too many DML statements outstanding" or "Could not serialize access … due to
concurrent update" slow the limiter down (lower in-flight limit, growing recorded waits), and
every chunk still lands whole, once.

The emulator runs one job at a time and never answers either error, so they are injected at
the client boundary: ``client.query`` of a real BigQueryWarehouse raises them as
google-cloud-bigquery does (at submit for the DML queue, at the job's result for the
conflict); everything between that boundary and the rows is production code.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import random
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.synthetic import generate
from nba_backfill.catalog import TABLES, TOGS
from nba_backfill.limiter import DmlLimiter
from nba_backfill.phase2 import RAW_TABLES
from nba_backfill.runner import run_chunk
from nba_backfill.settings import DmlSettings, RetrySettings
from nba_backfill.warehouse.bigquery import BigQueryWarehouse
from nba_backfill.warehouse.faults import vendor_error
from tests.emulator import emulator_settings

START, END = dt.date(2021, 10, 19), dt.date(2021, 10, 22)
SPEC = TABLES[TOGS]
READS = (
    "nba_raw.nbac_schedule",
    "nba_raw.nbac_team_boxscore",
    "nba_raw.nbac_play_by_play",
    "nba_raw.nbac_gamebook_player_stats",
)
FAST = RetrySettings(
    max_attempts=3, initial_wait_seconds=0.01, max_wait_seconds=0.02, jitter_seconds=0
)


@pytest.fixture(scope="module")
def bq(bq_emulator: str) -> Iterator[BigQueryWarehouse]:
    wh = BigQueryWarehouse(emulator_settings(bq_emulator, "l" + uuid.uuid4().hex[:6]))
    data = generate(7, END + dt.timedelta(days=2), seasons=[2021])
    wh.ensure_raw_tables(RAW_TABLES)
    for t in RAW_TABLES:
        if t.name in READS:
            i = t.column_names.index(t.partition_by)
            wh.load_raw(t, [r for r in data[t.name] if START <= r[i] <= END])
    wh.ensure_tables([SPEC])
    yield wh
    wh.close()


class _ConflictJob:
    job_id = "nba_backfill_injected"

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def result(self, *args: Any, **kwargs: Any) -> Any:
        raise self.exc

    def cancel(self, *args: Any, **kwargs: Any) -> bool:
        return True


class DmlFaults:
    """``client.query`` of the warehouse: its first write jobs (MERGE statements) fail in the
    order of ``kinds``; reads and later writes pass through. Counts every write job."""

    def __init__(self, wh: BigQueryWarehouse, monkeypatch: pytest.MonkeyPatch, kinds: list[str]):
        self.real = wh.client.query
        self.kinds = list(kinds)
        self.writes = 0
        self.lock = threading.Lock()
        monkeypatch.setattr(wh.client, "query", self.query)

    def query(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        if not sql.startswith("MERGE") and "BEGIN TRANSACTION" not in sql:
            return self.real(sql, *args, **kwargs)
        with self.lock:
            self.writes += 1
            kind = self.kinds.pop(0) if self.kinds else None
        if kind == "dml_outstanding":
            raise vendor_error(kind, SPEC.table)  # jobs.insert refuses the statement
        if kind == "serialization":
            return _ConflictJob(vendor_error(kind, SPEC.table))  # the job fails
        return self.real(sql, *args, **kwargs)


@pytest.mark.parametrize(
    "kinds",
    [
        ["dml_outstanding", "serialization", "dml_outstanding", "serialization"],
        ["dml_outstanding"] * 3,
    ],
    ids=["both-conflicts", "dml-queue-full"],
)
def test_conflicts_slow_the_limiter_and_every_chunk_lands_once(
    bq: BigQueryWarehouse, monkeypatch: pytest.MonkeyPatch, kinds: list[str]
) -> None:
    dates = sorted(bq.schedule(START, END))
    assert len(dates) >= 2
    run_chunk(bq, TOGS, dates, FAST)  # a clean write: what each date must hold
    expected = bq.date_profile(SPEC, START, END)
    bq.delete_dates(SPEC, dates)

    slept: list[float] = []
    limiter = DmlLimiter(
        DmlSettings(
            conflict_initial_wait_seconds=0.01,
            conflict_max_wait_seconds=1,
            conflict_jitter=0,
            cooldown_seconds=3600,
        ),
        sleep=slept.append,
        rng=random.Random(0),
    )
    faults = DmlFaults(bq, monkeypatch, kinds)
    chunks = [[d] for d in dates]  # one chunk per date, written concurrently
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: run_chunk(bq, TOGS, c, FAST, limiter=limiter), chunks))

    # The limiter slowed down: each conflict recorded, its wait doubling with the streak, the
    # table's in-flight limit down to 1 and kept there through the cooldown.
    conflicts = [e for e in limiter.events if e.kind == "conflict"]
    assert len(conflicts) == len(kinds)
    assert [e.wait_seconds for e in conflicts] == pytest.approx(
        [0.01 * 2**i for i in range(len(kinds))]
    )
    assert sorted(slept) == sorted(e.wait_seconds for e in conflicts)
    assert limiter.limit(SPEC.name) == 1
    # Every conflict is a retry of its chunk, under its class; the retry policy saw none.
    retries = sorted(e.reason for r in results for e in r.retries)
    assert retries == sorted("quota" if k == "dml_outstanding" else "serialization" for k in kinds)
    assert faults.writes == len(chunks) + len(kinds)
    # Nothing lost, nothing duplicated.
    assert all(r.ok for r in results)
    assert sorted(d for r in results for d in r.dates_filled) == dates
    assert bq.date_profile(SPEC, START, END) == expected
    assert bq.key_audit(SPEC, START, END).duplicate_keys == 0
