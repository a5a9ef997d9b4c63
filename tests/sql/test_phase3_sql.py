"""Fixture tests of the Phase 3 SQL models (nba_backfill/sql/nba_analytics/*.sql).

Small hand-built Phase 2 rows (a Lakers mini-season around 2024-01-15) run through a real
DuckDB warehouse; every expected value below is computed by hand from those rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from nba_backfill import catalog
from nba_backfill.catalog import PGS, TDGS, TOGS, UPCG, UPTG, TableSpec
from nba_backfill.outputs import is_volatile
from nba_backfill.settings import load_settings
from nba_backfill.sqlfiles import splice_views
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

from .fixtures import Phase2, Player, box_stats, ts

D = dt.date
REPO = Path(__file__).resolve().parents[2]
SQL_DIR = REPO / "nba_backfill" / "sql"

OPENER = D(2023, 10, 24)
JAN15 = D(2024, 1, 15)
JAN16 = D(2024, 1, 16)
JAN17 = D(2024, 1, 17)
JAN18 = D(2024, 1, 18)
FIRST, LAST = D(2023, 4, 1), D(2024, 1, 31)

# The 2024-01-15 game in detail (BOS at LAL, one overtime).
LAL_0115 = {
    "points": 110,
    "field_goals_made": 41,
    "field_goals_attempted": 90,
    "three_pointers_made": 12,
    "three_pointers_attempted": 35,
    "free_throws_made": 16,
    "free_throws_attempted": 25,
    "offensive_rebounds": 10,
    "defensive_rebounds": 35,
    "total_rebounds": 45,
    "steals": 8,
    "blocks": 6,
    "turnovers": 14,
    "minutes": 265,
}
BOS_0115 = {
    "points": 105,
    "field_goals_attempted": 88,
    "free_throws_attempted": 20,
    "offensive_rebounds": 8,
    "turnovers": 12,
    "steals": 6,
    "blocks": 4,
    "minutes": 265,
}
LAL_POSS = 90 + 0.44 * 25 + 14 - 10  # 105.0
BOS_POSS = 88 + 0.44 * 20 + 12 - 8  # 100.8
LAL_USAGE_DENOM = 90 + 0.44 * 25 + 14  # team FGA + 0.44 FTA + TOV = 115

# LeBron's earlier games: (date, home?, opponent, LAL points, opp points, his points).
# 2024-01-13 he is DNP; 2023-12-10 is more than 30 days before 2024-01-15.
LAL_SEASON = [
    (D(2023, 10, 24), False, "DEN", 107, 119, 18),
    (D(2023, 12, 10), True, "BOS", 115, 100, 40),
    (D(2024, 1, 1), True, "MIA", 110, 100, 20),
    (D(2024, 1, 3), False, "NYK", 100, 105, 22),
    (D(2024, 1, 5), True, "CHI", 111, 100, 24),
    (D(2024, 1, 8), False, "PHI", 112, 100, 26),
    (D(2024, 1, 10), True, "DAL", 113, 100, 28),
    (D(2024, 1, 12), False, "HOU", 114, 100, 30),
    (D(2024, 1, 13), True, "SAS", 120, 101, None),
]


def build_world() -> Phase2:
    p2 = Phase2()
    # Last season (season_year 2022): must not count in 2023's numbers.
    p2.game(
        D(2023, 4, 9),
        "UTA",
        "LAL",
        away_points=90,
        home_points=120,
        players={"LAL": [Player("lebronjames")]},
    )
    for day, home, opp, lal_pts, opp_pts, lbj in LAL_SEASON:
        away, hometeam = ("LAL", opp) if not home else (opp, "LAL")
        lal = [
            Player("lebronjames", points=lbj)
            if lbj is not None
            else Player("lebronjames", status="dnp"),
            Player("anthonydavis", minutes="36:00"),
            Player("benchguy", minutes="12:00"),
        ]
        if opp == "BOS":
            opp_players = [Player("jaysontatum", minutes="40:00")]
        else:
            opp_players = [Player(f"{opp.lower()}star")]
        p2.game(
            day,
            away,
            hometeam,
            away_points=opp_pts if home else lal_pts,
            home_points=lal_pts if home else opp_pts,
            players={"LAL": lal, opp: opp_players},
            nba_game_id="0022300001" if day == OPENER else None,
        )

    # 2024-01-15, BOS at LAL: the detailed game.
    lal = [
        Player(
            "lebronjames", "34:30", points=30, fgm=11, fga=20, tpm=3, tpa=7, ftm=5, fta=8, tov=4
        ),
        Player("anthonydavis", "20:03", points=25),  # 20.05 -> 20.1: a starter
        Player("benchguy", "20:02"),  # 20.03 -> 20.0: not a starter
        Player("roleguy", "9:09"),  # 9.15 -> 9.2 (exact half, rounded away from zero)
        Player("garbageguy", "1:00", fga=5, fta=0, tov=0),  # usage 208 -> NULL
        Player("oddguy", "7"),  # no seconds part -> 7.0
        Player("dnpguy", status="dnp"),  # raw stats present but must become 0
        Player("inactiveguy", status="inactive"),  # not a row
    ]
    tatum = Player("jaysontatum", "40:00", points=33)
    p2.game(
        JAN15,
        "BOS",
        "LAL",
        away_stats=BOS_0115,
        home_stats=LAL_0115,
        players={"LAL": lal, "BOS": [tatum, tatum]},  # gamebook duplicate
        nba_game_id="0022300555",
    )
    # The scraper stored BOS's boxscore twice: still one TOGS / TDGS row per team.
    p2.box(JAN15, "BOS", "LAL", "BOS", {**box_stats(100), **BOS_0115})
    # Shots of 2024-01-15 (the only game with play-by-play).
    for team, player, zone, made, assisted, blocked in [
        ("LAL", "lebronjames", "paint", True, True, False),
        ("LAL", "lebronjames", "three", True, True, False),
        ("LAL", "lebronjames", "mid_range", False, False, False),
        ("LAL", "anthonydavis", "paint", False, False, True),
        ("LAL", "anthonydavis", "paint", True, False, False),
        ("BOS", "jaysontatum", "three", False, False, True),
        ("BOS", "jaysontatum", "paint", True, False, False),
    ]:
        p2.shot(
            JAN15, "BOS", "LAL", team, player, zone, made=made, assisted=assisted, blocked=blocked
        )
    # Props of 2024-01-15: latest snapshot 12:00 has two bookmakers -> betmgm (alphabetical).
    p2.prop(JAN15, "BOS", "LAL", "lebronjames", "draftkings", 28.5, ts(JAN15, 10))
    p2.prop(JAN15, "BOS", "LAL", "lebronjames", "fanduel", 29.5, ts(JAN15, 12))
    p2.prop(JAN15, "BOS", "LAL", "lebronjames", "betmgm", 30.5, ts(JAN15, 12))
    p2.prop(JAN15, "BOS", "LAL", "anthonydavis", "fanduel", 25.0, ts(JAN15, 12))
    p2.prop(JAN15, "BOS", "LAL", "dnpguy", "fanduel", 5.5, ts(JAN15, 12))
    p2.game_line(JAN15, "BOS", "LAL", "fanduel", -3.0, 225.0, ts(JAN15, 12))
    # Injury report for 2024-01-15.
    p2.injury(D(2024, 1, 14), JAN15, "LAL", "anthonydavis", "questionable")
    p2.injury(JAN15, JAN15, "LAL", "anthonydavis", "out")  # latest wins; a starter
    p2.injury(JAN15, JAN15, "LAL", "benchguy", "out")  # 12 min/game: not a starter
    p2.injury(JAN15, JAN15, "LAL", "roleguy", "Questionable")
    p2.injury(JAN15, JAN15, "LAL", "garbageguy", "probable")
    p2.injury(JAN16, JAN15, "LAL", "lebronjames", "out")  # reported after the game
    p2.injury(JAN15, JAN15, "BOS", "jaysontatum", "out")  # last game > 30 days ago

    # 2024-01-16, LAL at PHX: LAL's boxscore is missing (no TOGS row -> usage NULL).
    p2.game(
        JAN16,
        "LAL",
        "PHX",
        away_points=100,
        home_points=108,
        boxes=["PHX"],
        players={
            "LAL": [Player("lebronjames", "33:00", points=99), Player("anthonydavis", "36:00")],
            "PHX": [Player("kevindurant", "38:00", points=31)],
        },
    )
    p2.prop(JAN16, "LAL", "PHX", "lebronjames", "draftkings", 27.5, ts(JAN16, 9))
    p2.prop(JAN16, "LAL", "PHX", "lebronjames", "betmgm", 26.5, ts(JAN16, 9))
    p2.prop(JAN16, "LAL", "PHX", "lebronjames", "fanduel", 28.5, ts(JAN16, 18))
    p2.game_line(JAN16, "LAL", "PHX", "draftkings", -4.5, 228.5, ts(JAN16, 10))
    p2.game_line(JAN16, "LAL", "PHX", "fanduel", -5.5, 229.0, ts(JAN16, 17))
    p2.game_line(JAN16, "LAL", "PHX", "caesars", None, 230.0, ts(JAN16, 18))

    # 2024-01-17: scheduled, not final -> no rows anywhere, even with raw data present.
    p2.game(JAN17, "GSW", "DEN", status=1, players={"DEN": [Player("nikolajokic")]})
    # 2024-01-18, GSW at LAL: previous LAL game (01-16) has no result.
    p2.game(
        JAN18,
        "GSW",
        "LAL",
        away_points=99,
        home_points=101,
        players={"LAL": [Player("lebronjames")], "GSW": [Player("stephcurry")]},
    )
    return p2


def open_warehouse(path: Path) -> DuckDBWarehouse:
    s = load_settings(warehouse={"duckdb_path": str(path)})
    return DuckDBWarehouse(s)


def rows(
    w: DuckDBWarehouse, name: str, start: dt.date, end: dt.date | None = None
) -> list[dict[str, Any]]:
    """The table's rows on [start, end] without the write-time columns (processed_at, …)."""
    spec = catalog.TABLES[name]
    keys = ", ".join(spec.key_columns)
    got = w.fetch(
        f"SELECT * FROM {name} WHERE {spec.date_column} BETWEEN @start_date AND @end_date "
        f"ORDER BY {keys}",
        {"start_date": start, "end_date": end or start},
    )
    return [{k: v for k, v in r.items() if not is_volatile(k)} for r in got]


