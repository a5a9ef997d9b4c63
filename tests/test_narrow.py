"""A chunk failing with a data error on some dates is narrowed to them (runner._narrow): the
other dates are written, each half as its own atomic replace, the bad ones reported with their
error; transient, injected and syntax errors are not split; the writes stay O(log n)."""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import pytest
from google.api_core import exceptions as gexc

from bench.checksum import checksum
from nba_backfill.catalog import PGS, TABLES, TOGS
from nba_backfill.errors import (
    DatesFailed,
    ProducerFailed,
    WarehouseError,
    is_data_error,
)
from nba_backfill.rerun import (
    ChunkRef,
    FailedRun,
    rerun_scope,
    rerun_targets,
    still_missing,
)
from nba_backfill.runner import narrow_budget, run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.warehouse import shared_warehouse

FAST = RetrySettings(max_attempts=3, initial_wait_seconds=0, max_wait_seconds=0, jitter_seconds=0)


class Counting:
    """Wraps a warehouse: counts replace_range calls, and raises ``exc`` (when given) on every
    write whose range covers one of ``bad``, as a write reading a bad value would."""

    def __init__(self, inner, exc: Exception | None = None, bad=()) -> None:
        self.inner, self.exc, self.bad = inner, exc, set(bad)
        self.writes: list[tuple[dt.date, dt.date]] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def replace_range(self, spec, start, end, **kwargs):
        self.writes.append((start, end))
        if self.exc is not None and any(start <= d <= end for d in self.bad):
            raise self.exc
        return self.inner.replace_range(spec, start, end, **kwargs)


def thirty(wh) -> list[dt.date]:
    dates = sorted(wh.schedule(dt.date(2021, 11, 1), dt.date(2021, 12, 15)))[:30]
    assert len(dates) == 30
    return dates


def corrupt_minutes(wh, day: dt.date) -> None:
    """One gamebook row of ``day`` with minutes no NUMERIC(5, 1) holds: the model's cast
    raises on that date only (a real DuckDB ConversionException)."""
    wh.fetch(
        "UPDATE nba_raw.nbac_gamebook_player_stats SET minutes = '99999' "
        "WHERE game_date = @d AND player_lookup = (SELECT MIN(player_lookup) "
        "FROM nba_raw.nbac_gamebook_player_stats "
        "WHERE game_date = @d AND LOWER(player_status) = 'active')",
        {"d": day},
    )


def complete_dates(wh, table: str, dates: list[dt.date]) -> set[dt.date]:
    """The dates of ``dates`` complete in the warehouse, as the planner judges them."""
    return set(dates) - still_missing(wh, [table], dates[0], dates[-1])[table]


def test_a_bad_date_in_a_30_date_chunk_leaves_29_filled(seeded: Settings):
    wh = shared_warehouse()
    dates = thirty(wh)
    run_chunk(wh, TOGS, dates, FAST)
    bad = dates[17]
    corrupt_minutes(wh, bad)
    counting = Counting(wh)
    with pytest.raises(DatesFailed) as exc:
        run_chunk(counting, PGS, dates, FAST)  # type: ignore[arg-type]
    report = exc.value.report
    assert isinstance(report, dict)
    good = [d for d in dates if d != bad]
    assert report["dates_filled"] == [d.isoformat() for d in good]
    assert list(report["dates_failed"]) == [bad.isoformat()]
    assert "Could not cast value 99999" in report["dates_failed"][bad.isoformat()]
    assert [f.date for f in exc.value.failed] == [bad]
    assert exc.value.failed[0].error_class == "WarehouseError"
    assert str(bad) in str(exc.value) and "1 date(s) failed" in str(exc.value)
    # The warehouse holds the 29 dates, complete, and nothing of the bad one.
    assert complete_dates(wh, PGS, dates) == set(good)
    assert bad not in wh.date_profile(TABLES[PGS], dates[0], dates[-1])
    assert wh.key_audit(TABLES[PGS], dates[0], dates[-1]).duplicate_keys == 0
    # Bounded: the whole chunk, then both halves of each of the ceil(log2 30) = 5 levels.
    assert len(counting.writes) == report["writes"] == 1 + 2 * math.ceil(math.log2(30)) == 11
    assert report["rows_written"] > 0 and not report["retries"]


def test_two_bad_dates_keep_their_old_rows_and_the_rest_is_rewritten(seeded: Settings):
    """Another case of the kind: two bad dates in different halves of a chunk already
    written. Both are named, each keeps the rows it had (a failed replace changes nothing),
    the 28 others are rewritten identically."""
    wh = shared_warehouse()
    dates = thirty(wh)
    run_chunk(wh, TOGS, dates, FAST)
    run_chunk(wh, PGS, dates, FAST)
    sums = {d: checksum(wh, TABLES[PGS], d, d) for d in dates}
    bad = [dates[3], dates[22]]
    for d in bad:
        corrupt_minutes(wh, d)
    counting = Counting(wh)
    with pytest.raises(DatesFailed) as exc:
        run_chunk(counting, PGS, dates, FAST)  # type: ignore[arg-type]
    report = exc.value.report
    assert isinstance(report, dict)
    assert sorted(report["dates_failed"]) == [d.isoformat() for d in bad]
    assert len(report["dates_filled"]) == 28
    assert {d: checksum(wh, TABLES[PGS], d, d) for d in dates} == sums
    assert len(counting.writes) <= 1 + narrow_budget(30)


