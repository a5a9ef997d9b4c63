"""run_chunk on a real DuckDB slice: idempotent replace, blocked inputs, retries."""

from __future__ import annotations

import datetime as dt

import pytest
from google.api_core import exceptions as gexc

from bench.checksum import checksum
from nba_backfill.catalog import PGS, TABLES, TOGS
from nba_backfill.planner import Planner
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.warehouse import shared_warehouse

FAST = RetrySettings(max_attempts=3, initial_wait_seconds=0, max_wait_seconds=0, jitter_seconds=0)


def chunk_dates(wh, start: dt.date, end: dt.date) -> list[dt.date]:
    return sorted(wh.schedule(start, end))


def test_same_chunk_twice_gives_the_same_rows(seeded: Settings):
    wh = shared_warehouse()
    dates = chunk_dates(wh, dt.date(2021, 11, 1), dt.date(2021, 11, 14))
    run_chunk(wh, TOGS, dates, FAST)
    first = run_chunk(wh, PGS, dates, FAST)
    sums = {n: checksum(wh, TABLES[n], dates[0], dates[-1]) for n in (TOGS, PGS)}
    again = run_chunk(wh, PGS, dates, FAST)
    assert again.rows_deleted == first.rows_written == again.rows_written > 0
    assert {n: checksum(wh, TABLES[n], dates[0], dates[-1]) for n in (TOGS, PGS)} == sums
    assert wh.key_audit(TABLES[PGS], dates[0], dates[-1]).duplicate_keys == 0
    assert first.dates_filled == dates and first.ok


def test_dates_with_incomplete_inputs_are_blocked_not_written(seeded: Settings):
    wh = shared_warehouse()
    dates = chunk_dates(wh, dt.date(2021, 11, 1), dt.date(2021, 11, 7))
    run_chunk(wh, TOGS, dates, FAST)
    hole = dates[3]
    wh.fetch(
        f"DELETE FROM {TOGS} WHERE game_date = @d AND team_abbr IN "
        f"(SELECT team_abbr FROM {TOGS} WHERE game_date = @d LIMIT 3)",
        {"d": hole},
    )
    res = run_chunk(wh, PGS, dates, FAST)
    assert list(res.dates_blocked) == [hole]
    assert "team_offense_game_summary" in res.dates_blocked[hole]
    assert res.dates_filled == [d for d in dates if d != hole]
    assert hole not in wh.date_profile(TABLES[PGS], dates[0], dates[-1])
    # The planner sees the same: PGS on that date waits for TOGS (planned), or is skipped
    plan = Planner(wh).plan(dates[0], dates[-1], [PGS], 31, phases=(3,))
    assert hole in plan.tables[PGS].skipped


class Flaky:
    """Wraps a warehouse: the first ``n`` replace_range calls raise ``exc``."""

    def __init__(self, inner, exc: Exception, n: int) -> None:
        self.inner, self.exc, self.left = inner, exc, n

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def replace_range(self, *args, **kwargs):
        if self.left > 0:
            self.left -= 1
            raise self.exc
        return self.inner.replace_range(*args, **kwargs)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (gexc.Forbidden("Exceeded rate limits", errors=[{"reason": "rateLimitExceeded"}]), "quota"),
        (
            gexc.BadRequest("Could not serialize access to table t due to concurrent update"),
            "serialization",
        ),
        (gexc.ServiceUnavailable("backend"), "server"),
        (TimeoutError("job timed out"), "timeout"),
    ],
)
def test_transient_errors_are_retried_and_counted(seeded: Settings, exc, reason):
    wh = shared_warehouse()
    dates = chunk_dates(wh, dt.date(2021, 11, 1), dt.date(2021, 11, 3))
    res = run_chunk(Flaky(wh, exc, 2), TOGS, dates, FAST)  # type: ignore[arg-type]
    assert [r.reason for r in res.retries] == [reason, reason]
    assert res.dates_filled == dates


def test_permanent_errors_fail_fast_and_leave_old_rows(seeded: Settings):
    wh = shared_warehouse()
    dates = chunk_dates(wh, dt.date(2021, 11, 1), dt.date(2021, 11, 3))
    run_chunk(wh, TOGS, dates, FAST)
    before = checksum(wh, TABLES[TOGS], dates[0], dates[-1])
    flaky = Flaky(
        wh,
        gexc.BadRequest("Syntax error: Unexpected keyword", errors=[{"reason": "invalidQuery"}]),
        5,
    )
    with pytest.raises(gexc.BadRequest):
        run_chunk(flaky, TOGS, dates, FAST)  # type: ignore[arg-type]
    assert flaky.left == 4  # one attempt, no retries
    assert checksum(wh, TABLES[TOGS], dates[0], dates[-1]) == before


def test_failed_write_rolls_back(seeded: Settings, monkeypatch):
    """A statement failing after the DELETE leaves the old rows (one transaction)."""
    wh = shared_warehouse()
    dates = chunk_dates(wh, dt.date(2021, 11, 1), dt.date(2021, 11, 3))
    run_chunk(wh, TOGS, dates, FAST)
    before = checksum(wh, TABLES[TOGS], dates[0], dates[-1])
    monkeypatch.setattr(
        type(wh),
        "model_sql",
        lambda self, t: "SELECT $start_date::DATE AS game_date, error('boom') AS team_abbr",
    )
    with pytest.raises(Exception, match="boom"):
        wh.replace_range(TABLES[TOGS], dates[0], dates[-1])
    assert checksum(wh, TABLES[TOGS], dates[0], dates[-1]) == before


def test_values_do_not_depend_on_chunking_or_row_order(seeded: Settings):
    """Every table filled in one wide chunk, then refilled newest-first in 4-date chunks after
    every table's rows were rewritten in another physical order: the same bits in every column.
    (The SQL's float aggregates are exact — tests/sql/test_exact_aggregates.py — so the order
    rows arrive in, which differs between chunkings, reruns and threads, cannot matter.)"""
    from nba_backfill.catalog import PHASE3, PHASE4_GROUPS

    wh = shared_warehouse()
    dates = chunk_dates(wh, dt.date(2021, 10, 19), dt.date(2021, 12, 5))
    order = [s.name for s in PHASE3] + [s.name for g in PHASE4_GROUPS for s in g]
    after_bootstrap = [d for d in dates if d >= dt.date(2021, 11, 2)]  # opener + 14 days
    days = {n: dates if TABLES[n].phase == 3 else after_bootstrap for n in order}
    for name in order:
        assert run_chunk(wh, name, days[name], FAST).ok
    wide = {n: checksum(wh, TABLES[n], dates[0], dates[-1]) for n in order}
    assert all(rows > 0 for rows, _ in wide.values())

    cur = wh._cursor()  # type: ignore[attr-defined]
    for name in order:
        qualified = wh._qualified(name)  # type: ignore[attr-defined]
        cur.execute(
            f"CREATE TEMP TABLE shuffled AS SELECT * FROM {qualified} AS t ORDER BY hash(t) DESC"
        )
        cur.execute(f"DELETE FROM {qualified}")
        cur.execute(f"INSERT INTO {qualified} SELECT * FROM shuffled")
        cur.execute("DROP TABLE shuffled")
    assert {n: checksum(wh, TABLES[n], dates[0], dates[-1]) for n in order} == wide

    for name in order:
        for i in range(len(days[name]), 0, -4):
            assert run_chunk(wh, name, days[name][max(0, i - 4) : i], FAST).ok
    assert {n: checksum(wh, TABLES[n], dates[0], dates[-1]) for n in order} == wide
