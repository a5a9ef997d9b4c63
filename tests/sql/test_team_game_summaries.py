"""team_offense_game_summary's and team_defense_game_summary's columns beyond the box score,
one test per column group of the models' headers, on two hand-built dates: values worked out
by hand from the platform's processors (data_processors/analytics/team_offense_game_summary/,
team_defense_game_summary/, shared/processors/patterns/quality_columns.py and
shared/config/data_sources/fallback_config.yaml).

The world:
- 2024-01-15, BOS at LAL (NBA.com id 0022300555), with play-by-play: LAL shoots two made and
  one missed paint shot, a made mid-range and a made three; BOS has no field goal in it.
  Box scores: LAL 12 threes made, BOS 9. Gamebook: LAL 5 active, 1 dnp and 1 inactive player
  (loaded twice: counts once); BOS 2 active and 2 inactive players.
- 2024-01-16, GSW at DEN, no play-by-play; DEN has 5 active gamebook lines, GSW none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from nba_backfill import catalog, phase2
from nba_backfill.catalog import TDGS, TOGS
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

from .fixtures import Phase2, Player, raw_row_index
from .test_phase3_sql import by, open_warehouse, rows

JAN15 = dt.date(2024, 1, 15)
JAN16 = dt.date(2024, 1, 16)
NBA_ID = "0022300555"


def build_world() -> Phase2:
    p2 = Phase2()
    lal = [Player(f"lal{i}") for i in range(5)] + [
        Player("laldnp", status="dnp"),
        Player("lalout", status="inactive"),
        Player("lalout", status="inactive"),  # the scraper stored the line twice
    ]
    bos = [Player("bos0"), Player("bos1")] + [
        Player(f"bosout{i}", status="inactive") for i in range(2)
    ]
    p2.game(
        JAN15,
        "BOS",
        "LAL",
        away_points=99,
        home_points=104,
        away_stats={"three_pointers_made": 9},
        home_stats={"three_pointers_made": 12},
        players={"LAL": lal, "BOS": bos},
    )
    idx = raw_row_index(phase2.TEAM_BOXSCORE)
    boxes = p2.rows[phase2.TEAM_BOXSCORE.name]
    for i, row in enumerate(boxes):
        values = list(row)
        values[idx["nba_game_id"]] = NBA_ID
        boxes[i] = tuple(values)
    for zone, made in [
        ("paint", True),
        ("paint", True),
        ("paint", False),
        ("mid_range", True),
        ("three", True),
    ]:
        p2.shot(JAN15, "BOS", "LAL", "LAL", "lal0", zone, made=made)
    p2.game(
        JAN16,
        "GSW",
        "DEN",
        players={"DEN": [Player(f"den{i}") for i in range(5)]},
    )
    return p2


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBWarehouse]:
    w = open_warehouse(tmp_path_factory.mktemp("team_games") / "w.duckdb")
    build_world().load(w)
    w.ensure_tables([catalog.TABLES[TOGS], catalog.TABLES[TDGS]])
    w.replace_range(catalog.TABLES[TOGS], JAN15, JAN16)
    w.replace_range(catalog.TABLES[TDGS], JAN15, JAN16)
    yield w
    w.close()


def _offense(w: DuckDBWarehouse, day: dt.date) -> dict[str, dict[str, Any]]:
    return by(rows(w, TOGS, day), "team_abbr")


def _defense(w: DuckDBWarehouse, day: dt.date) -> dict[str, dict[str, Any]]:
    return by(rows(w, TDGS, day), "defending_team_abbr")


# --- team_offense_game_summary ----------------------------------------------------------------


def test_togs_nba_game_id_is_the_boxscores(wh: DuckDBWarehouse) -> None:
    t = _offense(wh, JAN15)
    assert (t["LAL"]["nba_game_id"], t["BOS"]["nba_game_id"]) == (NBA_ID, NBA_ID)


def test_togs_points_in_paint(wh: DuckDBWarehouse) -> None:
    t = _offense(wh, JAN15)
    # Two made paint shots x 2 points; BOS shot nothing in a game with play-by-play: 0.
    assert (t["LAL"]["points_in_paint_scored"], t["BOS"]["points_in_paint_scored"]) == (4, 0)
    u = _offense(wh, JAN16)
    assert u["DEN"]["points_in_paint_scored"] is None  # no play-by-play for the game


def test_togs_quality_columns(wh: DuckDBWarehouse) -> None:
    t = _offense(wh, JAN15)
    lal, bos = t["LAL"], t["BOS"]
    for r in (lal, bos):
        assert (r["quality_tier"], r["data_quality_tier"], r["quality_score"]) == (
            "gold",
            "gold",
            100.0,
        )
        assert r["data_sources"] == ["nbac_team_boxscore"]
        assert r["primary_source_used"] == "nbac_team_boxscore"
        assert (r["quality_used_fallback"], r["quality_reconstructed"]) == (False, False)
        assert r["shot_zones_source"] == "nbac_pbp"
    assert (lal["quality_issues"], lal["processed_with_issues"]) == ([], False)
    # No field goal of BOS in the play-by-play: the processor's row issue.
    assert (bos["quality_issues"], bos["processed_with_issues"]) == (
        ["shot_zones_unavailable"],
        True,
    )
    den = _offense(wh, JAN16)["DEN"]
    assert (den["shot_zones_source"], den["quality_issues"]) == (None, ["shot_zones_unavailable"])


def test_togs_partial_game_columns(wh: DuckDBWarehouse) -> None:
    for day in (JAN15, JAN16):
        for r in _offense(wh, day).values():
            assert r["is_partial_game_data"] is False
            assert r["game_status_at_processing"] == "final"
            assert r["game_completeness_pct"] == Decimal("100.00")


def test_togs_players_inactive(wh: DuckDBWarehouse) -> None:
    t = _offense(wh, JAN15)
    # LAL: one inactive player loaded twice, a dnp player is not inactive.
    assert (t["LAL"]["players_inactive"], t["BOS"]["players_inactive"]) == (1, 2)
    u = _offense(wh, JAN16)
    assert (u["DEN"]["players_inactive"], u["GSW"]["players_inactive"]) == (0, None)


# --- team_defense_game_summary ----------------------------------------------------------------


def test_tdgs_points_allowed_by_zone(wh: DuckDBWarehouse) -> None:
    t = _defense(wh, JAN15)
    bos, lal = t["BOS"], t["LAL"]
    # BOS allowed LAL's 2 paint makes, 1 mid-range make and 12 boxscore threes.
    assert (
        bos["points_in_paint_allowed"],
        bos["mid_range_points_allowed"],
        bos["three_pt_points_allowed"],
    ) == (4, 2, 36)
    # BOS made no field goal in the play-by-play; its 9 boxscore threes still count.
    assert (
        lal["points_in_paint_allowed"],
        lal["mid_range_points_allowed"],
        lal["three_pt_points_allowed"],
    ) == (0, 0, 27)
    den = _defense(wh, JAN16)["DEN"]
    assert (den["points_in_paint_allowed"], den["mid_range_points_allowed"]) == (None, None)
    assert den["three_pt_points_allowed"] == 36  # the fixture's default 12 threes


def test_tdgs_quality_columns(wh: DuckDBWarehouse) -> None:
    jan15, jan16 = _defense(wh, JAN15), _defense(wh, JAN16)
    for r in [*jan15.values(), *jan16.values()]:
        assert (r["quality_tier"], r["data_quality_tier"], r["quality_score"]) == (
            "gold",
            "gold",
            100.0,
        )
        assert (r["quality_issues"], r["data_sources"]) == ([], ["nbac_team_boxscore"])
        assert r["processed_with_issues"] is False
        assert (r["quality_used_fallback"], r["quality_reconstructed"]) == (False, False)
    # Defensive actions from the gamebook need 5 active players: LAL and DEN have them.
    gamebook = "nbac_team_boxscore+nbac_gamebook"
    assert jan15["LAL"]["primary_source_used"] == gamebook
    assert jan15["BOS"]["primary_source_used"] == "nbac_team_boxscore"
    assert jan16["DEN"]["primary_source_used"] == gamebook
    assert jan16["GSW"]["primary_source_used"] == "nbac_team_boxscore"


def test_tdgs_players_inactive(wh: DuckDBWarehouse) -> None:
    t = _defense(wh, JAN15)
    assert (t["LAL"]["players_inactive"], t["BOS"]["players_inactive"]) == (1, 2)
    assert _defense(wh, JAN16)["GSW"]["players_inactive"] is None


def test_tdgs_tracks_the_gamebook_it_reads(wh: DuckDBWarehouse) -> None:
    written = wh.fetch(f"SELECT * FROM {TDGS} WHERE game_date = @d", {"d": JAN15})
    assert len(written) == 2
    for r in written:
        # The gamebook's lines of the date as loaded (the duplicate included), its one game
        # of the date's one expected game.
        assert r["source_gamebook_players_rows_found"] == 12
        assert r["source_gamebook_players_completeness_pct"] == Decimal("100.00")
        assert len(r["source_gamebook_players_hash"]) == 16


def test_quality_is_assessed_when_the_row_is_written(wh: DuckDBWarehouse) -> None:
    for name in (TOGS, TDGS):
        written = wh.fetch(f"SELECT * FROM {name} WHERE game_date = @d", {"d": JAN15})
        assert written
        for r in written:
            assert r["quality_calculated_at"] is not None
            assert r["quality_calculated_at"] == r["processed_at"]


def test_rerun_is_bit_identical(wh: DuckDBWarehouse) -> None:
    before = {n: rows(wh, n, JAN15, JAN16) for n in (TOGS, TDGS)}
    for n in (TOGS, TDGS):
        wh.replace_range(catalog.TABLES[n], JAN15, JAN16)
    assert {n: rows(wh, n, JAN15, JAN16) for n in (TOGS, TDGS)} == before
