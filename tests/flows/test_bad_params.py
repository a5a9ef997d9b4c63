"""Bad flow parameters (a deployment run, or a flow called from Python) fail the run with the
same one line as the CLI — a UsageError naming the problem — and write nothing: the warehouse
file is byte-for-byte unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest

from nba_backfill.errors import UsageError
from nba_backfill.settings import Settings
from nba_backfill.warehouse import close_shared

pytestmark = pytest.mark.usefixtures("prefect_server")

BAD_BACKFILL: list[tuple[dict[str, Any], str]] = [
    ({"start": "2021-13-01"}, "start date '2021-13-01' is not a date"),
    ({"end": "tomorrow"}, "end date 'tomorrow' is not a date"),
    ({"start": "2021-12-05", "end": "2021-10-19"}, "end date 2021-10-19 is before start"),
    ({"start": "2030-01-01", "end": "2030-02-01"}, "outside the schedule"),
    ({"tables": ["no_such_table"]}, "unknown table 'no_such_table'"),
    ({"tables": ["nba_analytics.x; DROP TABLE nba_raw.y --"]}, "unknown table"),
    ({"tables": []}, "the table list is empty"),
    ({"chunk_days": 0}, "chunk size must be at least 1 day, got 0"),
    ({"chunk_days": -7}, "chunk size must be at least 1 day, got -7"),
    ({"chunk_days": "a week"}, "chunk size 'a week' is not a whole number"),
    ({"max_concurrency": 0}, "max concurrency must be at least 1, got 0"),
    ({"mode": "everything"}, "mode must be one of missing, failed, all, dates"),
    ({"dates": ["2021-11-31"]}, "date '2021-11-31' is not a date"),
    ({"dates": "2021-11-20,soon"}, "date 'soon' is not a date"),
    ({"mode": "all", "dates": ["2021-11-20"]}, "dates are listed only with mode dates"),
    ({"mode": "dates"}, "mode dates needs a list of dates"),
    ({"mode": "all", "fan_out": True}, "fan_out runs mode missing only, not mode all"),
    ({"downstream": "maybe"}, "downstream 'maybe' is not true or false"),
]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("params", "needle"), BAD_BACKFILL, ids=[repr(p) for p, _ in BAD_BACKFILL])
def test_bad_backfill_parameters_fail_in_one_line_and_write_nothing(
    seeded: Settings, params: dict[str, Any], needle: str
):
    from flows.backfill import backfill

    db = Path(seeded.warehouse.duckdb_path)
    before = _digest(db)
    state = backfill(**params, return_state=True)
    close_shared()  # let go of the file before reading it
    assert state.is_failed()
    exc = state.result(raise_on_failure=False)
    assert isinstance(exc, UsageError), exc
    message = str(state.message)
    assert "\n" not in message and needle in message, message
    assert _digest(db) == before


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"phase": 5}, "phase must be 3 or 4"),
        ({"phase": 3, "start": "2021-10-32"}, "is not a date"),
        ({"phase": 4, "tables": ["ml_feature_store_v2;--"]}, "unknown table"),
    ],
)
def test_bad_validate_parameters_fail_in_one_line(
    seeded: Settings, params: dict[str, Any], needle: str
):
    from flows.validate import validate

    db = Path(seeded.warehouse.duckdb_path)
    before = _digest(db)
    state = validate(**params, return_state=True)
    close_shared()
    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), UsageError)
    assert "\n" not in str(state.message) and needle in str(state.message)
    assert _digest(db) == before


def test_good_parameters_as_deployments_send_them_are_accepted(seeded: Settings):
    """The same path in the other direction: strings for dates and numbers, a comma-separated
    table list — what ``prefect deployment run --param`` may send — are parsed, not refused."""
    from nba_backfill.params import resolve_params

    p = resolve_params(seeded, "2021-10-19", "2021-11-01", "team_offense_game_summary", "7", "2")
    assert (p.start, p.end, p.chunk_days, p.max_concurrency) == (
        dt.date(2021, 10, 19),
        dt.date(2021, 11, 1),
        7,
        2,
    )
    assert p.tables == ["nba_analytics.team_offense_game_summary"]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"lookback_days": 0}, "lookback days must be at least 1, got 0"),
        ({"lookback_days": "a week"}, "lookback days 'a week' is not a whole number"),
        ({"chunk_days": -1}, "chunk size must be at least 1 day, got -1"),
        ({"max_concurrency": 0}, "max concurrency must be at least 1, got 0"),
        ({"since": "yesterday"}, "since 'yesterday' is not a date-time"),
        ({"since": "2999-01-01T00:00:00"}, "is in the future"),
    ],
)
def test_bad_rerun_parameters_fail_in_one_line_and_write_nothing(
    seeded: Settings, params: dict[str, Any], needle: str
):
    from flows.rerun import rerun_failed_dates

    db = Path(seeded.warehouse.duckdb_path)
    before = _digest(db)
    state = rerun_failed_dates(**params, return_state=True)
    close_shared()
    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), UsageError)
    assert "\n" not in str(state.message) and needle in str(state.message), state.message
    assert _digest(db) == before


def test_rerun_parameters_as_deployments_send_them_are_accepted(seeded: Settings):
    from nba_backfill.params import resolve_rerun_params

    p = resolve_rerun_params(seeded, "3", "7", "2", "2021-11-01T05:30:00")
    assert (p.lookback_days, p.chunk_days, p.max_concurrency) == (3, 7, 2)
    assert p.since == dt.datetime(2021, 11, 1, 5, 30, tzinfo=dt.UTC)
    default = resolve_rerun_params(seeded)
    assert (default.lookback_days, default.since) == (seeded.prefect.rerun_lookback_days, None)