def by(rows_: list[dict[str, Any]], column: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in rows_:
        assert r[column] not in out, f"duplicate {column} {r[column]!r}"
        out[r[column]] = r
    return out


def stored(value: float, scale: int) -> Decimal:
    """``value`` as production's NUMERIC(p, scale) column stores it (half away from zero)."""
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)


def pick(row: dict[str, Any], *columns: str) -> tuple[Any, ...]:
    return tuple(row[c] for c in columns)


def run_phase3(w: DuckDBWarehouse) -> None:
    w.replace_range(catalog.TABLES[TOGS], FIRST, LAST)
    w.replace_range(catalog.TABLES[TDGS], FIRST, LAST)
    w.replace_range(catalog.TABLES[PGS], FIRST, LAST)
    w.replace_range(catalog.TABLES[UPCG], FIRST, LAST)
    w.replace_range(catalog.TABLES[UPTG], FIRST, LAST)


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBWarehouse]:
    w = open_warehouse(tmp_path_factory.mktemp("phase3") / "w.duckdb")
    build_world().load(w)
    w.ensure_tables(list(catalog.PHASE3))
    run_phase3(w)
    yield w
    w.close()


# --- static checks of the SQL files -----------------------------------------------------------

ALL_SQL = sorted(SQL_DIR.rglob("*.sql"))
PHASE3_SPECS = list(catalog.PHASE3)


