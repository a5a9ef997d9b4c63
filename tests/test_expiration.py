"""Production's partition expiration: dates a table would drop on arrival are skipped with the
reason (never written), do not block the tables that read them, and validation does not count
them as missing."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill.catalog import MLFS, PCF, PDC, PSZA, TABLES, TDZA, TOGS
from nba_backfill.planner import Planner
from nba_backfill.readiness import expired_through
from nba_backfill.settings import Settings, load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from tests.conftest import SLICE_END, SLICE_START

# 2021-11-25 + 30 days: player_daily_cache partitions up to 2021-11-25 are gone on arrival,
# the zone tables' (90 days) are not.
TODAY = dt.date(2021, 12, 25)


@pytest.fixture
def contract_wh(seeded: Settings) -> DuckDBWarehouse:
    settings = load_settings(
        warehouse={
            "duckdb_path": str(seeded.warehouse.duckdb_path),
            "duckdb_partition_expiration": "contract",
        }
    )
    wh = DuckDBWarehouse(settings)
    yield wh
    wh.close()


def test_expired_through_reads_the_contract_on_duckdb(contract_wh: DuckDBWarehouse) -> None:
    assert expired_through(contract_wh, TABLES[PDC], TODAY) == dt.date(2021, 11, 25)
    assert expired_through(contract_wh, TABLES[PSZA], TODAY) == dt.date(2021, 9, 26)
    assert expired_through(contract_wh, TABLES[TOGS], TODAY) is None


def test_lifted_expiration_expires_nothing(seeded: Settings) -> None:
    wh = DuckDBWarehouse(seeded)  # the test default: "none"
    try:
        assert expired_through(wh, TABLES[PDC], TODAY) is None
    finally:
        wh.close()


def test_planner_skips_expiring_dates_with_the_reason(contract_wh: DuckDBWarehouse) -> None:
    plan = Planner(contract_wh, today=TODAY).plan(SLICE_START, SLICE_END, chunk_days=31)
    pdc = plan.tables[PDC]
    gone = {d for d, why in pdc.skipped.items() if why.startswith("expires on arrival")}
    assert gone and max(gone) <= dt.date(2021, 11, 25)
    assert all("30 days" in pdc.skipped[d] for d in gone)
    assert not gone & set(pdc.to_fill) and not gone & set(pdc.expected)
    # Every later non-bootstrap date is still planned.
    later = [d for d in pdc.expected if d > dt.date(2021, 11, 25)]
    assert later and set(later) <= set(pdc.to_fill)
    # Tables that read player_daily_cache on those dates are not blocked by it.
    for name in (PCF, MLFS):
        blocked = [why for why in plan.tables[name].skipped.values() if PDC in why]
        assert blocked == [], name
    # The zone tables keep 90 days: nothing of this slice expires for them on TODAY.
    for name in (PSZA, TDZA):
        assert not any(w.startswith("expires") for w in plan.tables[name].skipped.values())
