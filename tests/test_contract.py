"""Production's contract as the project holds it: equal to the shared copy, read as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nba_backfill import contract
from nba_backfill.catalog import TABLES

SHARED = Path(__file__).resolve().parents[2] / "shared" / "contract" / "warehouse.json"


@pytest.mark.skipif(not SHARED.exists(), reason=f"no shared contract at {SHARED}")
def test_contract_equals_the_shared_copy():
    ours = json.loads(contract.CONTRACT_PATH.read_text(encoding="utf-8"))
    assert ours == json.loads(SHARED.read_text(encoding="utf-8"))


def test_every_catalog_table_is_a_contract_output_and_back():
    assert set(TABLES) == set(contract.output_names())


def test_production_column_counts():
    # 943 live output columns: the figure the production-contract issue measured against;
    # the feature store's 12 V18 migration columns are optional until promoted.
    live = sum(len(contract.table(n).live_columns) for n in contract.output_names())
    assert live == 943
    mlfs = contract.table("nba_predictions.ml_feature_store_v2")
    assert len(mlfs.columns) - len(mlfs.live_columns) == 12
    assert all("feature_6" in c.name for c in mlfs.columns if c.optional)


@pytest.mark.parametrize(
    ("table", "column", "type_", "mode"),
    [
        ("nba_analytics.team_offense_game_summary", "home_game", "BOOL", "REQUIRED"),
        ("nba_analytics.team_offense_game_summary", "offensive_rating", "NUMERIC(6,2)", "NULLABLE"),
        ("nba_analytics.team_offense_game_summary", "quality_issues", "ARRAY<STRING>", "REPEATED"),
        ("nba_analytics.player_game_summary", "minutes_played", "NUMERIC(5,1)", "NULLABLE"),
        ("nba_predictions.ml_feature_store_v2", "features", "ARRAY<FLOAT64>", "REPEATED"),
    ],
)
def test_types_and_modes_are_normalised(table, column, type_, mode):
    col = contract.table(table).column(column)
    assert (col.type, col.mode) == (type_, mode)


def test_catalog_storage_facts_come_from_the_contract():
    pdc = TABLES["nba_precompute.player_daily_cache"]
    assert pdc.date_column == "cache_date"
    assert pdc.partition_expiration_days == 30
    assert TABLES["nba_analytics.team_offense_game_summary"].require_partition_filter
    assert not TABLES["nba_analytics.team_defense_game_summary"].require_partition_filter
