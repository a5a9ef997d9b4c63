"""player_game_summary's columns beyond the box score, one test per column group of the
model's header, on a few hand-built rows: values worked out by hand from the platform's
processor (data_processors/analytics/player_game_summary/: sources/player_registry.py,
sources/shot_zone_analyzer.py, sources/prop_calculator.py, calculators/quality_scorer.py,
_categorize_dnp_reason) and production's schema for the columns no processor writes.

The world, 2024-01-10:
- BBB at AAA, with play-by-play. AAA: p1 (30:00; 10 FGA, 4 FTA, 2 TOV; blocks two BBB misses,
  a paint one and a three, and has one and-one free throw), hi (5:00, 10 FGA: usage over 50),
  p2 (in no registry), zero (active at 00:00), and four DNPs (no plus_minus) whose gamebook
  reasons are an injury, rest, personal reasons and a G League assignment. BBB: q1 (the shots
  p1 blocked; a 2-of-2 pair).
  AAA's box: 88 FGA, 20 FTA, 13 TOV (team possessions used 88 + 8.8 + 13 = 109.8).
- CCC at DDD, no box scores and no play-by-play: r1 (20:00).
Registry: p1 as p1_001 (2023-24) and p1_002 (another season's row), hi, q1, r1; not p2.
Lines for p1: draftkings 20.5 then 22.5 (10:00, 12:00), fanduel 21.5 (10:00).
Production's fallbacks, tracked (source_bdl_*, source_bp_*): Ball Don't Lie has p1's and hi's
lines of BBB at AAA (loaded 09:00 and 09:30), not CCC at DDD; BettingPros has p1's over and under.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from nba_backfill import catalog, phase2
from nba_backfill.catalog import PGS, TOGS
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

from .fixtures import LOADED, Phase2, Player, box_stats, raw_row_index, ts

D = dt.date(2024, 1, 10)
DNP_REASONS = {
    "d_injury": "Injury/Illness - Left Ankle; Sprain",
    "d_rest": "Rest",
    "d_personal": "Personal Reasons",
    "d_other": "G League - On Assignment",
}


def _patch_last(p2: Phase2, table: phase2.RawTable, **values: Any) -> None:
    idx = raw_row_index(table)
    row = list(p2.rows[table.name][-1])
    for k, v in values.items():
        row[idx[k]] = v
    p2.rows[table.name][-1] = tuple(row)


def _registry(p2: Phase2, lookup: str, uid: str, season: str = "2023-24") -> None:
    p2.add(
        phase2.PLAYERS_REGISTRY,
        universal_player_id=uid,
        player_name=lookup.title(),
        player_lookup=lookup,
        team_abbr="AAA",
        season=season,
        created_by="fixture",
        created_at=LOADED,
        processed_at=LOADED,
    )


def build_world() -> Phase2:
    p2 = Phase2()
    aaa = [
        Player("p1", minutes="30:00", fga=10, fgm=4, tpa=2, tpm=1, fta=4, ftm=3, tov=2),
        Player("hi", minutes="05:00", fga=10, fgm=2, tpa=0, tpm=0, fta=0, ftm=0, tov=0),
        Player("p2"),
        Player("zero", minutes="00:00", points=0, fgm=0, fga=0, tpm=0, tpa=0, ftm=0, fta=0),
    ]
    p2.game(
        D,
        "BBB",
        "AAA",
        away_points=100,
        home_points=105,
        home_stats=box_stats(105, field_goals_attempted=88, free_throws_attempted=20, turnovers=13),
        players={"AAA": aaa, "BBB": [Player("q1")]},
    )
    for lookup, reason in DNP_REASONS.items():
        p2.player(D, "BBB", "AAA", "AAA", Player(lookup, status="dnp"))
        _patch_last(p2, phase2.GAMEBOOK, dnp_reason=reason, plus_minus=None)
    # Play-by-play of BBB at AAA: q1's paint and three misses blocked by p1, a made pair.
    p2.shot(D, "BBB", "AAA", "BBB", "q1", "paint", made=False, blocked=True, blocker="p1")
    p2.shot(D, "BBB", "AAA", "BBB", "q1", "three", made=False, blocked=True, blocker="p1")
    p2.shot(D, "BBB", "AAA", "BBB", "q1", "mid_range", made=False)
    p2.shot(D, "BBB", "AAA", "AAA", "p1", "paint", made=True)
    for action in ("Free Throw 1 of 1", "Free Throw 1 of 2", "Free Throw 2 of 2"):
        p2.event(
            D,
            "BBB",
            "AAA",
            "freethrow",
            event_action_type=action,
            player_1_lookup="p1",
            player_1_team_abbr="AAA",
        )
    p2.game(D, "CCC", "DDD", boxes=(), players={"DDD": [Player("r1", minutes="20:00")]})
    _registry(p2, "p1", "p1_002", season="2022-23")
    _registry(p2, "p1", "p1_001")
    for lookup in ("hi", "q1", "r1"):
        _registry(p2, lookup, f"{lookup}_001")
    p2.prop(D, "BBB", "AAA", "p1", "draftkings", 20.5, ts(D, 10))
    p2.prop(D, "BBB", "AAA", "p1", "fanduel", 21.5, ts(D, 10))
    p2.prop(D, "BBB", "AAA", "p1", "draftkings", 22.5, ts(D, 12))
    for lookup, minute in (("p1", 0), ("hi", 30)):
        p2.add(
            phase2.BDL_BOXSCORES,
            game_id="20240110_BBB_AAA",
            game_date=D,
            season_year=2023,
            is_postseason=False,
            home_team_abbr="AAA",
            away_team_abbr="BBB",
            team_abbr="AAA",
            player_full_name=lookup.title(),
            player_lookup=lookup,
            source_file_path="fixture",
            created_at=ts(D, 9, minute),
            processed_at=ts(D, 9, minute),
        )
    for side in ("over", "under"):
        p2.add(
            phase2.BETTINGPROS_PROPS,
            game_date=D,
            market_type="points",
            market_id=156,
            bp_event_id=1,
            offer_id=f"1:{side}",
            bet_side=side,
            bp_player_id=7,
            player_name="P1",
            player_lookup="p1",
            player_team="AAA",
            team_source="roster",
            has_team_issues=False,
            validation_confidence=1.0,
            validation_method="roster_match",
            book_id=12,
            bookmaker="DraftKings",
            points_line=22.5,
            odds_american=-110,
            is_active=True,
            is_best_line=False,
            bookmaker_last_update=ts(D, 12),
            source_file_path="fixture",
            created_at=ts(D, 12),
            processed_at=ts(D, 12),
        )
    return p2


@pytest.fixture(scope="module")
def pgs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    path = tmp_path_factory.mktemp("pgs") / "w.duckdb"
    w = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    build_world().load(w)
    w.ensure_tables([catalog.TABLES[TOGS], catalog.TABLES[PGS]])
    w.replace_range(catalog.TABLES[TOGS], D, D)
    w.replace_range(catalog.TABLES[PGS], D, D)
    got = w.fetch(f"SELECT * FROM {PGS}")
    yield {r["player_lookup"]: r for r in got}
    w.close()


def test_universal_player_id_from_the_registry(pgs: dict) -> None:
    # Any season's row: the smallest id of the lookup; a player the registry lacks keeps his
    # row with a NULL id.
    assert pgs["p1"]["universal_player_id"] == "p1_001"
    assert pgs["r1"]["universal_player_id"] == "r1_001"
    assert pgs["p2"]["universal_player_id"] is None
    assert pgs["p2"]["points"] == 10


def test_blocks_by_zone_and_and_ones(pgs: dict) -> None:
    blocks = ("paint_blocks", "mid_range_blocks", "three_pt_blocks", "and1_count")
    # p1 blocked q1's paint miss and three miss (the unblocked mid-range miss is nobody's);
    # one "Free Throw 1 of 1" (the 1-of-2 / 2-of-2 pair is no and-one).
    assert [pgs["p1"][c] for c in blocks] == [1, 0, 1, 1]
    assert [pgs["q1"][c] for c in blocks] == [0, 0, 0, 0]  # the game has play-by-play
    assert [pgs["r1"][c] for c in blocks] == [None] * 4  # CCC at DDD has none


def test_line_sources_opening_line_and_movement(pgs: dict) -> None:
    p1 = pgs["p1"]
    # Current: the latest snapshot (draftkings 22.5 at 12:00); opening: draftkings' first line
    # of the date (20.5 at 10:00, not fanduel's); movement = closing - opening.
    assert (p1["points_line"], p1["points_line_source"]) == (Decimal("22.5"), "draftkings")
    assert (p1["opening_line"], p1["opening_line_source"]) == (Decimal("20.5"), "draftkings")
    assert p1["line_movement"] == Decimal("2.0")
    p2 = pgs["p2"]
    assert [p2[c] for c in ("points_line_source", "opening_line", "line_movement")] == [None] * 3


def test_dnp_reason_and_category(pgs: dict) -> None:
    got = {p: (pgs[p]["dnp_reason"], pgs[p]["dnp_reason_category"]) for p in DNP_REASONS}
    assert got == {
        "d_injury": (DNP_REASONS["d_injury"], "injury"),
        "d_rest": ("Rest", "rest"),
        "d_personal": ("Personal Reasons", "personal"),
        "d_other": ("G League - On Assignment", "other"),
    }
    assert (pgs["p1"]["dnp_reason"], pgs["p1"]["dnp_reason_category"]) == (None, None)


def test_quality_columns(pgs: dict) -> None:
    def quality(p: str) -> tuple[Any, ...]:
        r = pgs[p]
        return (r["quality_tier"], r["quality_score"], list(r["quality_issues"]))

    assert quality("p1") == ("gold", 100.0, [])
    assert quality("d_rest") == ("gold", 95.0, ["missing_plus_minus"])  # gamebook has none
    assert quality("r1") == ("gold", 95.0, ["missing_shot_zones"])  # no play-by-play
    p1 = pgs["p1"]
    assert (p1["data_quality_tier"], p1["primary_source_used"], list(p1["data_sources"])) == (
        "gold",
        "nbac_gamebook",
        ["nbac_gamebook"],
    )
    flags = ("processed_with_issues", "quality_used_fallback", "quality_reconstructed")
    assert [p1[c] for c in flags] == [False, False, False]
    assert json.loads(p1["quality_metadata"]) == {
        "early_season": False,
        "sources_used": ["nbac_gamebook"],
    }


def test_usage_rate_validation(pgs: dict) -> None:
    cols = ("usage_rate_raw", "usage_rate_capped", "usage_rate_valid", "usage_rate_anomaly_reason")
    # p1: 100 * (10 + 0.44*4 + 2) * 48 / (30 * 109.8) = 20.051
    assert [pgs["p1"][c] for c in cols] == [Decimal("20.05"), Decimal("20.05"), True, None]
    assert pgs["p1"]["usage_rate"] == Decimal("20.05")
    # hi: 100 * 10 * 48 / (5 * 109.8) = 87.432: over the 50 cap (still a usage rate: <= 100)
    assert [pgs["hi"][c] for c in cols] == [
        Decimal("87.43"),
        Decimal("50.00"),
        False,
        "exceeds_max",
    ]
    # r1: DDD has no team row
    assert [pgs["r1"][c] for c in cols] == [None, None, False, "partial_team_data"]
    # a DNP has no usage to judge
    assert [pgs["d_rest"][c] for c in cols] == [None] * 4


def test_dedup_key_version_and_final_game_flags(pgs: dict) -> None:
    p1 = pgs["p1"]
    assert p1["dedup_key"] == "20240110_BBB_AAA|p1"
    assert (p1["record_version"], p1["is_partial_game_data"]) == (1, False)
    assert p1["game_status_at_processing"] == "final"


def test_fallback_sources_tracked(pgs: dict) -> None:
    # Same-date tracking of production's fallbacks: Ball Don't Lie covers 1 of the date's 2
    # games (its game_id); BettingPros, keyed by date only, covers the date.
    for row in pgs.values():
        bdl = [row[f"source_bdl_{f}"] for f in ("rows_found", "completeness_pct", "last_updated")]
        assert bdl == [2, Decimal("50.00"), ts(D, 9, 30)]
        assert (row["source_bp_rows_found"], row["source_bp_completeness_pct"]) == (
            2,
            Decimal("100.00"),
        )
        assert len(row["source_bp_hash"]) == 16


def test_is_dnp_also_for_an_active_player_at_zero_minutes(pgs: dict) -> None:
    # The processor: status dnp / inactive, or active with 0 minutes.
    got = {p: (pgs[p]["is_active"], pgs[p]["is_dnp"]) for p in ("p1", "zero", "d_rest")}
    assert got == {"p1": (True, False), "zero": (True, True), "d_rest": (False, True)}
    assert pgs["zero"]["minutes_played"] == Decimal("0.0")
    assert pgs["zero"]["dnp_reason"] is None  # production keeps reasons of non-active rows