def test_transient_errors_are_retried_not_split(seeded: Settings):
    wh = shared_warehouse()
    dates = thirty(wh)[:8]
    counting = Counting(wh, gexc.ServiceUnavailable("backend"), bad=[dates[5]])
    with pytest.raises(gexc.ServiceUnavailable):  # the error itself, not DatesFailed
        run_chunk(counting, TOGS, dates, FAST)  # type: ignore[arg-type]
    # Three attempts of the one range write, all of the chunk: never a half.
    assert counting.writes == [(dates[0], dates[-1])] * FAST.max_attempts
    assert complete_dates(wh, TOGS, dates) == set()


def test_an_error_every_date_raises_costs_bounded_writes(seeded: Settings):
    """A data error on every date (a column the model casts is bad everywhere): narrowing
    stops at its budget, every date is reported, the writes are O(log n), not 2n."""
    wh = shared_warehouse()
    dates = thirty(wh)
    err = WarehouseError("Conversion Error: Could not cast value")
    err.__cause__ = duckdb.ConversionException("Could not cast value")
    counting = Counting(wh, err, bad=dates)
    with pytest.raises(DatesFailed) as exc:
        run_chunk(counting, TOGS, dates, FAST)  # type: ignore[arg-type]
    report = exc.value.report
    assert isinstance(report, dict)
    assert sorted(report["dates_failed"]) == [d.isoformat() for d in dates]
    assert report["dates_filled"] == []
    assert len(counting.writes) <= 1 + narrow_budget(30) == 21


def test_syntax_errors_are_not_split(seeded: Settings):
    wh = shared_warehouse()
    dates = thirty(wh)[:8]
    syntax = gexc.BadRequest(
        "Syntax error: Unexpected keyword", errors=[{"reason": "invalidQuery"}]
    )
    counting = Counting(wh, syntax, bad=dates)
    with pytest.raises(gexc.BadRequest):
        run_chunk(counting, TOGS, dates, FAST)  # type: ignore[arg-type]
    assert len(counting.writes) == 1


@pytest.mark.parametrize(
    ("exc", "data"),
    [
        (gexc.BadRequest("Bad int64 value: abc", errors=[{"reason": "invalidQuery"}]), True),
        (gexc.BadRequest("Division by zero: 1 / 0", errors=[{"reason": "invalidQuery"}]), True),
        (
            gexc.BadRequest("Syntax error: Unexpected ')'", errors=[{"reason": "invalidQuery"}]),
            False,
        ),
        (gexc.Forbidden("Access Denied: out of range", errors=[{"reason": "accessDenied"}]), False),
        (gexc.BadRequest("Could not serialize access to t due to concurrent update"), False),
        (duckdb.ConversionException("Could not cast"), True),
        (duckdb.CatalogException("Table x does not exist"), False),
        (
            ProducerFailed("t 2021-11-01..2021-11-02: exit code 1: Could not cast", reason=None),
            True,
        ),
        (ProducerFailed("t: stopped after the 5s timeout", reason="timeout"), False),
        (
            ProducerFailed("t: stopped, the run is ending: overflow", reason=None, stopped=True),
            False,
        ),
        (ProducerFailed("t: exit code 1: KeyError 'x'", reason=None), False),
    ],
)
def test_which_errors_a_dates_data_may_cause(exc: Exception, data: bool):
    assert is_data_error(exc) is data


def test_the_rerun_of_a_narrowed_chunk_is_its_bad_date(seeded: Settings):
    """The history names the chunk by its task run name (its whole range); what a rerun fills
    is that range's dates still not complete: the bad date only, the 29 narrowed ones are
    done."""
    wh = shared_warehouse()
    dates = thirty(wh)
    run_chunk(wh, TOGS, dates, FAST)
    bad = dates[9]
    corrupt_minutes(wh, bad)
    with pytest.raises(DatesFailed):
        run_chunk(wh, PGS, dates, FAST)
    run = FailedRun(
        "id", "run", dates[0], dates[-1], None, unfinished=[ChunkRef(3, PGS, dates[0], dates[-1])]
    )
    assert rerun_targets(wh, rerun_scope([run])) == {PGS: [bad]}


def test_a_processor_failing_on_a_bad_value_is_narrowed_too(seeded: Settings):
    """The same data fault met by an external processor (the stand-in computes its rows with
    the model's SQL): its exit 1 with DuckDB's cast error as the last stderr line is a data
    error, so its chunk is narrowed like the SQL model's, each half its own command run."""
    from tests.producers.conftest import standin

    wh = shared_warehouse()
    dates = thirty(wh)[:7]
    run_chunk(wh, TOGS, dates, FAST)
    bad = dates[4]
    corrupt_minutes(wh, bad)
    with pytest.raises(DatesFailed) as exc:
        run_chunk(wh, PGS, dates, FAST, producer=standin("player_game_summary"))
    report = exc.value.report
    assert list(report["dates_failed"]) == [bad.isoformat()]
    # The error of the bad date's own run (its stderr said "Could not cast ...").
    assert report["dates_failed"][bad.isoformat()].startswith(
        f"ProducerFailed: {PGS} {bad}..{bad}: exit code 1"
    )
    assert report["dates_filled"] == [d.isoformat() for d in dates if d != bad]
    assert report["writes"] <= 1 + 2 * math.ceil(math.log2(7))
    assert complete_dates(wh, PGS, dates) == set(dates) - {bad}
