"""10–20 % of warehouse calls failing transiently (quota, rate limit, 429, serialization, 5xx,
timeouts — some of them after the write committed) change nothing: the backfill completes,
both gates pass, no key is duplicated, and every table equals a fault-free run row for row."""

from __future__ import annotations

import pytest

from nba_backfill.settings import Settings
from nba_backfill.validation import validate
from nba_backfill.warehouse import shared_warehouse
from nba_backfill.warehouse.faults import FaultyWarehouse
from tests.chaos.conftest import (
    SCENARIOS,
    Scenario,
    duplicate_keys,
    record,
    reopen_clean,
    same_as_clean,
)

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.mark.parametrize("scenario", SCENARIOS, indirect=True)
@pytest.mark.parametrize("rate", [0.15])
def test_transient_faults_leave_exactly_the_clean_result(
    scenario: Scenario, chaos_env: Settings, monkeypatch: pytest.MonkeyPatch, rate: float
):
    from flows.backfill import backfill
    from nba_backfill.warehouse import close_shared

    monkeypatch.setenv("NBA_BACKFILL_FAULTS__TRANSIENT_RATE", str(rate))
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__SEED", "7")
    close_shared()
    faulty = shared_warehouse()
    assert isinstance(faulty, FaultyWarehouse)

    state = backfill(**scenario.args(), return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    stats = faulty.stats()
    # Every kind of fault happened, some after the write had committed.
    assert stats["injected"] > 0.5 * rate * stats["calls"]
    assert set(stats["by_kind"]) == {
        "quota",
        "rate_limit",
        "too_many_requests",
        "serialization",
        "server",
        "timeout",
    }
    assert stats["after_write"] > 0
    write_retries = sum(summary["retries"].values())
    assert write_retries > 0 and set(summary["retries"]) <= {
        "quota",
        "serialization",
        "server",
        "timeout",
    }
    assert {r["table"]: r["filled"] for r in summary["tables"]} == scenario.filled
    assert summary["failed_chunks"] == [] and summary["failed_dates"] == {}

    wh = reopen_clean(monkeypatch)
    for phase in (3, 4):
        report = validate(wh, phase, scenario.start, scenario.end)
        assert report.ok, report.problems
    dups = duplicate_keys(wh, scenario.start, scenario.end)
    assert dups == 0
    close_shared()
    tables = same_as_clean(scenario, chaos_env.warehouse.duckdb_path)
    record(
        scenario,
        f"transient {rate:.0%}",
        calls=stats["calls"],
        faults_injected=stats["injected"],
        by_kind=stats["by_kind"],
        after_write=stats["after_write"],
        retries=stats["injected"],  # the run completed: every injected fault was retried
        write_retries=write_retries,
        dates_filled=sum(scenario.filled.values()),
        dates_failed=0,
        duplicate_keys=dups,
        seconds=summary["seconds"],
        clean_seconds=round(scenario.clean_seconds, 1),
        rows=sum(n for n, _ in tables.values()),
        tables_equal_clean_run=f"{len(tables)}/{len(tables)}",
    )