@pytest.mark.parametrize("path", ALL_SQL, ids=lambda p: str(p.relative_to(SQL_DIR)))
def test_every_sql_file_parses_as_bigquery(path: Path) -> None:
    tree = sqlglot.parse_one(path.read_text(encoding="utf-8"), read="bigquery")
    assert isinstance(tree, exp.Query)


@pytest.mark.parametrize("spec", PHASE3_SPECS, ids=lambda t: t.table)
def test_phase3_model_is_one_windowed_deterministic_select(spec: TableSpec) -> None:
    text = spec.sql_path.read_text(encoding="utf-8")
    assert text.startswith("-- "), "the file opens with a comment saying what one row means"
    assert "One row = " in text.split("WITH")[0]
    statements = [s for s in sqlglot.parse(text, read="bigquery") if s is not None]
    assert len(statements) == 1
    tree = statements[0]
    # The window may be applied through the shared pieces it reads (nba_backfill/views/).
    params = {p.name for p in splice_views(tree.copy()).find_all(exp.Parameter)}
    assert params == {"start_date", "end_date"}
    banned = (exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentDatetime, exp.Rand)
    assert not list(tree.find_all(*banned))
    for table in tree.find_all(exp.Table):
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        assert table.db or table.name in ctes, f"{table.name}: use dataset.table names"


# --- team_offense_game_summary ----------------------------------------------------------------


