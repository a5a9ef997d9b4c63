"""Scattered gaps: the planner groups every planned date of a ``chunk_days`` window into one
chunk, and the runner writes it in one job replacing exactly those dates; the complete dates
between keep their rows (not rewritten: same rows, same write times)."""

from __future__ import annotations

import datetime as dt

import pytest

from bench.checksum import checksum
from nba_backfill.catalog import PGS, TABLES, TOGS
from nba_backfill.errors import DatesFailed
from nba_backfill.planner import Planner, chunk_dates
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.warehouse import shared_warehouse
from nba_backfill.warehouse.base import Warehouse
from tests.test_narrow import Counting, corrupt_minutes

FAST = RetrySettings(max_attempts=3, initial_wait_seconds=0, max_wait_seconds=0, jitter_seconds=0)
D = dt.date


def test_scattered_gaps_make_one_chunk_per_window():
    expected = [D(2024, 1, 1) + dt.timedelta(days=i) for i in range(60)]
    gaps = [expected[i] for i in (2, 9, 17, 30, 33, 58)]  # complete dates between them all
    chunks = chunk_dates(TOGS, gaps, expected, chunk_days=31)
    assert [c.dates for c in chunks] == [tuple(gaps[:4]), tuple(gaps[4:])]
    assert [(c.start, c.end) for c in chunks] == [(gaps[0], gaps[3]), (gaps[4], gaps[5])]
    # A window is calendar days from its first date, whatever lies between.
    assert [c.dates for c in chunk_dates(TOGS, gaps, expected, chunk_days=10)] == [
        (gaps[0], gaps[1]),
        (gaps[2],),
        (gaps[3], gaps[4]),
        (gaps[5],),
    ]
    # Dates not expected (a bootstrap day, say) are never planned into a chunk.
    assert chunk_dates(TOGS, gaps, expected[3:], chunk_days=31)[0].dates == tuple(gaps[1:5])


def _kept(wh: Warehouse, table: str, days: list[dt.date]) -> dict[dt.date, object]:
    spec = TABLES[table]
    written = wh.written_at(spec, days[0], days[-1])
    return {d: (checksum(wh, spec, d, d), written.get(d)) for d in days}


def _filled(wh: Warehouse) -> tuple[list[dt.date], list[dt.date], list[dt.date]]:
    """TOGS written for 12 game dates, then 3 scattered ones deleted: (dates, gaps, kept)."""
    dates = sorted(wh.schedule(D(2021, 11, 1), D(2021, 11, 14)))[:12]
    run_chunk(wh, TOGS, dates, FAST)
    gaps = [dates[1], dates[5], dates[10]]
    return dates, gaps, [d for d in dates if d not in gaps]


def test_a_scattered_chunk_is_one_write_of_exactly_its_dates(seeded: Settings):
    wh = shared_warehouse()
    dates, gaps, kept = _filled(wh)
    sums = {d: checksum(wh, TABLES[TOGS], d, d) for d in gaps}
    before = _kept(wh, TOGS, kept)
    wh.delete_dates(TABLES[TOGS], gaps)  # type: ignore[attr-defined]

    plan = Planner(wh).plan(dates[0], dates[-1], [TOGS], 31, phases=(3,))
    assert [c.dates for c in plan.tables[TOGS].chunks] == [tuple(gaps)]

    counting = Counting(wh)
    result = run_chunk(counting, TOGS, gaps, FAST)  # type: ignore[arg-type]
    assert counting.writes == [(gaps[0], gaps[-1])] and result.writes == result.jobs == 1
    assert result.dates_filled == gaps and result.rows_deleted == 0
    assert {d: checksum(wh, TABLES[TOGS], d, d) for d in gaps} == sums
    assert _kept(wh, TOGS, kept) == before  # the dates between: not rewritten
    again = run_chunk(wh, TOGS, gaps, FAST)
    assert again.rows_deleted == again.rows_written == result.rows_written > 0
    assert {d: checksum(wh, TABLES[TOGS], d, d) for d in gaps} == sums
    assert _kept(wh, TOGS, kept) == before
    assert wh.key_audit(TABLES[TOGS], dates[0], dates[-1]).duplicate_keys == 0


def test_a_scattered_chunk_narrows_on_its_set_and_leaves_blocked_dates_out(seeded: Settings):
    """Another case of the kind, on a table with inputs: PGS written, then planned again on
    scattered dates, one of which has short TOGS inputs (blocked, left out of the set) and
    one a bad gamebook value (narrowed down to it, halves of the date list); the dates
    between are never rewritten."""
    wh = shared_warehouse()
    dates, gaps, _ = _filled(wh)
    run_chunk(wh, PGS, dates, FAST)
    asked = [dates[0], *gaps, dates[-1]]
    between = [d for d in dates if d not in asked]
    before = _kept(wh, PGS, between)
    blocked, bad = gaps[1], gaps[2]
    wh.fetch(
        f"DELETE FROM {TOGS} WHERE game_date = @d AND team_abbr IN "
        f"(SELECT team_abbr FROM {TOGS} WHERE game_date = @d LIMIT 3)",
        {"d": blocked},
    )
    corrupt_minutes(wh, bad)
    counting = Counting(wh)
    with pytest.raises(DatesFailed) as exc:
        run_chunk(counting, PGS, asked, FAST)  # type: ignore[arg-type]
    report = exc.value.report
    assert isinstance(report, dict)
    assert list(report["dates_blocked"]) == [blocked.isoformat()]
    assert list(report["dates_failed"]) == [bad.isoformat()]
    good = [d for d in asked if d not in (blocked, bad)]
    assert report["dates_filled"] == [d.isoformat() for d in good]
    # The whole set once, then halves of its 4 dates down to the bad one: 1 + 2 + 2.
    assert len(counting.writes) == report["writes"] == 5
    assert _kept(wh, PGS, between) == before
