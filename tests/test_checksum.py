"""bench.checksum: one query through ``fetch`` (DuckDB runs FARM_FINGERPRINT as its HASH),
equal for the same rows in any order and different when one value differs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlglot
from sqlglot import exp

from bench.checksum import checksum, checksum_sql, stable_columns
from devtools.synthetic import Shape
from nba_backfill.catalog import PSZA, TABLES
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

SPEC = TABLES[PSZA]
DAY = dt.date(2024, 1, 10)


def _warehouse(path: Path, players: list[tuple[str, int | None]]) -> DuckDBWarehouse:
    wh = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    shape = Shape(SPEC.contract)
    wh.load_raw(
        SPEC.contract,
        [shape.row(analysis_date=DAY, player_lookup=p, games_in_sample_10=n) for p, n in players],
    )
    return wh


def test_checksum_is_order_independent_and_sees_one_changed_value(tmp_path: Path) -> None:
    rows = [("ann", 10), ("bob", None), ("cid", 7)]
    a = _warehouse(tmp_path / "a.duckdb", rows)
    b = _warehouse(tmp_path / "b.duckdb", rows[::-1])
    c = _warehouse(tmp_path / "c.duckdb", [("ann", 10), ("bob", None), ("cid", 8)])
    try:
        first = checksum(a, SPEC, DAY, DAY)
        assert first[0] == 3
        assert checksum(b, SPEC, DAY, DAY) == first
        assert checksum(c, SPEC, DAY, DAY) != first
        assert checksum(c, SPEC, DAY, DAY)[0] == 3
        assert checksum(a, TABLES["nba_precompute.player_daily_cache"], DAY, DAY) == (0, "")
    finally:
        for wh in (a, b, c):
            wh.close()


def test_checksum_query_fingerprints_the_stable_columns_only() -> None:
    tree = sqlglot.parse_one(checksum_sql(SPEC), read="bigquery")
    (struct,) = tree.find_all(exp.Struct)
    assert tuple(c.name for c in struct.expressions) == stable_columns(SPEC)
    assert "processed_at" in SPEC.contract.column_names
    assert "processed_at" not in stable_columns(SPEC)
    assert {p.name for p in tree.find_all(exp.Parameter)} == {"start_date", "end_date"}
