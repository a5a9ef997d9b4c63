"""Issue 12, duplicated raw rows: a scraper that ran twice loads every row of a date again
(same natural key, same or later processed_at). Production's processors keep the latest load
of each natural key, so for every raw input a model reads (nba_backfill.phase2.RAW_TABLES),
doubling its rows of one date leaves every table's output identical on that date and the next
(the day after reads it as history) — compared on the stable columns (bench/checksum.py) but
the raw row counts production's source tracking reports (see ``compared``)."""

from __future__ import annotations

import datetime as dt
import shutil
from fnmatch import fnmatch
from pathlib import Path

import duckdb
import pytest

from bench.checksum import checksum, stable_columns
from nba_backfill import catalog, phase2
from nba_backfill.catalog import TOGS
from nba_backfill.phase2 import RAW_TABLES, RawTable
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from tests.conftest import SLICE_START

DAY = dt.date(2021, 12, 7)  # issue 12's date: play-by-play loaded twice
NEXT = DAY + dt.timedelta(days=1)
Checksums = dict[str, tuple[int, str]]


def _open(path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))


def _fill(w: DuckDBWarehouse, start: dt.date, end: dt.date) -> None:
    for spec in catalog.TABLES.values():  # catalog order = dependency order
        w.replace_range(spec, start, end)


def compared(spec: catalog.TableSpec) -> tuple[str, ...]:
    """The stable columns but ``source_*_rows_found``: production's dependency check counts the
    input's rows as loaded (COUNT(*), metadata_mixin), so a second load shows there — the trace
    that the input was loaded twice — while every value computed from the input must not move."""
    return tuple(c for c in stable_columns(spec) if not fnmatch(c, "source_*_rows_found"))


def _checksums(w: DuckDBWarehouse) -> Checksums:
    return {
        name: checksum(w, spec, DAY, NEXT, compared(spec)) for name, spec in catalog.TABLES.items()
    }


@pytest.fixture(scope="module")
def filled(phase2_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic slice with every table filled from the opener through NEXT (history for
    the look-backs)."""
    path = tmp_path_factory.mktemp("dup") / "filled.duckdb"
    shutil.copy(phase2_template, path)
    w = _open(path)
    try:
        _fill(w, SLICE_START, NEXT)
    finally:
        w.close()
    return path


@pytest.fixture(scope="module")
def baseline(filled: Path) -> Checksums:
    w = _open(filled)
    try:
        sums = _checksums(w)
    finally:
        w.close()
    # The comparison means something: the date has rows in every table it can have.
    assert all(n > 0 for n, _ in sums.values()), sums
    return sums


def _duplicate(path: Path, table: RawTable, later: bool) -> int:
    """Load ``table``'s rows of DAY again (all of them for a table without a date partition);
    ``later``: with processed_at one hour later. Returns the rows added."""
    where = f"WHERE {table.partition_by} = DATE '{DAY}'" if table.partition_by else ""
    shift = " REPLACE (processed_at + INTERVAL 1 HOUR AS processed_at)" if later else ""
    con = duckdb.connect(str(path))
    try:
        con.execute(f"INSERT INTO {table.name} SELECT *{shift} FROM {table.name} {where}")
        row = con.execute(f"SELECT COUNT(*) FROM {table.name} {where}").fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0]) // 2


@pytest.mark.parametrize("later", [False, True], ids=["same_load_time", "later_load"])
@pytest.mark.parametrize("table", RAW_TABLES, ids=lambda t: t.name)
def test_a_raw_date_loaded_twice_changes_no_output(
    table: RawTable, later: bool, filled: Path, baseline: Checksums, tmp_path: Path
) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(filled, path)
    assert _duplicate(path, table, later) > 0, f"{table.name} has no rows on {DAY}"
    w = _open(path)
    try:
        _fill(w, DAY, NEXT)
        got = _checksums(w)
    finally:
        w.close()
    changed = {name: (baseline[name], got[name]) for name in got if got[name] != baseline[name]}
    assert not changed, f"{table.name} loaded twice on {DAY} changed {sorted(changed)}"


def _rows(w: DuckDBWarehouse, sql: str) -> list[tuple[object, ...]]:
    return [tuple(r.values()) for r in w.fetch(sql, {"d": DAY})]


def test_play_by_play_loaded_twice_counts_each_shot_once(filled: Path, tmp_path: Path) -> None:
    """Issue 12's case: every play-by-play row of 2021-12-07 twice. Each team's paint attempts
    are its distinct paint shots of the raw table (they were double: 35 -> 70); only the
    tracked raw row count shows the second load."""
    path = tmp_path / "w.duckdb"
    shutil.copy(filled, path)
    added = _duplicate(path, phase2.PLAY_BY_PLAY, later=False)
    w = _open(path)
    try:
        _fill(w, DAY, DAY)
        distinct = _rows(
            w,
            "SELECT player_1_team_abbr, COUNT(DISTINCT event_id) FROM nba_raw.nbac_play_by_play "
            "WHERE game_date = @d AND shot_type = '2PT' AND shot_distance <= 8.0 "
            "GROUP BY 1 ORDER BY 1",
        )
        togs = _rows(
            w,
            f"SELECT team_abbr, team_paint_attempts, source_play_by_play_rows_found FROM {TOGS} "
            "WHERE game_date = @d ORDER BY 1",
        )
        players = _rows(
            w,
            f"SELECT SUM(paint_attempts) FROM {catalog.PGS} WHERE game_date = @d",
        )
    finally:
        w.close()
    assert togs
    assert [(t, n) for t, n, _ in togs] == distinct
    assert {rows for _, _, rows in togs} == {2 * added}  # the raw count, as production tracks it
    assert players == [(sum(n for _, n in distinct),)]


@pytest.mark.parametrize(
    ("table", "output", "column", "raw_column"),
    [
        (phase2.TEAM_BOXSCORE, TOGS, "points_scored", "points"),
        (phase2.GAMEBOOK, catalog.PGS, "points", "points"),
    ],
    ids=["team_boxscore", "gamebook"],
)
def test_a_corrected_later_load_wins(
    table: RawTable, output: str, column: str, raw_column: str, filled: Path, tmp_path: Path
) -> None:
    """The same kind with different values: a later load of the same keys corrects a stat
    (+1 point). The output takes the later load's value, never a sum of both."""
    path = tmp_path / "w.duckdb"
    shutil.copy(filled, path)
    spec = catalog.TABLES[output]
    key = spec.key_columns[-1]
    w = _open(path)
    try:
        before = dict(_rows(w, f"SELECT {key}, {column} FROM {output} WHERE game_date = @d"))
    finally:
        w.close()
    con = duckdb.connect(str(path))
    try:
        con.execute(
            f"INSERT INTO {table.name} SELECT * REPLACE ("
            f"processed_at + INTERVAL 1 HOUR AS processed_at, {raw_column} + 1 AS {raw_column}) "
            f"FROM {table.name} WHERE game_date = DATE '{DAY}'"
        )
    finally:
        con.close()
    w = _open(path)
    try:
        _fill(w, DAY, DAY)
        after = dict(_rows(w, f"SELECT {key}, {column} FROM {output} WHERE game_date = @d"))
    finally:
        w.close()
    scored = {k for k, v in before.items() if v}  # DNP rows are 0 whatever the gamebook says
    assert scored and set(after) == set(before)
    assert {k: after[k] for k in scored} == {k: before[k] + 1 for k in scored}