def test_togs_formulas_on_the_detailed_game(wh: DuckDBWarehouse) -> None:
    t = by(rows(wh, TOGS, JAN15), "team_abbr")
    assert set(t) == {"LAL", "BOS"}  # the duplicated BOS boxscore row gives one row
    lal, bos = t["LAL"], t["BOS"]
    assert lal["game_id"] == "20240115_BOS_LAL"
    assert lal["season_year"] == 2023
    assert (lal["opponent_team_abbr"], lal["home_game"]) == ("BOS", True)
    assert (bos["opponent_team_abbr"], bos["home_game"]) == ("LAL", False)
    assert (lal["win_flag"], lal["margin_of_victory"]) == (True, 5)
    assert (bos["win_flag"], bos["margin_of_victory"]) == (False, -5)
    assert lal["points_scored"] == 110
    assert (lal["fg_attempts"], lal["ft_attempts"], lal["turnovers"]) == (90, 25, 14)
    assert lal["overtime_periods"] == 1  # 265 team player-minutes
    assert lal["rebounds"] == LAL_0115["offensive_rebounds"] + LAL_0115["defensive_rebounds"]
    # Production stores possessions as INT64 and the ratings as NUMERIC(6,2) / (5,1); the
    # ratings are computed from the unrounded possessions.
    assert lal["possessions"] == round(LAL_POSS)
    assert lal["offensive_rating"] == stored(100 * 110 / LAL_POSS, 2)
    assert lal["pace"] == stored(LAL_POSS * 48 / (265 / 5), 1)
    assert lal["ts_pct"] == stored(110 / (2 * (90 + 0.44 * 25)), 3)
    assert bos["possessions"] == round(BOS_POSS)
    assert bos["offensive_rating"] == stored(100 * 105 / BOS_POSS, 2)
    assert (lal["shot_zones_available"], bos["shot_zones_available"]) == (True, True)
    # Zones from the play-by-play.
    zones = [f"team_{z}_{k}" for z in ("paint", "mid_range") for k in ("attempts", "makes")]
    assert [lal[c] for c in zones] == [3, 2, 1, 0]
    assert [bos[c] for c in zones] == [1, 1, 0, 0]


def test_togs_regulation_game_without_pbp_and_missing_opponent_box(wh: DuckDBWarehouse) -> None:
    t = by(rows(wh, TOGS, JAN16), "team_abbr")
    # LAL has no boxscore row for 2024-01-16, so PHX's result is unknown: win_flag is
    # REQUIRED in production, so neither team is written (the date stays incomplete).
    assert t == {}
    t = by(rows(wh, TOGS, JAN18), "team_abbr")
    assert set(t) == {"LAL", "GSW"}
    gsw = t["GSW"]
    assert gsw["overtime_periods"] == 0
    assert gsw["team_paint_attempts"] is None  # no play-by-play for the game
    assert gsw["shot_zones_available"] is False


# --- team_defense_game_summary ----------------------------------------------------------------


def test_tdgs_is_the_opponents_offense(wh: DuckDBWarehouse) -> None:
    t = by(rows(wh, TDGS, JAN15), "defending_team_abbr")
    assert set(t) == {"LAL", "BOS"}
    lal, bos = t["LAL"], t["BOS"]
    assert (lal["opponent_team_abbr"], lal["home_game"], bos["home_game"]) == ("BOS", True, False)
    assert lal["points_allowed"] == 105
    assert (lal["opp_fg_attempts"], lal["opp_ft_attempts"]) == (88, 20)
    assert lal["turnovers_forced"] == 12
    assert (lal["steals"], lal["defensive_rebounds"]) == (8, 35)
    assert lal["fouls_committed"] == 19  # the fixture's default team personal fouls
    assert (lal["win_flag"], lal["margin_of_victory"], lal["overtime_periods"]) == (True, 5, 1)
    assert (bos["win_flag"], bos["margin_of_victory"]) == (False, -5)
    assert lal["defensive_rating"] == stored(100 * 105 / BOS_POSS, 2)
    assert lal["opponent_pace"] == stored(BOS_POSS, 1)
    assert lal["opponent_ts_pct"] == stored(105 / (2 * (88 + 0.44 * 20)), 3)
    assert bos["points_allowed"] == 110
    assert bos["defensive_rating"] == stored(100 * 110 / LAL_POSS, 2)
    # LAL blocked BOS's three; BOS blocked one of LAL's paint shots.
    assert (lal["blocks_paint"], lal["blocks_mid_range"], lal["blocks_three_pt"]) == (0, 0, 1)
    assert (bos["blocks_paint"], bos["blocks_mid_range"], bos["blocks_three_pt"]) == (1, 0, 0)
    assert (lal["opp_paint_attempts"], lal["opp_paint_makes"]) == (1, 1)
    assert (bos["opp_paint_attempts"], bos["opp_paint_makes"]) == (3, 2)


def test_tdgs_needs_both_boxscores(wh: DuckDBWarehouse) -> None:
    assert rows(wh, TDGS, JAN16) == []  # LAL's boxscore is missing
    assert {r["defending_team_abbr"] for r in rows(wh, TDGS, JAN18)} == {"LAL", "GSW"}


