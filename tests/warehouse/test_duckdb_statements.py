"""A DuckDB write of a chunk runs its model in spans of the catalog's ``statement_days`` (the
feature store's memory is bounded by the dates one statement computes, not by the chunk), all
inside the chunk's one transaction; and at most ``warehouse.duckdb_write_slots`` writes are in
flight at once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time

import pytest

from bench.checksum import checksum
from nba_backfill.catalog import TABLES, TOGS
from nba_backfill.errors import WarehouseError
from nba_backfill.settings import Settings, load_settings
from nba_backfill.warehouse.duckdb import (
    MIN_STATEMENT_DAYS,
    DuckDBWarehouse,
    shorter_statements,
    statement_spans,
)

D = dt.date


@pytest.mark.parametrize(
    ("start", "end", "days", "spans"),
    [
        (D(2021, 11, 1), D(2021, 11, 5), None, [(D(2021, 11, 1), D(2021, 11, 5))]),
        (
            D(2021, 11, 1),
            D(2021, 11, 5),
            2,
            [
                (D(2021, 11, 1), D(2021, 11, 2)),
                (D(2021, 11, 3), D(2021, 11, 4)),
                (D(2021, 11, 5), D(2021, 11, 5)),
            ],
        ),
        (D(2021, 11, 1), D(2021, 11, 1), 14, [(D(2021, 11, 1), D(2021, 11, 1))]),
        (
            D(2021, 12, 25),
            D(2022, 1, 10),
            14,
            [(D(2021, 12, 25), D(2022, 1, 7)), (D(2022, 1, 8), D(2022, 1, 10))],
        ),
    ],
)
def test_spans_cover_the_range_in_order(
    start: dt.date, end: dt.date, days: int | None, spans: list[tuple[dt.date, dt.date]]
) -> None:
    assert statement_spans(start, end, days) == spans


def test_a_span_of_no_days_is_refused() -> None:
    with pytest.raises(ValueError, match="statement days"):
        statement_spans(D(2021, 11, 1), D(2021, 11, 2), 0)


def _statements(wh: DuckDBWarehouse) -> list[dict[str, object]]:
    """Record each INSERT's parameters the adapter sends (the cursor is the real one)."""
    seen: list[dict[str, object]] = []
    cur = wh._cursor()
    real = cur.execute

    class Recording:
        def __getattr__(self, name: str) -> object:
            return getattr(cur, name)

        def execute(self, sql: str, params: object = None) -> object:
            if sql.startswith("INSERT") and isinstance(params, dict):
                seen.append(dict(params))
            return real(sql, params)

    wh._local.cur = Recording()
    return seen


def test_spans_write_the_rows_one_statement_writes(seeded: Settings) -> None:
    wh = DuckDBWarehouse(seeded)
    whole = TABLES[TOGS]
    spanned = dataclasses.replace(whole, statement_days=2)
    start, end = D(2021, 10, 19), D(2021, 10, 25)
    try:
        one = wh.replace_range(whole, start, end)
        expected = checksum(wh, whole, start, end)
        seen = _statements(wh)
        again = wh.replace_range(spanned, start, end)
        assert [(p["start_date"], p["end_date"]) for p in seen] == statement_spans(start, end, 2)
        assert again.rows_written == one.rows_written > 0
        assert again.rows_deleted == one.rows_written  # the chunk's one DELETE
        assert checksum(wh, whole, start, end) == expected
        # Only some dates: a span holding none of them runs no statement.
        seen.clear()
        only = [D(2021, 10, 20), D(2021, 10, 25)]
        wh.replace_range(spanned, start, end, dates=only)
        assert [p["dates"] for p in seen] == [[D(2021, 10, 20)], [D(2021, 10, 25)]]
        assert checksum(wh, whole, start, end) == expected
    finally:
        wh.close()


