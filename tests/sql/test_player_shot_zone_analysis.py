"""player_shot_zone_analysis's columns beyond the zone rates, one test per column group of the
model's header, on a few hand-built rows: values worked out by hand from the platform's
processor (data_processors/precompute/player_shot_zone_analysis/).

The world: the season opens 2024-10-22; D is day 20 of it (2024-11-11: production's minimum is
LEAST(3 + 20 DIV 3, 9) = 9 games, the model's 5), D2 day 40 (2024-12-01: both 10).
- p1 played 12 games (10-23 .. 11-03), each 4 FGM (3 assisted, 1 not), all zones tracked;
- p2 played 6 games without a mid-range count (NULL): his zone data is incomplete;
- p3 played 8 games, one without play-by-play (zone and assisted counts NULL, 4 FGM), the
  others 4 FGM (2 assisted, 2 not).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from nba_backfill.catalog import PGS, PSZA, TABLES, UPCG
from nba_backfill.phase2 import SCHEDULE
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from tests.sql.fixtures import insert_rows as _insert

from .fixtures import schedule_row

OPENER = dt.date(2024, 10, 22)
D = OPENER + dt.timedelta(days=20)
D2 = OPENER + dt.timedelta(days=40)
_ZONES = ("paint_attempts", "paint_makes", "mid_range_attempts", "mid_range_makes")
_THREES = ("three_attempts_pbp", "three_makes_pbp")


def _game(p: str, day: dt.date, *, ast: int | None, unast: int | None, **over: Any) -> dict:
    row: dict[str, Any] = {
        "game_date": day,
        "player_lookup": p,
        "team_abbr": "AAA",
        "season_year": 2024,
        "minutes_played": 30.0,
        "paint_attempts": 4,
        "paint_makes": 2,
        "mid_range_attempts": 2,
        "mid_range_makes": 1,
        "three_attempts_pbp": 4,
        "three_makes_pbp": 1,
        "fg_makes": 4,
        "assisted_fg_makes": ast,
        "unassisted_fg_makes": unast,
    }
    row.update(over)
    return row


def _day(k: int) -> dt.date:
    return OPENER + dt.timedelta(days=k)


NO_PBP = dict.fromkeys(_ZONES + _THREES)
PGS_ROWS = [
    *[_game("p1", _day(1 + k), ast=3, unast=1) for k in range(12)],
    *[
        _game("p2", _day(3 + k), ast=2, unast=2, mid_range_attempts=None, mid_range_makes=None)
        for k in range(6)
    ],
    *[_game("p3", _day(2 + k), ast=2, unast=2) for k in range(7)],
    _game("p3", _day(9), ast=None, unast=None, **NO_PBP),
]
UPCG_ROWS = [
    {"game_date": d, "player_lookup": p, "team_abbr": "AAA", "opponent_team_abbr": "BBB"}
    for d in (D, D2)
    for p in ("p1", "p2", "p3")
]


@pytest.fixture(scope="module")
def zones(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple, dict[str, Any]]]:
    path = tmp_path_factory.mktemp("psza") / "w.duckdb"
    w = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    w.ensure_tables([TABLES[t] for t in (PGS, UPCG, PSZA)])
    _insert(w, PGS, PGS_ROWS)
    _insert(w, UPCG, UPCG_ROWS)
    w.ensure_raw_tables([SCHEDULE])
    w.load_raw(
        SCHEDULE,
        [
            schedule_row(d, "BBB", "AAA", nba_game_id=f"00224{i:05d}")
            for i, d in enumerate((OPENER, D, D2))
        ],
    )
    w.replace_range(TABLES[PSZA], D, D2)
    got = w.fetch(f"SELECT * FROM {PSZA}")
    yield {(r["analysis_date"], r["player_lookup"]): r for r in got}
    w.close()


def test_assisted_and_unassisted_rates(zones: dict) -> None:
    # Σ assisted (unassisted) FGM / Σ FGM of the last 10 × 100: 30 / 40, 10 / 40
    p1 = zones[(D, "p1")]
    assert (float(p1["assisted_rate_last_10"]), float(p1["unassisted_rate_last_10"])) == (
        75.0,
        25.0,
    )
    # the game without play-by-play adds its 4 FGM, not its (NULL) assisted ones: 14 / 32
    p3 = zones[(D, "p3")]
    assert float(p3["assisted_rate_last_10"]) == 43.75
    assert float(p3["unassisted_rate_last_10"]) == 43.75
    # no mid-range count in any game: the zone data is incomplete, no rate
    p2 = zones[(D, "p2")]
    assert (p2["assisted_rate_last_10"], p2["unassisted_rate_last_10"]) == (None, None)


def test_sample_quality(zones: dict) -> None:
    # 10-game window: excellent 10, good >= 7, limited >= 5; 20-game: 20 / 14 / 10
    got = {
        p: (zones[(D, p)]["sample_quality_10"], zones[(D, p)]["sample_quality_20"])
        for p in ("p1", "p2", "p3")
    }
    assert got == {
        "p1": ("excellent", "limited"),  # 10 of 12, 12 games
        "p2": ("limited", "insufficient"),  # 6
        "p3": ("good", "insufficient"),  # 8
    }


def test_quality_tier_and_early_season(zones: dict) -> None:
    # day 20: production's minimum is 9 (high), medium >= 7, low below; early season
    tiers = {p: zones[(D, p)]["data_quality_tier"] for p in ("p1", "p2", "p3")}
    assert tiers == {"p1": "high", "p2": "low", "p3": "medium"}
    assert all(zones[(D, p)]["early_season_flag"] for p in ("p1", "p2", "p3"))
    # day 40: minimum 10, no longer early season; p2 / p3 lack the model's 10 games
    assert zones[(D2, "p1")]["data_quality_tier"] == "high"
    assert zones[(D2, "p1")]["early_season_flag"] is False
    assert {k for k in zones if k[0] == D2} == {(D2, "p1")}
    p1 = zones[(D, "p1")]
    assert (p1["player_position"], p1["calculation_notes"], p1["insufficient_data_reason"]) == (
        None,
        None,
        None,
    )


def test_backfill_mode_completeness_and_circuit_breaker(zones: dict) -> None:
    # expected = actual = his games loaded (at most 20)
    for p, games in (("p1", 12), ("p2", 6), ("p3", 8)):
        r = zones[(D, p)]
        assert (
            r["expected_games_count"],
            r["actual_games_count"],
            float(r["completeness_percentage"]),
            r["missing_games_count"],
            r["is_production_ready"],
            list(r["data_quality_issues"]),
        ) == (games, games, 100.0, 0, True, [])
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