# --- player_game_summary ----------------------------------------------------------------------


def test_pgs_box_minutes_and_rates(wh: DuckDBWarehouse) -> None:
    p = by(rows(wh, PGS, JAN15), "player_lookup")
    assert set(p) == {
        "lebronjames",
        "anthonydavis",
        "benchguy",
        "roleguy",
        "garbageguy",
        "oddguy",
        "dnpguy",
        "jaysontatum",
    }  # inactive excluded, dup collapsed
    lbj = p["lebronjames"]
    assert (lbj["team_abbr"], lbj["opponent_team_abbr"]) == ("LAL", "BOS")
    assert (lbj["player_status"], lbj["is_active"], lbj["is_dnp"]) == ("active", True, False)
    assert lbj["win_flag"] is True and p["jaysontatum"]["win_flag"] is False
    assert lbj["minutes_played"] == Decimal("34.5")
    assert lbj["usage_rate"] == stored(100 * (20 + 0.44 * 8 + 4) * 48 / (34.5 * LAL_USAGE_DENOM), 2)
    assert lbj["ts_pct"] == stored(30 / (2 * (20 + 0.44 * 8)), 3)
    assert lbj["efg_pct"] == stored((11 + 0.5 * 3) / 20, 3)
    assert lbj["starter_flag"] is True
    assert [p[n]["minutes_played"] for n in ("anthonydavis", "benchguy", "roleguy", "oddguy")] == [
        Decimal("20.1"),
        Decimal("20.0"),
        Decimal("9.2"),
        Decimal("7.0"),
    ]
    assert (p["anthonydavis"]["starter_flag"], p["benchguy"]["starter_flag"]) == (True, False)
    assert p["garbageguy"]["usage_rate"] is None  # 208 > 100
    assert p["jaysontatum"]["usage_rate"] is not None


def test_pgs_dnp_rows_are_zero(wh: DuckDBWarehouse) -> None:
    dnp = by(rows(wh, PGS, JAN15), "player_lookup")["dnpguy"]
    assert (dnp["player_status"], dnp["is_active"], dnp["is_dnp"]) == ("dnp", False, True)
    assert dnp["minutes_played"] == Decimal("0.0")
    stats = (
        "points",
        "fg_makes",
        "fg_attempts",
        "three_pt_makes",
        "ft_attempts",
        "offensive_rebounds",
        "defensive_rebounds",
        "assists",
        "steals",
        "turnovers",
        "personal_fouls",
        "plus_minus",
    )
    assert [dnp[c] for c in stats] == [0] * len(stats)
    assert (dnp["usage_rate"], dnp["ts_pct"], dnp["efg_pct"]) == (None, None, None)
    assert dnp["starter_flag"] is False


def test_pgs_zones_from_play_by_play(wh: DuckDBWarehouse) -> None:
    p = by(rows(wh, PGS, JAN15), "player_lookup")
    zones = (
        "paint_attempts",
        "paint_makes",
        "mid_range_attempts",
        "mid_range_makes",
        "three_attempts_pbp",
        "three_makes_pbp",
        "assisted_fg_makes",
        "unassisted_fg_makes",
    )
    assert [p["lebronjames"][c] for c in zones] == [1, 1, 1, 0, 1, 1, 2, 0]
    assert [p["anthonydavis"][c] for c in zones] == [2, 1, 0, 0, 0, 0, 0, 1]
    assert [p["benchguy"][c] for c in zones] == [0] * 8  # game has pbp, he took no shot
    assert p["lebronjames"]["has_complete_shot_zones"] is True
    no_pbp = by(rows(wh, PGS, JAN16), "player_lookup")["kevindurant"]
    assert [no_pbp[c] for c in zones] == [None] * 8
    assert no_pbp["has_complete_shot_zones"] is False


def test_pgs_current_line_and_outcome(wh: DuckDBWarehouse) -> None:
    p = by(rows(wh, PGS, JAN15), "player_lookup")
    lbj, ad = p["lebronjames"], p["anthonydavis"]
    # Latest snapshot (12:00) held by fanduel 29.5 and betmgm 30.5: betmgm sorts first.
    assert (lbj["points_line"], lbj["over_under_result"]) == (Decimal("30.5"), "UNDER")
    assert lbj["margin"] == Decimal("-0.50")
    assert pick(ad, "points_line", "over_under_result", "margin") == (Decimal(25), "OVER", 0)
    # A player who did not play: the bet is void.
    dnp = p["dnpguy"]
    assert pick(dnp, "points_line", "over_under_result", "margin") == (Decimal("5.5"), None, None)
    assert pick(p["benchguy"], "points_line", "over_under_result", "margin") == (None,) * 3


