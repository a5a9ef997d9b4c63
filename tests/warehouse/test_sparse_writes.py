"""One write of a scattered date set (a chunk whose planned dates have complete dates between
them): exactly those dates are replaced, in one job, and the dates between are not even
rewritten (they may hold production's own rows) — on the emulator under both write
strategies, and on DuckDB."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from bench.checksum import checksum
from nba_backfill.catalog import TABLES, TOGS
from nba_backfill.errors import UsageError
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.base import Warehouse
from nba_backfill.warehouse.bigquery import BigQueryWarehouse
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from tests.warehouse.test_bigquery import (  # noqa: F401 - module fixtures used below
    END,
    START,
    _plant,
    _seed,
    _teams,
    bq,
    phase2_rows,
    togs,
)

SPEC = TABLES[TOGS]
DAY = dt.timedelta(days=1)
# Written: the opener, the third day, and a day past the seeded games (its rows are orphans);
# between them the second and fourth days stay complete, the day after END holds a marker.
WRITE = [START, START + 2 * DAY, END + 2 * DAY]
KEEP = [START + DAY, END, END + DAY]
LO, HI = WRITE[0], WRITE[-1]


def _strategy(wh: BigQueryWarehouse, strategy: str) -> BigQueryWarehouse:
    settings = wh.settings.model_copy(
        update={"warehouse": wh.settings.warehouse.model_copy(update={"write_strategy": strategy})}
    )
    return BigQueryWarehouse(settings, client=wh.client)


def _state(wh: Warehouse, days: list[dt.date]) -> dict[dt.date, Any]:
    """What a rewrite would change on each of ``days``: its rows' checksum, write times and
    row profile."""
    written = wh.written_at(SPEC, LO, HI)
    profile = wh.date_profile(SPEC, LO, HI)
    return {d: (checksum(wh, SPEC, d, d), written.get(d), profile.get(d)) for d in days}


@pytest.mark.parametrize("strategy", ["merge", "transaction"])
def test_a_scattered_set_is_replaced_in_one_job_and_nothing_between(
    togs: BigQueryWarehouse,  # noqa: F811
    strategy: str,
) -> None:
    wh = _strategy(togs, strategy)
    profile = wh.date_profile(SPEC, LO, HI)
    written_before = {d: checksum(wh, SPEC, d, d) for d in WRITE[:2]}
    for day in (START + DAY, END + DAY, START + 2 * DAY, END + 2 * DAY):
        _plant(wh, day, "ZZZ")  # markers on kept dates, orphans on written ones
    try:
        kept = _state(wh, KEEP)
        jobs = wh.jobs_run
        result = wh.replace_range(SPEC, LO, HI, dates=WRITE)
        # Counting the emulator's rows is a job of its own; the write itself is one.
        assert wh.jobs_run - jobs == (2 if strategy == "merge" else 3)
        model_rows = sum(profile[d].rows for d in WRITE[:2])
        assert result.rows_deleted == model_rows + 2  # both orphans gone with the old rows
        assert result.rows_written == model_rows
        assert "ZZZ" not in _teams(wh, START + 2 * DAY) and _teams(wh, END + 2 * DAY) == set()
        # The dates between: markers still there, the same rows, the same write times.
        assert all("ZZZ" in _teams(wh, d) for d in (START + DAY, END + DAY))
        assert _state(wh, KEEP) == kept
        assert {d: checksum(wh, SPEC, d, d) for d in WRITE[:2]} == written_before
        rerun = wh.replace_range(SPEC, LO, HI, dates=WRITE)
        assert (rerun.rows_deleted, rerun.rows_written) == (model_rows, model_rows)
        assert {d: checksum(wh, SPEC, d, d) for d in WRITE[:2]} == written_before
        assert _state(wh, KEEP) == kept
    finally:
        wh.delete_dates(SPEC, [END + DAY, END + 2 * DAY])
        wh.replace_range(SPEC, START, END)


def test_the_sparse_merge_is_one_statement_with_a_date_array(togs: BigQueryWarehouse) -> None:  # noqa: F811
    statement = togs.merge_statement(SPEC, sparse=True)
    trees = sqlglot.parse(statement, read="bigquery")
    assert len(trees) == 1 and isinstance(trees[0], exp.Merge)
    delete = trees[0].args["whens"].expressions[0]
    assert delete.args["condition"].sql(dialect="bigquery") == (
        "`T`.`game_date` BETWEEN @start_date AND @end_date AND `T`.`game_date` IN UNNEST(@dates)"
    )
    assert statement.count("IN UNNEST(@dates)") == 2  # the model's output filtered too


def test_dates_outside_the_window_are_refused(togs: BigQueryWarehouse) -> None:  # noqa: F811
    with pytest.raises(UsageError, match="not within"):
        togs.replace_range(SPEC, START, END, dates=[START, END + DAY])


@pytest.fixture
def duck(tmp_path: Path, phase2_rows: dict[str, list[tuple[Any, ...]]]) -> Iterator[Warehouse]:  # noqa: F811
    wh = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(tmp_path / "w.duckdb")}))
    _seed(wh, phase2_rows)
    wh.ensure_tables([SPEC])
    wh.replace_range(SPEC, START, END)
    yield wh
    wh.close()


def test_duckdb_replaces_only_the_set_in_one_transaction(duck: DuckDBWarehouse) -> None:
    """DuckDB likewise: a kept date's rows (marked by an UPDATE of a stable column) survive,
    the written dates are rewritten from the model, a rerun is identical."""
    middle = START + DAY
    duck.fetch(
        f"UPDATE {TOGS} SET points_scored = points_scored + 1000 WHERE game_date = @d",
        {"d": middle},
    )
    kept = _state(duck, [middle, END])
    written = {d: checksum(duck, SPEC, d, d) for d in WRITE[:2]}
    profile = duck.date_profile(SPEC, LO, HI)
    jobs = duck.jobs_run
    result = duck.replace_range(SPEC, START, START + 2 * DAY, dates=WRITE[:2])
    assert duck.jobs_run - jobs == 1
    rows = sum(profile[d].rows for d in WRITE[:2])
    assert (result.rows_deleted, result.rows_written) == (rows, rows)
    assert _state(duck, [middle, END]) == kept
    assert {d: checksum(duck, SPEC, d, d) for d in WRITE[:2]} == written
    again = duck.replace_range(SPEC, START, START + 2 * DAY, dates=WRITE[:2])
    assert (again.rows_deleted, again.rows_written) == (rows, rows)
    assert _state(duck, [middle, END]) == kept
