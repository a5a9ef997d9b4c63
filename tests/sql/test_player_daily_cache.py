"""player_daily_cache's columns beyond the rolling form, one test per column group of the
model's header, on a few hand-built rows: values worked out by hand from the platform's
processor (data_processors/precompute/player_daily_cache/ and shared/utils/
completeness_checker.py).

The world: teams AAA and BBB; AAA's final games on 2024-06-15 (last season's playoffs),
10-22 (opener), 11-12, 12-01, 12-02, 12-05, 12-06, 12-08, and the date itself, 12-10.
- p1 played 06-15, 12-01, 12-02, 12-06, 12-08 and sat 12-05 (DNP: gamebook '00:00',
  player_game_summary minutes 0);
- p3 played 12-08 only, inactive 12-05 (gamebook minutes NULL, no player_game_summary row);
- p2 has no history at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from nba_backfill.catalog import PDC, PGS, PSZA, TABLES, TOGS, UPCG
from nba_backfill.phase2 import GAMEBOOK, SCHEDULE
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from tests.sql.fixtures import insert_rows as _insert

from .fixtures import raw_row, schedule_row

D = dt.date(2024, 12, 10)
D2 = dt.date(2024, 11, 12)
AAA_GAMES = [
    dt.date(2024, 6, 15),
    dt.date(2024, 10, 22),
    D2,
    dt.date(2024, 12, 1),
    dt.date(2024, 12, 2),
    dt.date(2024, 12, 5),
    dt.date(2024, 12, 6),
    dt.date(2024, 12, 8),
    D,
]


def _game(day: dt.date, p: str, **stats: Any) -> dict[str, Any]:
    season = day.year if day.month >= 10 else day.year - 1
    return {
        "game_date": day,
        "player_lookup": p,
        "team_abbr": "AAA",
        "season_year": season,
        **stats,
    }


def _played(day: dt.date, p: str, pts: int, fgm: int, ast: int, usage: float | None) -> dict:
    return _game(
        day,
        p,
        minutes_played=30.0,
        points=pts,
        fg_makes=fgm,
        fg_attempts=2 * fgm,
        ft_attempts=0,
        assisted_fg_makes=ast,
        usage_rate=usage,
    )


PGS_ROWS = [
    _played(dt.date(2024, 6, 15), "p1", 30, 12, 6, 35.0),
    _played(dt.date(2024, 12, 1), "p1", 20, 8, 4, 25.0),
    _played(dt.date(2024, 12, 2), "p1", 10, 4, 3, 20.0),
    _game(dt.date(2024, 12, 5), "p1", minutes_played=0.0, points=0, fg_makes=0),
    _played(dt.date(2024, 12, 6), "p1", 15, 6, 0, None),
    _played(dt.date(2024, 12, 8), "p1", 12, 5, 2, 30.0),
    _played(dt.date(2024, 12, 8), "p3", 8, 3, 1, 15.0),
]
UPCG_ROWS = [
    {
        "game_date": d,
        "player_lookup": p,
        "team_abbr": "AAA",
        "opponent_team_abbr": "BBB",
        "games_in_last_7_days": 3,
        "games_in_last_14_days": 4,
        "minutes_in_last_7_days": 84,
        "minutes_in_last_14_days": 114,
        "avg_minutes_per_game_last_7": 28.0,
    }
    for d in (D2, D)
    for p in ("p1", "p2", "p3")
]
PSZA_ROWS = [
    {
        "analysis_date": D,
        "player_lookup": "p1",
        "primary_scoring_zone": "paint",
        "paint_rate_last_10": 52.5,
        "three_pt_rate_last_10": 20.0,
    }
]
GAMEBOOK_ROWS = [
    ("p1", dt.date(2024, 12, 1), "active", "30:00"),
    ("p1", dt.date(2024, 12, 2), "active", "25:00"),
    ("p1", dt.date(2024, 12, 5), "dnp", "00:00"),
    ("p1", dt.date(2024, 12, 6), "active", "28:00"),
    ("p1", dt.date(2024, 12, 8), "active", "31:00"),
    ("p3", dt.date(2024, 12, 5), "inactive", None),
    ("p3", dt.date(2024, 12, 8), "active", "20:00"),
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple, dict[str, Any]]]:
    path = tmp_path_factory.mktemp("pdc") / "w.duckdb"
    w = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    w.ensure_tables([TABLES[t] for t in (PGS, TOGS, UPCG, PSZA, PDC)])
    _insert(w, PSZA, PSZA_ROWS)
    _insert(w, PGS, PGS_ROWS)
    _insert(w, UPCG, UPCG_ROWS)
    w.ensure_raw_tables([SCHEDULE, GAMEBOOK])
    w.load_raw(
        SCHEDULE,
        [
            schedule_row(
                d,
                "BBB",
                "AAA",
                nba_game_id=f"00{4 if d.month == 6 else 2}24{i:05d}",
                regular=d.month != 6,
                playoffs=d.month == 6,
            )
            for i, d in enumerate(AAA_GAMES)
        ],
    )
    w.load_raw(
        GAMEBOOK,
        [
            raw_row(
                GAMEBOOK,
                game_id=f"{d:%Y%m%d}_BBB_AAA",
                game_date=d,
                season_year=2024,
                player_name_original=p,
                player_lookup=p,
                team_abbr="AAA",
                player_status=status,
                minutes=minutes,
            )
            for p, d, status, minutes in GAMEBOOK_ROWS
        ],
    )
    w.replace_range(TABLES[PDC], D2, D)
    got = w.fetch(f"SELECT * FROM {PDC}")
    yield {(r["cache_date"], r["player_lookup"]): r for r in got}
    w.close()


def test_season_usage_and_assisted_rate(cache: dict) -> None:
    p1 = cache[(D, "p1")]
    # usage: this season's non-NULL usage rates (30, 20, 25; 12-06's is NULL, June's is last
    # season's); assisted: Σ assisted FGM / Σ FGM of his last 10 played games = 15 / 35
    assert float(p1["player_usage_rate_season"]) == 25.0
    assert float(p1["assisted_rate_last_10"]) == pytest.approx(15 / 35, abs=0.005)
    assert cache[(D, "p2")]["assisted_rate_last_10"] is None  # no field goals: no rate


def test_fatigue_copied_from_the_context_and_back_to_backs(cache: dict) -> None:
    p1 = cache[(D, "p1")]
    assert (
        p1["games_in_last_7_days"],
        p1["games_in_last_14_days"],
        p1["minutes_in_last_7_days"],
        p1["minutes_in_last_14_days"],
        float(p1["avg_minutes_per_game_last_7"]),
    ) == (3, 4, 84, 114, 28.0)
    # played on 12-01, 12-02, 12-06, 12-08 (12-05 a DNP): one pair of consecutive days
    assert p1["back_to_backs_last_14_days"] == 1
    assert cache[(D, "p2")]["back_to_backs_last_14_days"] == 0
    assert p1["fourth_quarter_minutes_last_7"] is None  # the context processor writes None


def test_early_season_flag_and_reason(cache: dict) -> None:
    p1, p2 = cache[(D, "p1")], cache[(D, "p2")]
    assert p1["games_played_season"] == 4 and p1["early_season_flag"] is True
    assert p1["insufficient_data_reason"] == "Only 4 games played, need 10 minimum"
    assert p2["insufficient_data_reason"] == "Only 0 games played, need 10 minimum"


def test_completeness_windows_dnp_aware(cache: dict) -> None:
    # Break before 12-10: last game 12-08, one no-game day: L7d = 8 days, L14d = 15 days.
    # AAA's expected: L5 5, L10 8 (all it has), L7d 4 (12-02..12-08), L14d 5 (+12-01).
    # p1: actual 5 (30 days, his DNP row counted), 4 (L7d), 5 (L14d); one DNP in each window.
    p1 = cache[(D, "p1")]
    assert (p1["expected_games_count"], p1["actual_games_count"]) == (5, 5)
    assert p1["missing_games_count"] == 0
    assert p1["completeness_percentage"] == 125.0  # 5 / (5 - 1), not capped by the checker
    assert (
        p1["l5_completeness_pct"],
        p1["l10_completeness_pct"],
        p1["l7d_completeness_pct"],
        p1["l14d_completeness_pct"],
    ) == (125.0, 71.4, 133.3, 125.0)
    assert p1["l10_is_complete"] is True and p1["all_windows_complete"] is True
    assert p1["is_production_ready"] is True
    # p3: one game, one inactive (NULL minutes) game: 1/4, 1/7, 1/3, 1/4.
    p3 = cache[(D, "p3")]
    assert (
        p3["l5_completeness_pct"],
        p3["l10_completeness_pct"],
        p3["l7d_completeness_pct"],
        p3["l14d_completeness_pct"],
    ) == (25.0, 14.3, 33.3, 25.0)
    assert p3["missing_games_count"] == 3 and p3["l5_is_complete"] is False
    assert p3["is_production_ready"] is False and p3["all_windows_complete"] is False
    # p2: no team found, nothing expected: complete.
    p2 = cache[(D, "p2")]
    assert (p2["expected_games_count"], p2["completeness_percentage"]) == (0, 100.0)
    assert p2["is_production_ready"] is True
    assert p1["data_quality_issues"] == []


def test_circuit_breaker_and_bootstrap(cache: dict) -> None:
    p1 = cache[(D, "p1")]
    assert p1["reprocess_attempt_count"] == 0
    assert p1["circuit_breaker_active"] is False and p1["circuit_breaker_until"] is None
    assert p1["last_reprocess_attempt_at"] is None and p1["manual_override_required"] is False
    assert p1["processing_decision_reason"] == "processed_successfully"
    assert p1["cache_version"] == "v1"
    # December: no season boundary; 70 days after October 1: no bootstrap. November is a
    # boundary month for the checker.
    assert p1["season_boundary_detected"] is False and p1["backfill_bootstrap_mode"] is False
    nov = cache[(D2, "p1")]
    assert nov["season_boundary_detected"] is True and nov["backfill_bootstrap_mode"] is False


def test_shot_zones_copied_from_the_dates_analysis(cache: dict) -> None:
    p1 = cache[(D, "p1")]
    assert p1["primary_scoring_zone"] == "paint" and p1["shot_zone_data_available"] is True
    assert (float(p1["paint_rate_last_10"]), float(p1["three_pt_rate_last_10"])) == (52.5, 20.0)
    # no shot-zone row (p2 on the date, p1 on 11-12): NULLs, and the flag says so
    for key in ((D, "p2"), (D2, "p1")):
        row = cache[key]
        assert row["shot_zone_data_available"] is False and row["primary_scoring_zone"] is None
        assert row["paint_rate_last_10"] is None
