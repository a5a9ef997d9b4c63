"""Unparseable gamebook minutes on the BigQuery emulator: player_game_summary's parsing rule
(REGEXP_CONTAINS, SAFE_CAST) written once in BigQuery SQL gives the same minutes_played —
NULL for a value that does not parse — and the same unparsed_minutes audit rows as DuckDB."""

from __future__ import annotations

from pathlib import Path

from nba_backfill import audits
from nba_backfill.catalog import PGS, TABLES, TOGS
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.base import Warehouse
from nba_backfill.warehouse.bigquery import BigQueryWarehouse
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from tests.sql.test_unparsed_values import BAD, CLEAN, DAY, messy_phase2


def _fill(wh: Warehouse) -> tuple[list[tuple[object, ...]], list[object]]:
    messy_phase2().load(wh)
    specs = [TABLES[TOGS], TABLES[PGS]]
    wh.ensure_tables(specs)
    for spec in specs:
        wh.replace_range(spec, DAY, CLEAN)
    rows = wh.fetch(
        f"SELECT player_lookup, minutes_played, starter_flag FROM {PGS} "
        "WHERE game_date BETWEEN @s AND @e ORDER BY player_lookup",
        {"s": DAY, "e": CLEAN},
    )
    found = audits.offending_rows(wh, "unparsed_minutes", TABLES[PGS], DAY, CLEAN)
    return [tuple(r.values()) for r in rows], sorted(r["player_lookup"] for r in found)


def test_unparsed_minutes_match_duckdb(bq_warehouse: BigQueryWarehouse, tmp_path: Path) -> None:
    duck = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(tmp_path / "w.duckdb")}))
    try:
        expected = _fill(duck)
    finally:
        duck.close()
    got = _fill(bq_warehouse)
    assert got == expected
    assert got[1] == sorted(BAD)