def test_pgs_usage_null_without_togs_row(wh: DuckDBWarehouse) -> None:
    p = by(rows(wh, PGS, JAN16), "player_lookup")
    assert p["lebronjames"]["minutes_played"] == Decimal("33.0")
    # LAL has no boxscore row on 2024-01-16, so neither team has a TOGS row (win_flag is
    # REQUIRED there): no team totals, no usage rate; the box score is still written.
    assert p["lebronjames"]["usage_rate"] is None
    assert p["kevindurant"]["usage_rate"] is None and p["kevindurant"]["points"] is not None


# --- upcoming_player_game_context -------------------------------------------------------------


def test_upcg_history_is_strictly_before_the_date(wh: DuckDBWarehouse) -> None:
    u = by(rows(wh, UPCG, JAN16), "player_lookup")
    assert set(u) == {"lebronjames", "anthonydavis", "kevindurant"}
    lbj = u["lebronjames"]
    assert pick(lbj, "game_id", "team_abbr", "opponent_team_abbr") == (
        "20240116_LAL_PHX",
        "LAL",
        "PHX",
    )
    assert lbj["home_game"] is False
    # Played on 01-15 (yesterday); 01-13 was a DNP; 12-10 is outside the 30 days; 01-16's own
    # 99 points never count.
    assert (lbj["days_rest"], lbj["back_to_back"]) == (1, True)
    assert (lbj["games_in_last_7_days"], lbj["games_in_last_14_days"]) == (3, 6)
    # Production stores whole minutes (INT64): 94.5 and 184.5 round half away from zero.
    assert lbj["minutes_in_last_7_days"] == 95
    assert lbj["minutes_in_last_14_days"] == 185
    assert lbj["avg_minutes_per_game_last_7"] == stored((30 + 30 + 34.5) / 3, 1)
    assert lbj["points_avg_last_5"] == stored((30 + 30 + 28 + 26 + 24) / 5, 1)
    assert lbj["points_avg_last_10"] == stored((20 + 22 + 24 + 26 + 28 + 30 + 30) / 7, 1)
    assert lbj["season_phase"] == "mid"
    # The last 7 games' usage rates, from player_game_summary itself.
    hist = wh.fetch(
        f"SELECT usage_rate FROM {PGS} WHERE player_lookup = 'lebronjames' "
        "AND game_date BETWEEN @start_date AND @end_date AND minutes_played > 0 "
        "ORDER BY game_date DESC LIMIT 7",
        {"start_date": D(2023, 12, 17), "end_date": JAN15},
    )
    assert len(hist) == 7 and all(h["usage_rate"] is not None for h in hist)
    assert lbj["avg_usage_rate_last_7_games"] == stored(
        float(sum(h["usage_rate"] for h in hist)) / 7, 2
    )


def test_upcg_previous_day(wh: DuckDBWarehouse) -> None:
    u = by(rows(wh, UPCG, JAN15), "player_lookup")
    assert "inactiveguy" not in u and "dnpguy" in u
    lbj = u["lebronjames"]
    assert (lbj["days_rest"], lbj["back_to_back"]) == (3, False)  # 01-12; 01-13 was a DNP
    assert (lbj["games_in_last_7_days"], lbj["games_in_last_14_days"]) == (3, 6)
    assert lbj["points_avg_last_5"] == stored((30 + 28 + 26 + 24 + 22) / 5, 1)
    assert lbj["points_avg_last_10"] == stored((20 + 22 + 24 + 26 + 28 + 30) / 6, 1)
    tatum = u["jaysontatum"]  # only game 36 days earlier: no history
    assert (tatum["days_rest"], tatum["back_to_back"]) == (None, False)
    assert (tatum["games_in_last_7_days"], tatum["minutes_in_last_14_days"]) == (0, 0)
    assert (tatum["points_avg_last_5"], tatum["avg_usage_rate_last_7_games"]) == (None, None)