def test_a_failing_later_span_leaves_the_old_rows(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spans share the chunk's transaction: the DELETE and the spans already inserted roll
    back with the span that fails."""
    wh = DuckDBWarehouse(seeded)
    table = dataclasses.replace(TABLES[TOGS], statement_days=2)
    start, end = D(2021, 10, 19), D(2021, 10, 25)
    try:
        wh.replace_range(table, start, end)
        before = checksum(wh, table, start, end)
        real = wh.model_sql(table)
        # Fails only when the span starts after the first one (params are bound per span).
        failing = (
            f"SELECT * FROM ({real}) AS r "
            "WHERE IF($start_date > DATE '2021-10-19', error('second span'), TRUE)"
        )
        monkeypatch.setattr(type(wh), "model_sql", lambda self, t: failing)
        with pytest.raises(Exception, match="second span"):
            wh.replace_range(table, start, end)
        assert checksum(wh, table, start, end) == before
    finally:
        wh.close()


@pytest.mark.parametrize("slots", [1, 2])
def test_writes_in_flight_never_exceed_the_slots(seeded: Settings, slots: int) -> None:
    s = load_settings(
        warehouse={
            "duckdb_path": str(seeded.warehouse.duckdb_path),
            "duckdb_write_slots": slots,
        }
    )
    wh = DuckDBWarehouse(s)
    lock = threading.Lock()
    in_flight = 0
    most = 0

    def pause(table: object, start: dt.date, end: dt.date) -> None:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.3)
        with lock:
            in_flight -= 1

    wh.mid_write = pause
    days = [D(2021, 10, 19) + dt.timedelta(days=i) for i in range(4)]
    errors: list[BaseException] = []

    def write(day: dt.date) -> None:
        try:
            wh.replace_range(TABLES[TOGS], day, day)
        except BaseException as exc:  # every thread's error is reported
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(d,)) for d in days]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        assert most == slots
    finally:
        wh.close()


@pytest.mark.parametrize(
    ("days", "shorter"),
    [(None, 7), (92, 46), (14, 7), (9, 7), (7, None)],  # None: the 13-day range whole
)
def test_a_statement_out_of_memory_is_retried_half_as_long(days: int | None, shorter: int | None):
    assert shorter_statements(D(2021, 10, 19), D(2021, 10, 31), days) == shorter
    assert MIN_STATEMENT_DAYS == 7


def _hungry(real: str) -> str:
    """The model, plus a real allocation of ~400 MB in any statement spanning more than a
    week: DuckDB runs out of memory at the test's 100MB cap exactly there."""
    return (
        f"SELECT r.* FROM ({real}) AS r WHERE len((SELECT list(x) FROM range(IF("
        "date_diff('day', $start_date, $end_date) > 6, 50000000, 1)) AS t(x))) > 0"
    )


def test_a_write_out_of_memory_falls_back_to_shorter_statements(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's Out of Memory on a statement rolls the chunk back and writes it again in
    statements half as long (13 days whole, then 7): the same rows as one statement, and the
    table's next chunks start at 7 days. At the shortest length the error stands, the old rows
    kept."""
    path = str(seeded.warehouse.duckdb_path)
    wh = DuckDBWarehouse(seeded)
    table = TABLES[TOGS]  # statement_days None: a chunk in one statement
    start, end = D(2021, 10, 19), D(2021, 10, 31)
    try:
        wh.replace_range(table, start, end)
        expected = checksum(wh, table, start, end)
    finally:
        wh.close()
    capped = DuckDBWarehouse(
        load_settings(warehouse={"duckdb_path": path, "duckdb_memory_limit": "100MB"})
    )
    try:
        real = capped.model_sql(table)
        monkeypatch.setattr(type(capped), "model_sql", lambda self, t: _hungry(real))
        seen = _statements(capped)
        assert capped.statement_days(table) is None
        result = capped.replace_range(table, start, end)
        assert [(p["start_date"], p["end_date"]) for p in seen] == [
            (start, end),  # out of memory, rolled back
            *statement_spans(start, end, 7),
        ]
        assert capped.statement_days(table) == 7
        assert result.rows_written > 0 and checksum(capped, table, start, end) == expected
        seen.clear()
        capped.replace_range(table, start, end)  # starts where the last one ended up
        assert [(p["start_date"], p["end_date"]) for p in seen] == statement_spans(start, end, 7)

        always = (
            "SELECT r.* FROM ({}) AS r WHERE len((SELECT list(x) FROM range(50000000) t(x))) > 0"
        )
        monkeypatch.setattr(type(capped), "model_sql", lambda self, t: always.format(real))
        with pytest.raises(WarehouseError, match="Out of Memory"):
            capped.replace_range(table, start, end)
        assert checksum(capped, table, start, end) == expected
    finally:
        capped.close()
