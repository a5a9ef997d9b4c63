"""Keys (issue 12, item 7): a NULL key column or a duplicated key makes *that date* incomplete
(readiness), so the planner re-plans it and the next run repairs it by replacing the date; the
gate names the table and the dates."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill import audits
from nba_backfill.catalog import PGS, TABLES, TDZA, TOGS, UPCG, Completeness
from nba_backfill.planner import Planner
from nba_backfill.readiness import is_complete
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.validation import validate
from nba_backfill.warehouse import shared_warehouse
from nba_backfill.warehouse.base import DateProfile, Warehouse

D1, D2 = dt.date(2021, 12, 1), dt.date(2021, 12, 2)
OPENER = dt.date(2021, 10, 19)
FAST = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)


@pytest.mark.parametrize("kind", list(Completeness))
@pytest.mark.parametrize(("nulls", "dups"), [(1, 0), (0, 1), (2, 3)])
def test_a_date_with_key_problems_is_incomplete_whatever_its_grain(
    kind: Completeness, nulls: int, dups: int
) -> None:
    spec = next(t for t in TABLES.values() if t.completeness is kind)
    clean = DateProfile(16, 16)
    assert is_complete(spec, clean, games=8)
    assert not is_complete(spec, DateProfile(16, 16, nulls, dups), games=8)


def _fill_phase3(wh: Warehouse, *tables: str, days: tuple[dt.date, ...] = (D1, D2)) -> None:
    for table in tables:
        assert run_chunk(wh, table, list(days), FAST).dates_filled == list(days)


def _duplicate_one_row(wh: Warehouse, table: str, column: str, day: dt.date) -> None:
    wh.fetch(f"INSERT INTO {table} SELECT * FROM {table} WHERE {column} = @d LIMIT 1", {"d": day})


def test_a_duplicated_row_is_named_by_the_gate_re_planned_and_repaired(seeded: Settings) -> None:
    wh = shared_warehouse()
    _fill_phase3(wh, TOGS, PGS)
    assert not Planner(wh).plan(D1, D2, [TOGS, PGS], 31, phases=(3,)).tables[PGS].to_fill
    _duplicate_one_row(wh, PGS, "game_date", D2)

    (check,) = validate(wh, 3, D1, D2, [PGS]).tables
    assert check.key_dates == {D2: (0, 1)}
    assert check.incomplete == [D2]
    assert "1 duplicate key row on 2021-12-02" in check.problems
    assert audits.key_dates(wh, TABLES[PGS], D1, D2) == {D2: audits.DateKeys(0, 1)}

    planned = Planner(wh).plan(D1, D2, [TOGS, PGS], 31, phases=(3,)).tables[PGS]
    assert planned.incomplete == [D2] and planned.missing == []
    ran = run_chunk(wh, PGS, planned.to_fill, FAST)
    assert ran.dates_filled == [D2] and not ran.dates_incomplete

    assert audits.key_counts(wh, TABLES[PGS], D1, D2).duplicate_keys == 0
    assert validate(wh, 3, D1, D2, [PGS]).ok
    assert not Planner(wh).plan(D1, D2, [TOGS, PGS], 31, phases=(3,)).tables[PGS].to_fill


def test_a_null_key_row_is_named_by_the_gate_re_planned_and_repaired(seeded: Settings) -> None:
    """A live table created without production's REQUIRED key (the models never write a NULL
    key; an older one did): the row makes its date incomplete, and replacing the date drops
    it."""
    wh = shared_warehouse()
    _fill_phase3(wh, TOGS, PGS)
    wh.fetch(f"ALTER TABLE {PGS} ALTER COLUMN player_lookup DROP NOT NULL")
    wh.fetch(
        f"UPDATE {PGS} SET player_lookup = NULL WHERE game_date = @d AND player_lookup = "
        f"(SELECT MIN(player_lookup) FROM {PGS} WHERE game_date = @d)",
        {"d": D1},
    )
    report = validate(wh, 3, D1, D2, [PGS])
    # One of two dates short: the coverage fails too, and both name the date.
    assert report.problems[PGS] == [
        "coverage 50.0% < 95% (1/2 dates)",
        "incomplete 2021-12-01",
        "1 row with NULL key columns on 2021-12-01",
    ]

    planned = Planner(wh).plan(D1, D2, [TOGS, PGS], 31, phases=(3,)).tables[PGS]
    assert planned.to_fill == [D1]
    ran = run_chunk(wh, PGS, planned.to_fill, FAST)
    assert ran.dates_filled == [D1]
    assert audits.key_counts(wh, TABLES[PGS], D1, D2).null_keys == 0
    assert validate(wh, 3, D1, D2, [PGS]).ok


def test_a_duplicated_row_of_a_player_context_table_is_re_planned(seeded: Settings) -> None:
    """The same kind on another grain: upcoming_player_game_context (every team's players),
    whose 30-day window of player games starts at the season's opener."""
    e1, e2 = OPENER, OPENER + dt.timedelta(days=1)
    wh = shared_warehouse()
    _fill_phase3(wh, TOGS, PGS, days=(e1, e2))
    _fill_phase3(wh, UPCG, days=(e1, e2))
    _duplicate_one_row(wh, UPCG, "game_date", e2)
    _duplicate_one_row(wh, UPCG, "game_date", e2)
    (check,) = validate(wh, 3, e1, e2, [UPCG]).tables
    assert "2 duplicate key rows on 2021-10-20" in check.problems
    planned = Planner(wh).plan(e1, e2, [UPCG], 31, phases=(3,)).tables[UPCG]
    assert planned.to_fill == [e2]
    assert run_chunk(wh, UPCG, planned.to_fill, FAST).dates_filled == [e2]
    assert validate(wh, 3, e1, e2, [UPCG]).ok


def test_the_date_column_must_be_a_key_column() -> None:
    import dataclasses

    with pytest.raises(ValueError, match="no key column"):
        dataclasses.replace(TABLES[TDZA], key_columns=("team_abbr",))
