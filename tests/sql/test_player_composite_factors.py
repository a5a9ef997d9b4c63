"""player_composite_factors' columns beyond the four active scores, one test per column group of
the model's header, on a few hand-built rows: values worked out by hand from the platform's
processor (data_processors/precompute/player_composite_factors/).

The world: teams AAA (at home) and BBB play on 2024-12-10 (the season opened 10-22, so the date
is past the bootstrap).
- p1 (AAA): fully rested context row, a shot-zone row (paint, 60 % of his shots) and BBB's
  zone-defense row (paint +10 points vs the league): every completeness check passes;
- p2 (AAA): no days_rest, no projected usage, no shot-zone row; 4 games and 300 minutes in the
  last 7 days (fatigue 29);
- p3 (BBB): AAA has no zone-defense row; projected usage and pace differential known.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from nba_backfill.catalog import PCF, PGS, PSZA, TABLES, TDZA, UPCG, UPTG
from nba_backfill.phase2 import SCHEDULE
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from tests.sql.fixtures import insert_rows as _insert

from .fixtures import schedule_row

D = dt.date(2024, 12, 10)
OPENER = dt.date(2024, 10, 22)


def _context(p: str, team: str, opp: str, **values: Any) -> dict[str, Any]:
    row = {
        "game_date": D,
        "player_lookup": p,
        "team_abbr": team,
        "opponent_team_abbr": opp,
        "game_id": "20241210_BBB_AAA",
        "days_rest": 2,
        "back_to_back": False,
        "games_in_last_7_days": 2,
        "games_in_last_14_days": 4,
        "minutes_in_last_7_days": 60,
        "minutes_in_last_14_days": 120,
        "projected_usage_rate": 25.0,
        "pace_differential": 1.0,
    }
    return {**row, **values}


UPCG_ROWS = [
    _context("p1", "AAA", "BBB", universal_player_id="p1_001"),
    _context(
        "p2",
        "AAA",
        "BBB",
        days_rest=None,
        projected_usage_rate=None,
        games_in_last_7_days=4,
        minutes_in_last_7_days=300,
    ),
    _context("p3", "BBB", "AAA"),
]
UPTG_ROWS = [
    {"game_date": D, "team_abbr": t, "opponent_team_abbr": o, "game_id": "20241210_BBB_AAA"}
    for t, o in (("AAA", "BBB"), ("BBB", "AAA"))
]
PSZA_ROWS = [
    {
        "analysis_date": D,
        "player_lookup": "p1",
        "primary_scoring_zone": "paint",
        "paint_rate_last_10": 60.0,
        "mid_range_rate_last_10": 20.0,
        "three_pt_rate_last_10": 20.0,
    },
    {
        "analysis_date": D,
        "player_lookup": "p3",
        "primary_scoring_zone": "paint",
        "paint_rate_last_10": 50.0,
        "mid_range_rate_last_10": 25.0,
        "three_pt_rate_last_10": 25.0,
    },
]
TDZA_ROWS = [
    {
        "analysis_date": D,
        "team_abbr": "BBB",
        "paint_defense_vs_league_avg": 10.0,
        "mid_range_defense_vs_league_avg": 0.0,
        "three_pt_defense_vs_league_avg": 0.0,
        "opponent_pace": 100.0,
    }
]


@pytest.fixture(scope="module")
def pcf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    path = tmp_path_factory.mktemp("pcf") / "w.duckdb"
    w = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    w.ensure_tables([TABLES[t] for t in (PGS, UPCG, UPTG, PSZA, TDZA, PCF)])
    _insert(w, UPCG, UPCG_ROWS)
    _insert(w, UPTG, UPTG_ROWS)
    _insert(w, PSZA, PSZA_ROWS)
    _insert(w, TDZA, TDZA_ROWS)
    w.ensure_raw_tables([SCHEDULE])
    w.load_raw(
        SCHEDULE,
        [
            schedule_row(d, "BBB", "AAA", nba_game_id=f"002240000{i}")
            for i, d in enumerate((OPENER, D))
        ],
    )
    w.replace_range(TABLES[PCF], D, D)
    got = w.fetch(f"SELECT * FROM {PCF}")
    yield {r["player_lookup"]: r for r in got}
    w.close()


def test_deferred_factors_and_version(pcf: dict) -> None:
    # factors/deferred_factors.py: four placeholders at 0.0 (v1_4factors), added to the total
    for r in pcf.values():
        assert [
            float(r[c])
            for c in (
                "referee_favorability_score",
                "look_ahead_pressure_score",
                "travel_impact_score",
                "opponent_strength_score",
            )
        ] == [0.0] * 4
        assert r["calculation_version"] == "v1_4factors"
        assert r["early_season_flag"] is False and r["insufficient_data_reason"] is None
    p1 = pcf["p1"]
    parts = ("shot_zone_mismatch_score", "pace_score", "usage_spike_score")
    total = (p1["fatigue_score"] - 100) / 20 + sum(float(p1[c]) for c in parts)
    assert float(p1["total_composite_adjustment"]) == pytest.approx(total, abs=0.01)


def test_data_completeness_and_missing_fields(pcf: dict) -> None:
    # _calculate_completeness: 5 checks, passed / 5 x 100; the failed ones joined with ', '
    assert float(pcf["p1"]["data_completeness_pct"]) == 100.0
    assert pcf["p1"]["missing_data_fields"] is None
    # p2: days_rest, projected_usage_rate and his shot-zone row missing: 2 / 5
    assert float(pcf["p2"]["data_completeness_pct"]) == 40.0
    missing = "days_rest, projected_usage_rate, player_shot_zone"
    assert pcf["p2"]["missing_data_fields"] == missing
    # p3: his opponent AAA has no zone-defense row: 4 / 5
    assert float(pcf["p3"]["data_completeness_pct"]) == 80.0
    assert pcf["p3"]["missing_data_fields"] == "team_defense_zone"


def test_warnings(pcf: dict) -> None:
    # _check_warnings: p1's mismatch is 200 x 0.60 x 0.10 = 12 -> 10 (clamped) > 8
    p1 = pcf["p1"]
    assert float(p1["shot_zone_mismatch_score"]) == 10.0
    assert p1["has_warnings"] is True
    assert p1["warning_details"] == "EXTREME_MATCHUP: Unusual zone mismatch"
    # p2: fatigue 100 - 5 x 2 (4 games in 7 days) - 0.2 x 220 (300 minutes) = 46 < 50
    p2 = pcf["p2"]
    assert p2["fatigue_score"] == 46
    assert p2["has_warnings"] is True
    assert p2["warning_details"] == "EXTREME_FATIGUE: Player showing severe fatigue"
    # p3: nothing extreme
    assert pcf["p3"]["has_warnings"] is False and pcf["p3"]["warning_details"] is None


def test_backfill_mode_completeness_and_upstreams(pcf: dict) -> None:
    # calculate_precompute / _query_upstream_completeness in backfill mode: checks skipped
    for r in pcf.values():
        assert (
            r["expected_games_count"],
            r["actual_games_count"],
            r["missing_games_count"],
            float(r["completeness_percentage"]),
        ) == (1, 1, 0, 100.0)
        assert r["is_production_ready"] is True
        assert list(r["data_quality_issues"]) == []
        assert all(
            r[c]
            for c in (
                "upstream_player_shot_ready",
                "upstream_team_defense_ready",
                "upstream_player_context_ready",
                "upstream_team_context_ready",
                "all_upstreams_ready",
            )
        )
        assert r["season_boundary_detected"] is False
        assert r["backfill_bootstrap_mode"] is False


def test_circuit_breaker_of_a_first_processing(pcf: dict) -> None:
    for r in pcf.values():
        assert r["reprocess_attempt_count"] == 0
        assert r["circuit_breaker_active"] is False and r["manual_override_required"] is False
        assert r["circuit_breaker_until"] is None and r["last_reprocess_attempt_at"] is None
        assert r["processing_decision_reason"] == "processed_successfully"


def test_universal_player_id_from_the_context(pcf: dict) -> None:
    # _calculate_player_composite copies the context row's registry id, NULL when it has none
    assert pcf["p1"]["universal_player_id"] == "p1_001"
    assert pcf["p2"]["universal_player_id"] is None