def test_upcg_lines(wh: DuckDBWarehouse) -> None:
    lbj16 = by(rows(wh, UPCG, JAN16), "player_lookup")["lebronjames"]
    # Opening: 09:00 betmgm 26.5 / draftkings 27.5 -> betmgm; current: 18:00 fanduel 28.5.
    assert lbj16["has_prop_line"] is True
    assert (lbj16["opening_points_line"], lbj16["current_points_line"]) == (26.5, 28.5)
    assert lbj16["line_movement"] == pytest.approx(2.0)
    # PHX (home) -5.5 at 17:00 is the latest spread; caesars' 18:00 row has only a total.
    assert (lbj16["game_spread"], lbj16["game_total"]) == (5.5, 230.0)
    assert by(rows(wh, UPCG, JAN16), "player_lookup")["kevindurant"]["game_spread"] == -5.5
    u15 = by(rows(wh, UPCG, JAN15), "player_lookup")
    assert (
        u15["lebronjames"]["opening_points_line"],
        u15["lebronjames"]["current_points_line"],
    ) == (28.5, 30.5)
    assert (u15["lebronjames"]["game_spread"], u15["jaysontatum"]["game_spread"]) == (-3.0, 3.0)
    bench = u15["benchguy"]
    assert pick(bench, "has_prop_line", "current_points_line", "line_movement") == (
        False,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("day", "phase"),
    [
        (D(2023, 10, 30), "early"),
        (D(2023, 11, 30), "early"),
        (D(2023, 12, 1), "mid"),
        (D(2024, 2, 29), "mid"),
        (D(2024, 3, 1), "late"),
        (D(2024, 4, 30), "late"),
        (D(2024, 5, 2), "playoffs"),
        (D(2024, 6, 14), "playoffs"),
    ],
)
def test_upcg_season_phase(tmp_path: Path, day: dt.date, phase: str) -> None:
    w = open_warehouse(tmp_path / "w.duckdb")
    p2 = Phase2()
    p2.game(day, "BOS", "DAL", players={"DAL": [Player("lukadoncic")]})
    p2.load(w)
    w.ensure_tables(list(catalog.PHASE3))
    w.replace_range(catalog.TABLES[UPCG], day, day)
    (row,) = rows(w, UPCG, day)
    assert row["season_phase"] == phase
    w.close()


# --- upcoming_team_game_context ---------------------------------------------------------------


def test_uptg_schedule_context(wh: DuckDBWarehouse) -> None:
    t = by(rows(wh, UPTG, JAN15), "team_abbr")
    assert set(t) == {"LAL", "BOS"}
    lal, bos = t["LAL"], t["BOS"]
    assert lal["game_id"] == bos["game_id"] == "0022300555"  # the NBA.com id
    assert (lal["opponent_team_abbr"], lal["home_game"], bos["home_game"]) == ("BOS", True, False)
    assert lal["game_number_in_season"] == 10  # 2023-04-09 belongs to season 2022
    assert (lal["days_since_last_game"], lal["is_back_to_back"]) == (2, False)
    assert (lal["games_in_last_7_days"], lal["games_in_last_14_days"]) == (4, 7)
    # W on 01-05, 08, 10, 12, 13 after the L on 01-03; 01-13 was won by 19.
    assert pick(lal, "team_win_streak_entering", "team_loss_streak_entering") == (5, 0)
    assert (lal["last_game_margin"], lal["last_game_result"]) == (19, "W")
    assert (lal["team_days_rest"], lal["team_back_to_back"]) == (1, False)
    assert (lal["game_spread"], bos["game_spread"], lal["game_total"]) == (-3, 3, 225)
    assert pick(bos, "game_number_in_season", "team_loss_streak_entering") == (2, 1)
    assert (bos["last_game_margin"], bos["last_game_result"]) == (-15, "L")
    assert bos["days_since_last_game"] == (JAN15 - D(2023, 12, 10)).days


def test_uptg_back_to_back_and_streak_over_missing_result(wh: DuckDBWarehouse) -> None:
    lal16 = by(rows(wh, UPTG, JAN16), "team_abbr")["LAL"]
    assert (lal16["days_since_last_game"], lal16["is_back_to_back"]) == (1, True)
    assert (lal16["team_days_rest"], lal16["team_back_to_back"]) == (0, True)
    assert pick(lal16, "game_number_in_season", "team_win_streak_entering") == (11, 6)
    assert lal16["last_game_margin"] == 5
    assert (lal16["game_spread"], lal16["game_total"]) == (5.5, 230.0)
    lal18 = by(rows(wh, UPTG, JAN18), "team_abbr")["LAL"]
    # 01-16 has no LAL boxscore: streak and margin come from the last game with a result.
    assert pick(lal18, "game_number_in_season", "team_win_streak_entering") == (12, 6)
    assert lal18["last_game_margin"] == 5
    assert (lal18["days_since_last_game"], lal18["is_back_to_back"]) == (2, False)
    assert (lal18["game_spread"], lal18["game_total"]) == (None, None)  # no lines


