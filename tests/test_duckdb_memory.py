"""The embedded warehouse's memory cap: one setting, applied to every connection the adapter
opens (the first, and the one reopened after a hand-off to an external processor); a value
DuckDB cannot read is refused when the settings load."""

from __future__ import annotations

from pathlib import Path

import pytest

from nba_backfill.errors import UsageError
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse


def _limit(w: DuckDBWarehouse) -> str:
    return str(w.fetch("SELECT current_setting('memory_limit') AS m")[0]["m"])


@pytest.mark.parametrize(("given", "shown"), [("256MB", "244.1 MiB"), ("1GiB", "1.0 GiB")])
def test_every_connection_takes_the_cap(tmp_path: Path, given: str, shown: str) -> None:
    s = load_settings(
        warehouse={"duckdb_path": str(tmp_path / "w.duckdb"), "duckdb_memory_limit": given}
    )
    w = DuckDBWarehouse(s)
    try:
        assert _limit(w) == shown
        with w.handoff():
            pass
        assert _limit(w) == shown  # the reopened connection too
    finally:
        w.close()


def test_a_value_duckdb_cannot_read_is_refused() -> None:
    with pytest.raises((UsageError, ValueError)):
        load_settings(warehouse={"duckdb_memory_limit": "lots"})
