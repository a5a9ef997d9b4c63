"""The run's byte budget (nba_backfill/budget.py): sizes, what fits, and the DuckDB stand-in."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill.budget import OverBudget, RunBudget, embedded_estimate, parse_bytes
from nba_backfill.catalog import TABLES, TOGS
from nba_backfill.errors import UsageError
from nba_backfill.settings import Settings, load_settings
from nba_backfill.warehouse import shared_warehouse


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("50GB", 50 * 10**9),
        ("50 gb", 50 * 10**9),
        ("1.5TiB", int(1.5 * 2**40)),
        ("2048", 2048),
        ("10MiB", 10 * 2**20),
        (4096, 4096),
    ],
)
def test_sizes(text, n):
    assert parse_bytes(text) == n


@pytest.mark.parametrize("text", ["50 potatoes", "GB", "-1GB", "0", ""])
def test_bad_sizes_are_usage_errors(text):
    with pytest.raises(UsageError, match="max_bytes"):
        parse_bytes(text)


def test_setting_takes_a_size(monkeypatch):
    monkeypatch.setenv("NBA_BACKFILL_RUN__MAX_BYTES", "2GiB")
    assert load_settings().run.max_bytes == 2 * 2**30
    monkeypatch.setenv("NBA_BACKFILL_RUN__MAX_BYTES", "lots")
    with pytest.raises(UsageError, match="NBA_BACKFILL_RUN__MAX_BYTES"):
        load_settings()
    monkeypatch.delenv("NBA_BACKFILL_RUN__MAX_BYTES")
    assert load_settings().run.max_bytes is None


def test_billed_plus_running_plus_this_chunk_must_fit_and_launching_stops_at_the_first_miss():
    b = RunBudget(100)
    b.admit("a", 40)
    b.admit("b", 50)  # 0 billed + 40 running + 50 = 90
    with pytest.raises(OverBudget, match="c would take 110 B"):
        b.admit("c", 20)
    b.settle("a", 5)  # a billed less than its estimate ...
    # ... but launching has stopped: later chunks, even small ones, are not run.
    with pytest.raises(OverBudget):
        b.admit("d", 1)
    assert b.refused == ["c", "d"]
    b.settle("b", None)  # no bill (DuckDB): its estimate counts
    assert b.billed == 55 and b.in_flight == {}


def test_exactly_at_the_budget_fits():
    b = RunBudget(100)
    b.admit("a", 60)
    b.settle("a", 60)
    b.admit("b", 40)
    assert b.refused == []


def test_duckdb_estimate_counts_the_input_rows_read(seeded: Settings):
    wh = shared_warehouse()
    spec = TABLES[TOGS]
    day = dt.date(2021, 11, 2)
    one = embedded_estimate(wh, spec, day, day)
    week = embedded_estimate(wh, spec, day, day + dt.timedelta(days=6))
    assert 0 < one < week
    # A date with no input rows costs nothing.
    assert embedded_estimate(wh, spec, dt.date(2021, 8, 1), dt.date(2021, 8, 1)) == 0