def test_uptg_season_opener(wh: DuckDBWarehouse) -> None:
    lal = by(rows(wh, UPTG, OPENER), "team_abbr")["LAL"]
    assert lal["game_id"] == "0022300001"
    assert lal["game_number_in_season"] == 1
    assert pick(lal, "team_win_streak_entering", "team_loss_streak_entering") == (0, 0)
    assert lal["travel_miles"] == 0  # the season's first game: no previous arena
    assert (lal["days_since_last_game"], lal["last_game_margin"]) == (None, None)
    assert (lal["is_back_to_back"], lal["games_in_last_14_days"]) == (False, 0)


def test_uptg_injuries(wh: DuckDBWarehouse) -> None:
    t = by(rows(wh, UPTG, JAN15), "team_abbr")
    # AD (latest: out, 36 min/game) is a starter out; benchguy (12 min/game) is not;
    # roleguy is questionable; lebron's 'out' was reported after the game.
    assert (t["LAL"]["starters_out_count"], t["LAL"]["questionable_players_count"]) == (1, 1)
    # Tatum's only earlier game is 36 days back: not a recent starter.
    assert (t["BOS"]["starters_out_count"], t["BOS"]["questionable_players_count"]) == (0, 0)


# --- every table ------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", PHASE3_SPECS, ids=lambda t: t.table)
def test_one_row_per_key_and_final_games_only(wh: DuckDBWarehouse, spec: TableSpec) -> None:
    audit = wh.key_audit(spec, FIRST, LAST)
    assert audit.rows > 0
    assert (audit.null_keys, audit.duplicate_keys) == (0, 0)
    assert rows(wh, spec.name, JAN17) == []  # 2024-01-17 is not final


@pytest.mark.parametrize("spec", PHASE3_SPECS, ids=lambda t: t.table)
def test_rerun_is_an_exact_replacement(wh: DuckDBWarehouse, spec: TableSpec) -> None:
    before = rows(wh, spec.name, FIRST, LAST)
    result = wh.replace_range(spec, FIRST, LAST)
    assert result.rows_deleted == result.rows_written == len(before)
    assert rows(wh, spec.name, FIRST, LAST) == before


@pytest.mark.parametrize("spec", PHASE3_SPECS, ids=lambda t: t.table)
def test_a_one_day_chunk_equals_the_wide_run(wh: DuckDBWarehouse, spec: TableSpec) -> None:
    """Look-back windows are read from before @start_date, not clipped to the chunk."""
    wide = {d: rows(wh, spec.name, d) for d in (JAN15, JAN16)}
    outside = rows(wh, spec.name, FIRST, D(2024, 1, 14)) + rows(wh, spec.name, JAN17, LAST)
    for d in (JAN16, JAN15):
        wh.replace_range(spec, d, d)
    assert {d: rows(wh, spec.name, d) for d in (JAN15, JAN16)} == wide
    assert rows(wh, spec.name, FIRST, D(2024, 1, 14)) + rows(wh, spec.name, JAN17, LAST) == outside


# --- source tracking (production's source_* columns) ------------------------------------------


def test_same_date_source_tracking_is_what_the_model_read(wh: DuckDBWarehouse) -> None:
    box = wh.fetch(
        "SELECT COUNT(*) AS n, MAX(processed_at) AS last, COUNT(DISTINCT game_id) AS games "
        "FROM nba_raw.nbac_team_boxscore WHERE game_date = @d",
        {"d": JAN15},
    )[0]
    games = wh.schedule(JAN15, JAN15)[JAN15]
    written = wh.fetch(f"SELECT * FROM {TOGS} WHERE game_date = @d", {"d": JAN15})
    assert written
    for row in written:
        assert row["source_nbac_boxscore_rows_found"] == box["n"]
        assert row["source_nbac_boxscore_last_updated"] == box["last"]
        assert float(row["source_nbac_boxscore_completeness_pct"]) == min(
            100.0, round(100 * box["games"] / games, 2)
        )
        assert len(row["source_nbac_boxscore_hash"]) == 16


def test_look_back_source_tracking_counts_the_window(wh: DuckDBWarehouse) -> None:
    pgs = wh.fetch(
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT game_date) AS days FROM {PGS} "
        "WHERE game_date BETWEEN @start_date AND @end_date",
        {"start_date": JAN16 - dt.timedelta(days=30), "end_date": JAN16 - dt.timedelta(days=1)},
    )[0]
    expected_days = list(wh.schedule(JAN16 - dt.timedelta(days=30), JAN16 - dt.timedelta(days=1)))
    row = wh.fetch(f"SELECT * FROM {UPCG} WHERE game_date = @d LIMIT 1", {"d": JAN16})[0]
    assert row["source_boxscore_rows_found"] == pgs["n"] > 0
    pct = min(100.0, round(100 * pgs["days"] / len(expected_days), 2))
    assert float(row["source_boxscore_completeness_pct"]) == pct
