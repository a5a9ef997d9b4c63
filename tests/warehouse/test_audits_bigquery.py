"""The audits on the BigQuery emulator: the same files, rendered for BigQuery and run as
written, return the same offending rows and counts as on DuckDB (tests/test_audits.py's
fixture: a NULL key, a key held three times, a player-game played without usage_rate)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.synthetic import Shape
from nba_backfill import audits
from nba_backfill.audits import KeyAudit
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.base import Loader, Warehouse
from nba_backfill.warehouse.bigquery import BigQueryWarehouse
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from tests.test_audits import D1, D2, D3, KEY_ROWS, KEYS, USAGE, USAGE_ROWS, nullable


def _load(wh: Loader) -> None:
    keys, usage = Shape(KEYS.contract), Shape(USAGE.contract)
    wh.load_raw(
        nullable(KEYS.contract),
        [keys.row(analysis_date=d, player_lookup=p) for d, p in KEY_ROWS],
    )
    wh.load_raw(
        nullable(USAGE.contract),
        [
            usage.row(game_date=d, player_lookup=p, minutes_played=m, usage_rate=u)
            for d, p, m, u in USAGE_ROWS
        ],
    )


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    wh = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(tmp_path / "w.duckdb")}))
    _load(wh)
    yield wh
    wh.close()


def _sorted(rows: list[dict[str, Any]]) -> list[tuple[tuple[str, Any], ...]]:
    return sorted((tuple(sorted(r.items())) for r in rows), key=repr)


def _findings(wh: Warehouse) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec, start, end in ((KEYS, D1, D2), (KEYS, D1, D3), (USAGE, D1, D3)):
        for name in spec.audits:
            rows = audits.offending_rows(wh, name, spec, start, end)
            out[f"{name} {spec.table} {start}..{end}"] = _sorted(rows)
        out[f"keys {spec.table} {start}..{end}"] = audits.key_counts(wh, spec, start, end)
        out[f"key dates {spec.table} {start}..{end}"] = audits.key_dates(wh, spec, start, end)
    out["usage"] = audits.usage_rate_counts(wh, USAGE, D1, D3)
    return out


def test_audits_find_the_same_rows_on_bigquery_as_on_duckdb(
    bq_warehouse: BigQueryWarehouse, duck: DuckDBWarehouse
) -> None:
    _load(bq_warehouse)
    ours = _findings(bq_warehouse)
    assert ours == _findings(duck)
    # Not vacuous: the fixture's offences are there, and a clean window passes.
    assert ours[f"keys {KEYS.table} {D1}..{D2}"] == KeyAudit(8, 2, 3)
    assert ours["usage"] == (3, 2)
    assert ours[f"key dates {KEYS.table} {D1}..{D3}"] == {
        D2: audits.DateKeys(2, 3),
        D3: audits.DateKeys(0, 1),
    }
    assert audits.offending_rows(bq_warehouse, "duplicate_keys", KEYS, D1, D1) == []
    assert bq_warehouse.key_audit(KEYS, D1, D1) == KeyAudit(2, 0, 0)
