"""Fault injection (NBA_BACKFILL_FAULTS__PERMANENT): off by default, a non-retryable error on
the chosen (table, date) writes, nothing else changed."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill.catalog import TABLES, TDGS, TOGS
from nba_backfill.errors import UsageError, is_transient
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings, load_settings
from nba_backfill.warehouse import close_shared, open_warehouse, shared_warehouse
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from nba_backfill.warehouse.faults import FaultyWarehouse, InjectedFault

FAULT = dt.date(2021, 11, 3)
RETRY = RetrySettings(max_attempts=4, initial_wait_seconds=0, jitter_seconds=0)


@pytest.mark.parametrize(
    "value",
    [
        "team_defense_game_summary:2021-11-03",
        '["nba_analytics.team_defense_game_summary:2021-11-03"]',
        " team_defense_game_summary:2021-11-03 , ",
    ],
)
def test_setting_accepts_json_or_comma_separated(monkeypatch, value):
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__PERMANENT", value)
    s = load_settings()
    assert s.faults.active and s.faults.permanent_pairs() == {(TDGS, FAULT)}


@pytest.mark.parametrize("value", ["nope:2021-11-03", "team_defense_game_summary", "tdgs:x"])
def test_bad_fault_is_a_one_line_usage_error(monkeypatch, value):
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__PERMANENT", value)
    with pytest.raises(UsageError) as exc:
        load_settings()
    assert "NBA_BACKFILL_FAULTS__PERMANENT" in str(exc.value) and "\n" not in str(exc.value)


def test_off_by_default(local_settings: Settings):
    assert not local_settings.faults.active
    assert isinstance(open_warehouse(local_settings), DuckDBWarehouse)


def test_permanent_fault_fails_the_chunk_once_and_writes_nothing(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__PERMANENT", f"team_defense_game_summary:{FAULT}")
    close_shared()
    wh = shared_warehouse()
    assert isinstance(wh, FaultyWarehouse)
    dates = sorted(wh.schedule(dt.date(2021, 11, 1), dt.date(2021, 11, 7)))
    attempts = []
    with pytest.raises(InjectedFault) as exc:
        run_chunk(wh, TDGS, dates, RETRY, on_retry=attempts.append)
    assert not is_transient(exc.value) and attempts == []  # permanent: no retry
    assert str(FAULT) in str(exc.value)
    assert wh.date_profile(TABLES[TDGS], dates[0], dates[-1]) == {}
    # Other tables, and ranges of the table without the date, are written as usual.
    assert run_chunk(wh, TOGS, dates, RETRY).dates_filled == dates
    later = sorted(wh.schedule(dt.date(2021, 11, 4), dt.date(2021, 11, 7)))
    assert run_chunk(wh, TDGS, later, RETRY).dates_filled == later
