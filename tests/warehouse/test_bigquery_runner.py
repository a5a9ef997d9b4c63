"""The core on the BigQuery adapter (emulator, real google-cloud-bigquery client): chunk writes
retried when the *client itself* fails, and the cost estimate ``plan`` shows.

Faults are injected at the client boundary — ``client.query`` of a real BigQueryWarehouse —
as the exception objects google-cloud-bigquery and its transport really raise, either when a
job is submitted (jobs.insert: quota and rate limits, HTTP timeouts) or while waiting for its
result (job errors: concurrent-update conflicts, backend errors, the job timeout). Everything
between that boundary and the rows is production code: the adapter's translation, the
classifier, the tenacity policy (waits shortened through RetrySettings), the runner's retry
reports, logs and the run summary.

The emulator cannot produce these failures itself (it has no quotas and runs one job at a
time), hence the injection. Its dry runs report 0 bytes, so ``plan`` says "estimate
unavailable" here; the bytes-to-dollars arithmetic is tested in tests/test_estimate.py.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from typer.testing import CliRunner

from bench.checksum import checksum
from devtools.synthetic import generate
from nba_backfill.catalog import TABLES, TOGS
from nba_backfill.errors import TransientWarehouseError, WarehouseError, classify
from nba_backfill.estimate import UNAVAILABLE, estimate_plan
from nba_backfill.phase2 import RAW_TABLES
from nba_backfill.planner import Chunk, Planner
from nba_backfill.retry import RetryEvent
from nba_backfill.runner import ChunkResult, run_chunk
from nba_backfill.settings import RetrySettings
from nba_backfill.sqlfiles import LOGICAL_DATASETS
from nba_backfill.summary import ChunkOutcome, RunSummary
from nba_backfill.warehouse import close_shared
from nba_backfill.warehouse.base import JobCost
from nba_backfill.warehouse.bigquery import BigQueryWarehouse
from tests.emulator import PROJECT, emulator_settings

START, END = dt.date(2021, 10, 19), dt.date(2021, 10, 22)  # the 2021-22 opener and 3 days
SPEC = TABLES[TOGS]
# What team_offense_game_summary reads, and the gamebook: without it every game counts as
# skipped (inputs missing) and nothing would be planned.
TOGS_READS = (
    "nba_raw.nbac_schedule",
    "nba_raw.nbac_team_boxscore",
    "nba_raw.nbac_play_by_play",
    "nba_raw.nbac_gamebook_player_stats",
)
WHAT = f"{TOGS} {START}..{END}"
# The production policy with waits in hundredths of a second: attempt n waits 0.01 * 2^(n-1),
# at most 0.02 (quota errors: 0.04), no jitter.
FAST = RetrySettings(
    max_attempts=4,
    initial_wait_seconds=0.01,
    max_wait_seconds=0.02,
    quota_max_wait_seconds=0.04,
    jitter_seconds=0,
)


def _reason(reason: str, message: str = "") -> list[dict[str, str]]:
    return [{"reason": reason, "message": message, "domain": "global"}]


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def suffix() -> str:
    return "r" + uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def bq(bq_emulator: str, suffix: str) -> Iterator[BigQueryWarehouse]:
    """A BigQuery warehouse (datasets of this module) with the Phase 2 rows team_offense reads
    on START..END and the empty team_offense table."""
    wh = BigQueryWarehouse(emulator_settings(bq_emulator, suffix))
    data = generate(7, END + dt.timedelta(days=2), seasons=[2021])
    wh.ensure_raw_tables(RAW_TABLES)
    for t in RAW_TABLES:
        if t.name in TOGS_READS:
            i = t.column_names.index(t.partition_by)
            wh.load_raw(t, [r for r in data[t.name] if START <= r[i] <= END])
    wh.ensure_tables([SPEC])
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def dates(bq: BigQueryWarehouse) -> list[dt.date]:
    return sorted(bq.schedule(START, END))


@pytest.fixture(scope="module")
def expected(bq: BigQueryWarehouse, dates: list[dt.date]) -> dict[dt.date, Any]:
    """Rows per date of a clean write (no faults), to compare the retried writes with."""
    run_chunk(bq, TOGS, dates, FAST)
    profile = bq.date_profile(SPEC, START, END)
    assert sorted(profile) == dates
    return profile


@pytest.fixture
def emptied(bq: BigQueryWarehouse, dates: list[dt.date], expected: dict[dt.date, Any]) -> None:
    """The window emptied, so that rows found after a test were written by it."""
    bq.delete_dates(SPEC, dates)
    assert bq.date_profile(SPEC, START, END) == {}


class _FailingJob:
    """What ``client.query`` returns when the failure comes with the job's result: the job
    was accepted, then failed (or the wait for it timed out)."""

    job_id = "nba_backfill_injected"

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.cancelled = False

    def result(self, *args: Any, **kwargs: Any) -> Any:
        raise self.exc

    def cancel(self, *args: Any, **kwargs: Any) -> bool:
        self.cancelled = True
        return True


class ClientFaults:
    """Replaces ``wh.client.query``: the first ``n`` write jobs (a chunk's MERGE, or its script
    under the transaction strategy: the quota-bound job; reads pass through) fail with
    ``make()``, raised at submit or at result."""

    def __init__(
        self,
        wh: BigQueryWarehouse,
        monkeypatch: pytest.MonkeyPatch,
        make: Callable[[], BaseException],
        n: int,
        at: str = "submit",
    ) -> None:
        self.real = wh.client.query
        self.make, self.left, self.at = make, n, at
        self.writes = 0
        self.jobs: list[_FailingJob] = []
        monkeypatch.setattr(wh.client, "query", self.query)

    def query(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        if not sql.startswith("MERGE") and "BEGIN TRANSACTION" not in sql:
            return self.real(sql, *args, **kwargs)
        self.writes += 1
        if self.left <= 0:
            return self.real(sql, *args, **kwargs)
        self.left -= 1
        if self.at == "submit":
            raise self.make()
        job = _FailingJob(self.make())
        self.jobs.append(job)
        return job


def _retry_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "nba_backfill" and r.levelno == logging.WARNING and "attempt" in r.getMessage()
    ]


def _summary(result: ChunkResult) -> RunSummary:
    """The run summary of a run whose one chunk is ``result``, as the flow builds it."""
    summary = RunSummary(START, END)
    chunk = Chunk(TOGS, result.start, result.end, tuple(result.dates_filled))
    summary.outcomes.append(ChunkOutcome(chunk, 3, "completed", report=result.as_dict()))
    return summary


# --- transient failures are retried, reported, logged and counted -------------------------------

TRANSIENT: list[tuple[str, Callable[[], BaseException], str, str]] = [
    (
        "403 rateLimitExceeded",
        lambda: gexc.Forbidden(
            "Exceeded rate limits: too many table update operations for this table",
            errors=_reason("rateLimitExceeded"),
        ),
        "submit",
        "quota",
    ),
    (
        "403 quotaExceeded",
        lambda: gexc.Forbidden(
            "Quota exceeded: Your table exceeded quota for Number of partition modifications "
            "to a column partitioned table",
            errors=_reason("quotaExceeded"),
        ),
        "submit",
        "quota",
    ),
    ("429", lambda: gexc.TooManyRequests("Too many requests"), "submit", "quota"),
    (
        "400 concurrent update",
        lambda: gexc.BadRequest(
            f"Could not serialize access to table {PROJECT}:nba_analytics.team_offense_game_"
            "summary due to concurrent update",
            errors=_reason("invalidQuery"),
        ),
        "result",
        "serialization",
    ),
    (
        "500 backendError",
        lambda: gexc.InternalServerError(
            "An internal error occurred and the request could not be completed.",
            errors=_reason("backendError"),
        ),
        "result",
        "server",
    ),
    ("job wait timeout", lambda: concurrent.futures.TimeoutError(), "result", "timeout"),
    (
        "HTTP read timeout",
        lambda: requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)"),
        "submit",
        "timeout",
    ),
]


@pytest.mark.parametrize(
    ("make", "at", "reason"), [c[1:] for c in TRANSIENT], ids=[c[0] for c in TRANSIENT]
)
def test_client_failures_are_retried_reported_and_the_rows_land(
    bq: BigQueryWarehouse,
    dates: list[dt.date],
    expected: dict[dt.date, Any],
    emptied: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    make: Callable[[], BaseException],
    at: str,
    reason: str,
) -> None:
    faults = ClientFaults(bq, monkeypatch, make, n=2, at=at)
    caplog.set_level(logging.WARNING, logger="nba_backfill")
    seen: list[RetryEvent] = []

    result = run_chunk(bq, TOGS, dates, FAST, on_retry=seen.append)

    # Two failed attempts, then the third wrote the window.
    assert faults.writes == 3
    assert [(e.attempt, e.reason) for e in result.retries] == [(1, reason), (2, reason)]
    assert seen == result.retries
    assert [e.wait_seconds for e in result.retries] == pytest.approx([0.01, 0.02])
    assert all(e.error.startswith(f"replacing {TOGS} {START}..{END}:") for e in result.retries)
    assert result.ok and result.dates_filled == dates
    assert bq.date_profile(SPEC, START, END) == expected
    assert result.rows_written == sum(p.rows for p in expected.values())
    assert bq.key_audit(SPEC, START, END).duplicate_keys == 0
    # The cost of the attempt that wrote, as the emulator reports it (0 bytes, nothing billed).
    assert result.cost == JobCost(bytes_processed=0)
    if at == "result" and reason == "timeout":  # a timed-out job is cancelled before a retry
        assert [j.cancelled for j in faults.jobs] == [True, True]

    # Every retry is logged with the table, range, reason and attempt ...
    logs = _retry_logs(caplog)
    assert len(logs) == 2
    for attempt, line in enumerate(logs, start=1):
        assert line.startswith(f"{WHAT}: attempt {attempt} failed ({reason}), retrying in ")
    # ... and counted in the run summary, per reason.
    summary = _summary(result)
    assert summary.retries == Counter({reason: 2})
    assert summary.as_dict("Completed")["retries"] == {reason: 2}


def test_retries_stop_at_max_attempts_and_the_old_rows_stay(
    bq: BigQueryWarehouse,
    dates: list[dt.date],
    expected: dict[dt.date, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run_chunk(bq, TOGS, dates, FAST)
    before = checksum(bq, SPEC, START, END)
    faults = ClientFaults(
        bq,
        monkeypatch,
        lambda: gexc.Forbidden("Exceeded rate limits", errors=_reason("rateLimitExceeded")),
        n=99,
    )
    caplog.set_level(logging.WARNING, logger="nba_backfill")
    seen: list[RetryEvent] = []
    with pytest.raises(TransientWarehouseError) as caught:
        run_chunk(bq, TOGS, dates, FAST, on_retry=seen.append)
    assert faults.writes == FAST.max_attempts
    assert [(e.attempt, e.reason) for e in seen] == [(1, "quota"), (2, "quota"), (3, "quota")]
    # Quota errors back off to their own, longer ceiling: 0.01, 0.02, then 0.04 (not 0.02).
    assert [e.wait_seconds for e in seen] == pytest.approx([0.01, 0.02, 0.04])
    assert caught.value.reason == "quota"
    assert isinstance(caught.value.__cause__, gexc.Forbidden)
    assert len(_retry_logs(caplog)) == 3
    assert checksum(bq, SPEC, START, END) == before


def test_syntax_error_fails_fast_with_one_attempt(
    bq: BigQueryWarehouse,
    dates: list[dt.date],
    expected: dict[dt.date, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run_chunk(bq, TOGS, dates, FAST)
    before = checksum(bq, SPEC, START, END)
    faults = ClientFaults(
        bq,
        monkeypatch,
        lambda: gexc.BadRequest(
            "Syntax error: Unexpected keyword WHERE at [3:5]", errors=_reason("invalidQuery")
        ),
        n=5,
    )
    caplog.set_level(logging.WARNING, logger="nba_backfill")
    seen: list[RetryEvent] = []
    with pytest.raises(WarehouseError) as caught:
        run_chunk(bq, TOGS, dates, FAST, on_retry=seen.append)
    assert faults.writes == 1  # exactly one attempt
    assert seen == [] and _retry_logs(caplog) == []
    err = caught.value
    assert not isinstance(err, TransientWarehouseError) and classify(err) is None
    assert isinstance(err.__cause__, gexc.BadRequest)
    assert str(err).startswith(f"replacing {WHAT}: 400 Syntax error")
    assert checksum(bq, SPEC, START, END) == before


# --- the cost estimate on the emulator ------------------------------------------------------------


def test_estimate_is_unavailable_on_the_emulator_not_zero(
    bq: BigQueryWarehouse, dates: list[dt.date], emptied: None
) -> None:
    plan = Planner(bq).plan(START, END, [TOGS], chunk_days=2, phases=(3,))
    assert len(plan.tables[TOGS].chunks) == 2
    estimate = estimate_plan(bq, plan)
    assert estimate.kind == "dry_run"
    assert estimate.bytes(TOGS) is None and estimate.total_bytes is None
    assert estimate.cell(TOGS) == UNAVAILABLE
    assert estimate_plan(bq, plan, skip=True).kind == "skipped"


def test_plan_command_on_bigquery_shows_estimate_unavailable(
    bq: BigQueryWarehouse,
    bq_emulator: str,
    suffix: str,
    emptied: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``nba-backfill plan`` as an operator runs it, with the BigQuery settings in the
    environment (the emulator's dry runs report 0 bytes: shown as unavailable, never $0)."""
    from cli.app import app

    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__BACKEND", "bigquery")
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__EMULATOR_ENDPOINT", bq_emulator)
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__PROJECT", PROJECT)
    for logical in LOGICAL_DATASETS:
        monkeypatch.setenv(
            f"NBA_BACKFILL_WAREHOUSE__DATASETS__{logical.upper()}", f"{logical}_{suffix}"
        )
    monkeypatch.setenv("COLUMNS", "200")  # one table row per line
    close_shared()
    try:
        args = ["plan", "--start", str(START), "--end", str(END), "--tables", TOGS]
        runner = CliRunner()
        shown = runner.invoke(app, [*args, "--chunk-days", "2"])
        assert shown.exit_code == 0, shown.output
        # The row names the table by its short name, under its dataset's heading.
        row = next(
            line for line in shown.output.splitlines() if line.startswith(TOGS.split(".")[1])
        )
        assert "est. bytes / $" in shown.output and UNAVAILABLE in row
        assert "estimated total: estimate unavailable" in shown.output

        as_json = runner.invoke(app, [*args, "--json"])
        assert as_json.exit_code == 0, as_json.output
        data = json.loads(as_json.output)
        assert data["tables"][TOGS]["chunks"]
        assert data["tables"][TOGS]["estimated_bytes"] is None
        assert data["tables"][TOGS]["estimated_cost_usd"] is None
        assert data["estimate"]["kind"] == "dry_run" and data["estimate"]["total_bytes"] is None

        skipped = runner.invoke(app, [*args, "--no-estimate"])
        assert skipped.exit_code == 0, skipped.output
        assert "est. bytes" not in skipped.output and UNAVAILABLE not in skipped.output
    finally:
        close_shared()
