"""team_defense_zone_analysis's columns beyond the zone rates, one test per column group of the
model's header, on a few hand-built rows: values worked out by hand from the platform's
processor (data_processors/precompute/team_defense_zone_analysis/).

The world: the season opens 2024-10-22; the date D is 2024-12-10 (AAA-BBB, CCC-DDD).
- AAA's defense played 12-01, 12-05 (both with play-by-play) and 12-08 (none: blocks NULL);
- BBB's opponents shot only in the paint (no mid-range, no three attempt), two games;
- CCC played 16 games (every other day from 11-09): the sample keeps the last 15.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from nba_backfill.catalog import TABLES, TDGS, TDZA, UPTG
from nba_backfill.phase2 import SCHEDULE
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from tests.sql.fixtures import insert_rows as _insert

from .fixtures import schedule_row

D = dt.date(2024, 12, 10)
OPENER = dt.date(2024, 10, 22)


def _defense(
    day: dt.date,
    team: str,
    zones: tuple[int, int, int, int, int, int],
    points: int,
    blocks: tuple[int, int, int] | None,
) -> dict[str, Any]:
    pa, pm, ma, mm, ta, tm = zones
    bp, bm, bt = blocks if blocks is not None else (None, None, None)
    return {
        "game_date": day,
        "defending_team_abbr": team,
        "season_year": 2024,
        "opp_paint_attempts": pa,
        "opp_paint_makes": pm,
        "opp_mid_range_attempts": ma,
        "opp_mid_range_makes": mm,
        "opp_three_pt_attempts": ta,
        "opp_three_pt_makes": tm,
        "points_allowed": points,
        "blocks_paint": bp,
        "blocks_mid_range": bm,
        "blocks_three_pt": bt,
        "defensive_rating": 110.0,
        "opponent_pace": 100.0,
    }


TDGS_ROWS = [
    _defense(dt.date(2024, 12, 1), "AAA", (20, 10, 10, 4, 30, 12), 110, (3, 1, 0)),
    _defense(dt.date(2024, 12, 5), "AAA", (22, 12, 8, 4, 28, 10), 104, (2, 0, 1)),
    _defense(dt.date(2024, 12, 8), "AAA", (18, 9, 12, 6, 32, 11), 99, None),
    _defense(dt.date(2024, 12, 2), "BBB", (40, 20, 0, 0, 0, 0), 40, (1, 0, 0)),
    _defense(dt.date(2024, 12, 6), "BBB", (44, 24, 0, 0, 0, 0), 48, (2, 0, 0)),
    *[
        _defense(
            dt.date(2024, 11, 9) + dt.timedelta(days=2 * k),
            "CCC",
            (20, 10, 10, 4, 30, 12),
            100 + k,
            (1, 1, 1),
        )
        for k in range(16)
    ],
]
UTGC_ROWS = [
    {"game_date": D, "team_abbr": t, "opponent_team_abbr": o}
    for t, o in (("AAA", "BBB"), ("BBB", "AAA"), ("CCC", "DDD"), ("DDD", "CCC"))
]


@pytest.fixture(scope="module")
def zones(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    path = tmp_path_factory.mktemp("tdza") / "w.duckdb"
    w = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    w.ensure_tables([TABLES[t] for t in (TDGS, UPTG, TDZA)])
    _insert(w, TDGS, TDGS_ROWS)
    _insert(w, UPTG, UTGC_ROWS)
    w.ensure_raw_tables([SCHEDULE])
    w.load_raw(
        SCHEDULE,
        [
            schedule_row(OPENER, "BBB", "AAA", nba_game_id="0022400001"),
            schedule_row(D, "BBB", "AAA", nba_game_id="0022400002"),
            schedule_row(D, "DDD", "CCC", nba_game_id="0022400003"),
        ],
    )
    w.replace_range(TABLES[TDZA], D, D)
    got = w.fetch(f"SELECT * FROM {TDZA}")
    yield {r["team_abbr"]: r for r in got}
    w.close()


def test_points_and_blocks_per_game(zones: dict) -> None:
    aaa = zones["AAA"]
    # Σ points_allowed / games; Σ blocks / games, the game without play-by-play adding 0;
    # stored as production's NUMERIC(5,1) / NUMERIC(4,1)
    assert float(aaa["opponent_points_per_game"]) == 104.3  # 313 / 3
    assert float(aaa["paint_blocks_per_game"]) == 1.7  # 5 / 3
    assert float(aaa["mid_range_blocks_per_game"]) == 0.3  # 1 / 3
    assert float(aaa["three_pt_blocks_per_game"]) == 0.3  # 1 / 3
    assert float(zones["BBB"]["opponent_points_per_game"]) == 44.0
    # CCC: the last 15 of its 16 games (points 101..115)
    assert float(zones["CCC"]["opponent_points_per_game"]) == 108.0
    assert float(zones["CCC"]["paint_blocks_per_game"]) == 1.0


def test_quality_tier_and_notes(zones: dict) -> None:
    # high >= 15 games, medium >= 10, low below
    assert zones["AAA"]["data_quality_tier"] == "low"
    assert zones["CCC"]["data_quality_tier"] == "high"
    assert zones["CCC"]["games_in_sample"] == 15
    # the zones without an attempt in the sample, in the processor's order
    assert zones["BBB"]["calculation_notes"] == "No mid-range attempts; No three-point attempts"
    assert zones["AAA"]["calculation_notes"] is None
    # the processor's regular rows leave the early-season columns NULL
    assert zones["AAA"]["early_season_flag"] is None
    assert zones["AAA"]["insufficient_data_reason"] is None
    assert "DDD" not in zones  # no prior game: no row


def test_backfill_mode_completeness_and_circuit_breaker(zones: dict) -> None:
    for team in ("AAA", "BBB", "CCC"):
        r = zones[team]
        assert (
            r["expected_games_count"],
            r["actual_games_count"],
            float(r["completeness_percentage"]),
            r["missing_games_count"],
            r["is_production_ready"],
            list(r["data_quality_issues"]),
        ) == (15, 15, 100.0, 0, True, [])
        assert (
            r["last_reprocess_attempt_at"],
            r["reprocess_attempt_count"],
            r["circuit_breaker_active"],
            r["circuit_breaker_until"],
            r["manual_override_required"],
            r["season_boundary_detected"],
            r["backfill_bootstrap_mode"],
            r["processing_decision_reason"],
        ) == (None, 0, False, None, False, False, False, "processed_successfully")
