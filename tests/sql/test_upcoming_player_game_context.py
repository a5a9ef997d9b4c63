"""upcoming_player_game_context's columns beyond the first rest and line columns, one test per
column group of the model's header, on a few hand-built rows: values worked out by hand from
the platform's processor (data_processors/analytics/upcoming_player_game_context/).

The world, on 2024-12-10 (D): BOS at LAL and NYK at MIA.
- p1 (BOS) played 11-20, 11-26, 11-27, 12-01, 12-04, 12-05, 12-07, 12-08 (points 30, 10, 12,
  15, 24, 22, 20, 25); his props: draftkings 20.5 and fanduel 19.5 at 10:00, fanduel 20.0 at
  18:00;
- p2 (LAL) played 12-05, 12-07, 12-08 (30, 12, 10); one prop, betmgm 20.0;
- p3 (LAL, DNP on D) and p4 (MIA) have no history and no props;
- p5 (MIA) was loaded active, then reloaded inactive; p6 (MIA) plays NYK on 2024-10-25 (OCT).
BOS at LAL lines (LAL's spread): fanduel -3.5 / 220.5 and draftkings -4.0 / 221.0 at 10:00,
draftkings -5.5 / 224.0 and betmgm -5.0 (no total) at 18:00. NYK at MIA: fanduel's spread only,
0.0 at 10:00 and -2.0 at 18:00.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from nba_backfill.catalog import PGS, TABLES, TDGS, TOGS, UPCG
from nba_backfill.phase2 import GAMEBOOK, INJURY_REPORT, PLAYERS_REGISTRY
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from tests.sql.fixtures import insert_rows as _insert

from .fixtures import LOADED, Phase2, Player, game_id

D = dt.date(2024, 12, 10)
OCT = dt.date(2024, 10, 25)  # p6's game: 24 days into the season

HISTORY = {
    "p1": [
        (dt.date(2024, 11, 20), 30),
        (dt.date(2024, 11, 26), 10),
        (dt.date(2024, 11, 27), 12),
        (dt.date(2024, 12, 1), 15),
        (dt.date(2024, 12, 4), 24),
        (dt.date(2024, 12, 5), 22),
        (dt.date(2024, 12, 7), 20),
        (dt.date(2024, 12, 8), 25),
    ],
    "p2": [
        (dt.date(2024, 12, 5), 30),
        (dt.date(2024, 12, 7), 12),
        (dt.date(2024, 12, 8), 10),
    ],
}


# team_context.py's inputs: (team, date, pace) of team_offense_game_summary and (defending
# team, date, defensive_rating, opp FTA, opponent pace) of team_defense_game_summary.
TEAM_PACE = [
    ("BOS", dt.date(2024, 12, 8), 100.0),
    ("BOS", dt.date(2024, 12, 6), 98.5),
    ("LAL", dt.date(2024, 12, 7), 102.0),
    ("LAL", dt.date(2024, 12, 5), 101.0),
    ("LAL", dt.date(2024, 12, 3), 103.0),
    ("MIA", dt.date(2024, 9, 28), 120.0),  # before team_context.py's 2024-10-01: not read
    ("MIA", dt.date(2024, 10, 23), 95.0),
]
TEAM_DEFENSE = [
    ("BOS", dt.date(2024, 12, 8), 110.0, 20, 100.0),
    ("BOS", dt.date(2024, 12, 6), 112.5, 25, 98.5),
    ("BOS", dt.date(2024, 12, 4), 109.0, None, 99.0),  # no FTA: not in the FT rate
    ("LAL", dt.date(2024, 12, 7), 105.0, 18, 90.0),
]


def _at(hour: int) -> dt.datetime:
    return dt.datetime(2024, 12, 10, hour, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    path = tmp_path_factory.mktemp("upcg") / "w.duckdb"
    w = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    w.ensure_tables([TABLES[t] for t in (PGS, UPCG, TOGS, TDGS)])
    _insert(
        w,
        TOGS,
        [
            {"game_date": day, "team_abbr": team, "game_id": f"g{team}{day:%m%d}", "pace": pace}
            for team, day, pace in TEAM_PACE
        ],
    )
    _insert(
        w,
        TDGS,
        [
            {
                "game_date": day,
                "defending_team_abbr": team,
                "game_id": f"g{team}{day:%m%d}",
                "defensive_rating": rating,
                "opp_ft_attempts": fta,
                "opponent_pace": pace,
            }
            for team, day, rating, fta, pace in TEAM_DEFENSE
        ],
    )
    _insert(
        w,
        PGS,
        [
            {
                "game_date": day,
                "player_lookup": p,
                "team_abbr": "BOS" if p == "p1" else "LAL",
                "season_year": 2024,
                "minutes_played": 30.0,
                "points": pts,
            }
            for p, games in HISTORY.items()
            for day, pts in games
        ],
    )
    raw = Phase2()
    raw.game(
        D,
        "BOS",
        "LAL",
        players={
            "BOS": [Player("p1")],
            "LAL": [Player("p2"), Player("p3", status="dnp")],
        },
    )
    raw.game(D, "NYK", "MIA", players={"MIA": [Player("p4"), Player("p5")]})
    # 23:00 UTC on 10-25: 7:00 PM Eastern daylight time
    raw.game(
        OCT,
        "NYK",
        "MIA",
        players={"MIA": [Player("p6")]},
        tip=dt.datetime(2024, 10, 25, 23, tzinfo=dt.UTC),
    )
    # p5's later load marks him inactive: the status filter comes first, so the active load
    # is the latest one kept and he stays on the roster.
    raw.add(
        GAMEBOOK,
        game_id=game_id(D, "NYK", "MIA"),
        game_date=D,
        season_year=2024,
        team_abbr="MIA",
        player_lookup="p5",
        player_name="P5",
        player_name_original="P5",
        player_status="inactive",
        processed_at=dt.datetime(2024, 12, 11, tzinfo=dt.UTC),
    )
    raw.prop(D, "BOS", "LAL", "p1", "draftkings", 20.5, _at(10))
    raw.prop(D, "BOS", "LAL", "p1", "fanduel", 19.5, _at(10))
    raw.prop(D, "BOS", "LAL", "p1", "fanduel", 20.0, _at(18))
    raw.prop(D, "BOS", "LAL", "p2", "betmgm", 20.0, _at(12))
    raw.game_line(D, "BOS", "LAL", "fanduel", -3.5, 220.5, _at(10))
    raw.game_line(D, "BOS", "LAL", "draftkings", -4.0, 221.0, _at(10))
    raw.game_line(D, "BOS", "LAL", "draftkings", -5.5, 224.0, _at(18))
    raw.game_line(D, "BOS", "LAL", "betmgm", -5.0, None, _at(18))
    raw.game_line(D, "NYK", "MIA", "fanduel", 0.0, None, _at(10))
    raw.game_line(D, "NYK", "MIA", "fanduel", -2.0, None, _at(18))
    # p3: Questionable on the 12-09 report, Out on the 12-10 one (the latest report wins)
    raw.injury(dt.date(2024, 12, 9), D, "LAL", "p3", "Questionable")
    raw.injury(D, D, "LAL", "p3", "Out")
    # p2: no reason given, only its category
    raw.add(
        INJURY_REPORT,
        report_date=D,
        report_hour=17,
        game_date=D,
        game_id=game_id(D, "BOS", "LAL"),
        team="LAL",
        player_lookup="p2",
        injury_status="Probable",
        reason="Unknown",
        reason_category="injury",
        processed_at=dt.datetime(2024, 12, 10, 18, tzinfo=dt.UTC),
    )
    # p1 registered with two teams (two ids): the lowest; p4 not registered
    for uid, lookup, team in (
        ("p1_002", "p1", "NYK"),
        ("p1_001", "p1", "BOS"),
        ("p2_001", "p2", "LAL"),
    ):
        raw.add(
            PLAYERS_REGISTRY,
            universal_player_id=uid,
            player_name=lookup.title(),
            player_lookup=lookup,
            team_abbr=team,
            season="2024-25",
            created_by="fixture",
            created_at=LOADED,
            processed_at=LOADED,
        )
    raw.load(w)
    w.replace_range(TABLES[UPCG], OCT, D)
    got = w.fetch(f"SELECT * FROM {UPCG}")
    grain = w.grain_dates(TABLES[UPCG], OCT, D)
    yield {r["player_lookup"]: r | {"_grain": grain} for r in got}
    w.close()


def test_roster_filters_status_before_the_latest_load(context: dict) -> None:
    assert sorted(context) == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert context["p5"]["team_abbr"] == "MIA"
    # the expected set (reads/expected/upcoming_players.sql) selects the same players
    assert context["p1"]["_grain"] == {}


def test_rest_history(context: dict) -> None:
    p1 = context["p1"]
    # last games 12-08 and 12-07: one day between them; the latest game after a 2+ day gap is
    # 12-07 (12-05 before it), 3 days before D; pairs on consecutive days among his games on
    # [11-27, 12-09]: 12-04/12-05 and 12-07/12-08 (11-26/11-27 reaches outside the window)
    assert (
        p1["days_rest"],
        p1["days_rest_before_last_game"],
        p1["days_since_2_plus_days_rest"],
        p1["back_to_backs_last_14_days"],
    ) == (2, 1, 3, 2)
    p2 = context["p2"]  # 12-08, 12-07 (1 day), 12-05 (2 days): the gap follows 12-07
    assert (p2["days_rest_before_last_game"], p2["days_since_2_plus_days_rest"]) == (1, 3)
    assert p2["back_to_backs_last_14_days"] == 1
    p3 = context["p3"]
    assert (p3["days_rest_before_last_game"], p3["days_since_2_plus_days_rest"]) == (None, None)
    assert p3["back_to_backs_last_14_days"] == 0
    assert (p1["fourth_quarter_minutes_last_7"], p1["clutch_minutes_last_7_games"]) == (None, None)


def test_prop_streaks(context: dict) -> None:
    # p1 against 20.0: 25 over, 20 push (neither counts nor breaks), 22 and 24 over, 15 under
    assert (context["p1"]["prop_over_streak"], context["p1"]["prop_under_streak"]) == (3, 0)
    # p2 against 20.0: 10 and 12 under, then 30 over
    assert (context["p2"]["prop_over_streak"], context["p2"]["prop_under_streak"]) == (0, 2)
    # no line: no streak
    assert (context["p4"]["prop_over_streak"], context["p4"]["prop_under_streak"]) == (0, 0)
    assert context["p1"]["shooting_pct_decline_last_5"] is None


def test_line_sources(context: dict) -> None:
    p1 = context["p1"]
    # opening: the earliest snapshot, then the first bookmaker; current: the latest snapshot
    assert (p1["opening_points_line_source"], p1["current_points_line_source"]) == (
        "draftkings",
        "fanduel",
    )
    assert (float(p1["opening_points_line"]), float(p1["current_points_line"])) == (20.5, 20.0)
    assert context["p2"]["current_points_line_source"] == "betmgm"
    assert context["p4"]["opening_points_line_source"] is None


def test_spread_and_total_opening_movement_and_source(context: dict) -> None:
    lal, bos = context["p2"], context["p1"]
    # current: 18:00, betmgm -5.0 (first bookmaker); opening: 10:00, draftkings -4.0
    assert (float(lal["game_spread"]), float(lal["opening_spread"])) == (-5.0, -4.0)
    assert float(lal["spread_movement"]) == -1.0
    assert (float(bos["game_spread"]), float(bos["opening_spread"])) == (5.0, 4.0)
    assert float(bos["spread_movement"]) == 1.0
    assert lal["game_spread_source"] == "betmgm,draftkings"
    # totals: 224.0 at 18:00 (draftkings alone), 221.0 at 10:00 (draftkings first)
    assert (float(lal["game_total"]), float(lal["opening_total"])) == (224.0, 221.0)
    assert float(lal["total_movement"]) == 3.0
    assert lal["game_total_source"] == "draftkings"
    mia = context["p4"]
    # a pick'em opening (0.0) gives no movement: the processor's `if opening and current`
    assert (float(mia["game_spread"]), float(mia["opening_spread"])) == (-2.0, 0.0)
    assert mia["spread_movement"] is None
    assert (mia["game_total"], mia["opening_total"], mia["total_movement"]) == (None, None, None)
    assert mia["game_total_source"] is None


def test_quality_columns(context: dict) -> None:
    p1, p2, p4 = context["p1"], context["p2"], context["p4"]
    # 8 games in the 30 days: silver; 3: bronze without the thin-sample issue; 0: bronze, thin
    assert (p1["quality_tier"], p1["data_quality_tier"], p1["quality_score"]) == (
        "silver",
        "silver",
        75.0,
    )
    assert list(p1["quality_issues"]) == []
    assert p1["processed_with_issues"] is False
    assert (p2["quality_tier"], p2["quality_score"], list(p2["quality_issues"])) == (
        "bronze",
        50.0,
        [],
    )
    assert list(p4["quality_issues"]) == ["missing_game_total", "thin_sample:0/3"]
    assert p4["processed_with_issues"] is True
    assert list(p1["data_sources"]) == ["player_game_summary"]
    assert p1["primary_source_used"] == "player_game_summary"
    assert list(p1["data_quality_issues"]) == []  # the builder overwrites the legacy list


def test_builder_constants(context: dict) -> None:
    p1 = context["p1"]
    assert (
        p1["next_game_days_rest"],
        p1["games_in_next_7_days"],
        p1["next_opponent_win_pct"],
        p1["next_game_is_primetime"],
        p1["opponent_days_rest"],
        p1["opponent_games_in_next_7_days"],
        p1["opponent_next_game_days_rest"],
        p1["projected_usage_rate"],
        p1["probable_teammates"],
    ) == (0, 0, None, False, 0, 0, 0, None, None)
    assert (
        p1["reprocess_attempt_count"],
        p1["circuit_breaker_active"],
        p1["circuit_breaker_until"],
        p1["last_reprocess_attempt_at"],
        p1["manual_override_required"],
        p1["processing_decision_reason"],
        p1["context_version"],
    ) == (0, False, None, None, False, "processed_successfully", 1)
    assert (p1["travel_miles"], p1["time_zone_changes"]) == (None, None)


def test_season_boundary_and_bootstrap(context: dict) -> None:
    # December 10: 70 days after October 1, not a boundary month
    p1 = context["p1"]
    assert (p1["season_boundary_detected"], p1["backfill_bootstrap_mode"]) == (False, False)
    # October 25: 24 days after October 1, in a boundary month
    p6 = context["p6"]
    assert (p6["season_boundary_detected"], p6["backfill_bootstrap_mode"]) == (True, True)


def test_injury_status_and_report(context: dict) -> None:
    p3, p2 = context["p3"], context["p2"]
    assert (p3["player_status"], p3["injury_report"]) == (
        "Out",
        "Injury/Illness - Left Ankle; Sprain",
    )
    assert (p2["player_status"], p2["injury_report"]) == ("Probable", "injury")
    assert (context["p1"]["player_status"], context["p1"]["injury_report"]) == (None, None)
    assert context["p1"]["questionable_teammates"] is None  # the builder never writes it


def test_universal_player_id_from_the_registry(context: dict) -> None:
    assert context["p1"]["universal_player_id"] == "p1_001"
    assert context["p2"]["universal_player_id"] == "p2_001"
    assert context["p4"]["universal_player_id"] is None


# Production's completeness checker (calculators/completeness_checker_helper.py over
# shared/utils/completeness_checker.py, DNP-aware, upstream the gamebook), on D and on 11-29.
# BOS's final games before D: 11-05, then 11-22, 11-25, 11-27, 11-29, 12-01, 12-03, 12-05,
# 12-07, 12-08 (days before D: 35, 18, 15, 13, 11, 9, 7, 5, 3, 2): expected L5 5, L10 10,
# L7d 4, L14d 7, L30d 9.
BOS_GAMES = [
    dt.date(2024, 11, 5),
    *(dt.date(2024, 11, d) for d in (22, 25, 27)),
    *(dt.date(2024, 12, d) for d in (1, 3, 5, 7, 8)),
]
NOV = dt.date(2024, 11, 29)  # a BOS game too, in a boundary month


@pytest.fixture(scope="module")
def completeness(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[tuple[str, dt.date], dict[str, Any]]]:
    path = tmp_path_factory.mktemp("upcg_cc") / "w.duckdb"
    w = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    w.ensure_tables([TABLES[t] for t in (PGS, UPCG, TOGS, TDGS)])
    pgs = [
        # ca: NYK earlier, BOS latest; cb and cn: BOS; ct: LAL earlier, BOS latest (on D he
        # plays for LAL: the checker's team is his latest summary row's)
        ("ca", dt.date(2024, 11, 5), "NYK"),
        ("ca", dt.date(2024, 12, 8), "BOS"),
        ("cb", dt.date(2024, 12, 8), "BOS"),
        ("cn", dt.date(2024, 11, 27), "BOS"),
        ("ct", dt.date(2024, 11, 5), "LAL"),
        ("ct", dt.date(2024, 12, 3), "BOS"),
        ("ce", dt.date(2024, 12, 9), "TIE"),
    ]
    _insert(
        w,
        PGS,
        [
            {
                "game_date": day,
                "player_lookup": p,
                "team_abbr": team,
                "season_year": 2024,
                "minutes_played": 30.0,
                "points": 10,
            }
            for p, day, team in pgs
        ],
    )
    raw = Phase2()
    for day in BOS_GAMES:
        raw.schedule(day, "NYK", "BOS")
    # tips: 17:00 UTC on 11-29 (noon Eastern), 00:30 UTC on 12-11 (7:30 pm on D)
    raw.game(
        NOV,
        "NYK",
        "BOS",
        players={"BOS": [Player("cn")]},
        tip=dt.datetime(2024, 11, 29, 17, tzinfo=dt.UTC),
    )
    # ca's gamebook: 11-29 and 12-05 DNP (no minutes), 12-01 active with '00:00' (a DNP too);
    # no row on 11-25 (a gap); his own game on D is not counted
    ca_rows = {
        dt.date(2024, 11, 22): Player("ca"),
        dt.date(2024, 11, 27): Player("ca"),
        NOV: Player("ca", status="dnp"),
        dt.date(2024, 12, 1): Player("ca", minutes="00:00"),
        dt.date(2024, 12, 3): Player("ca"),
        dt.date(2024, 12, 5): Player("ca", status="dnp"),
        dt.date(2024, 12, 7): Player("ca"),
        dt.date(2024, 12, 8): Player("ca"),
    }
    for day, p in ca_rows.items():
        raw.player(day, "NYK", "BOS", "BOS", p)
    for day in (dt.date(2024, 12, 7), dt.date(2024, 12, 8)):
        raw.player(day, "NYK", "BOS", "BOS", Player("cb"))
    raw.player(dt.date(2024, 12, 3), "NYK", "BOS", "BOS", Player("ct"))
    # TIE plays every day from 11-24 to 12-09 (16 games in the 30 days); ce played its 12-09
    for back in range(1, 17):
        raw.schedule(D - dt.timedelta(days=back), "NYK", "TIE")
    raw.player(dt.date(2024, 12, 9), "NYK", "TIE", "TIE", Player("ce"))
    raw.game(
        D,
        "BOS",
        "LAL",
        players={
            "BOS": [Player("ca"), Player("cb"), Player("cc")],
            "LAL": [Player("ct"), Player("ce")],
        },
        tip=dt.datetime(2024, 12, 11, 0, 30, tzinfo=dt.UTC),
    )
    raw.load(w)
    w.replace_range(TABLES[UPCG], D, D)
    w.replace_range(TABLES[UPCG], NOV, NOV)
    got = w.fetch(f"SELECT * FROM {UPCG}")
    yield {(r["player_lookup"], r["game_date"]): r for r in got}
    w.close()


WINDOWS = ("l5", "l10", "l7d", "l14d", "l30d")


def _windows(row: dict[str, Any]) -> list[tuple[float, bool]]:
    return [(row[f"{n}_completeness_pct"], row[f"{n}_is_complete"]) for n in WINDOWS]


def _summary(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["expected_games_count"],
        row["actual_games_count"],
        row["completeness_percentage"],
        row["missing_games_count"],
        row["is_production_ready"],
        row["all_windows_complete"],
    )


def test_completeness_dnp_aware_windows(completeness: dict) -> None:
    ca = completeness["ca", D]
    # actual: his 8 gamebook dates of the 30 days (DNPs included, not capped at N); in 7 days
    # 12-08, 12-07, 12-05, 12-03 (4), in 14 days 7. DNPs: L5 (his latest 5 rows: 12-08, 12-07,
    # 12-05, 12-03, 12-01) 2, L10 3, L7d 1 (12-05), L14d 3, L30d 3.
    # L5 8 / (5 - 2) = 266.7, L10 8 / (10 - 3) = 114.3, L7d 4 / (4 - 1) = 133.3,
    # L14d 7 / (7 - 3) = 175.0, L30d 8 / (9 - 3) = 133.3: all complete (actual >= adjusted)
    assert _windows(ca) == [
        (266.7, True),
        (114.3, True),
        (133.3, True),
        (175.0, True),
        (133.3, True),
    ]
    # the row's counts are L30d's: expected 9 (before the DNPs), missing max(0, 6 - 8)
    assert _summary(ca) == (9, 8, 133.3, 0, True, True)


def test_completeness_incomplete_player(completeness: dict) -> None:
    cb = completeness["cb", D]
    # 2 gamebook dates, no DNP: 2/5, 2/10, 2/4, 2/7 = 28.57, 2/9 = 22.22
    assert _windows(cb) == [
        (40.0, False),
        (20.0, False),
        (50.0, False),
        (28.6, False),
        (22.2, False),
    ]
    # under 70 % in December (no boundary, no bootstrap): not production-ready
    assert _summary(cb) == (9, 2, 22.2, 7, False, False)


def test_completeness_latest_team_and_no_team(completeness: dict) -> None:
    # ct plays for LAL on D, but his latest summary row is BOS's (12-03): BOS's games are
    # expected; one gamebook date (12-03, 7 days before): 1/5, 1/10, 1/4, 1/7, 1/9
    ct = completeness["ct", D]
    assert [pct for pct, _ in _windows(ct)] == [20.0, 10.0, 25.0, 14.3, 11.1]
    assert _summary(ct) == (9, 1, 11.1, 8, False, False)
    # cc has no summary row: no team, nothing expected, complete at 100
    cc = completeness["cc", D]
    assert _windows(cc) == [(100.0, True)] * 5
    assert _summary(cc) == (0, 0, 100.0, 0, True, True)


def test_completeness_boundary_month_is_production_ready(completeness: dict) -> None:
    # 11-29: BOS's games before it 11-05, 11-22, 11-25, 11-27 (L7d 1, L14d 3, L30d 4); cn has
    # no gamebook row before: 0 % everywhere, yet production-ready in November (the checker's
    # season boundary)
    cn = completeness["cn", NOV]
    assert _windows(cn) == [(0.0, False)] * 5
    assert _summary(cn) == (4, 0, 0.0, 4, True, False)
    assert cn["season_boundary_detected"] is True


def test_completeness_rounds_half_to_even(completeness: dict) -> None:
    # ce: 1 of TIE's 16 games of the 30 days: 1 / 16 * 100 = 6.25, which Python's round(x, 1)
    # (the checker's) makes 6.2, not 6.3; 1/7 = 14.29, 1/14 = 7.14, 1/5, 1/10
    ce = completeness["ce", D]
    assert [pct for pct, _ in _windows(ce)] == [20.0, 10.0, 14.3, 7.1, 6.2]
    assert _summary(ce) == (16, 1, 6.2, 15, False, False)


def test_game_start_time_local(completeness: dict, context: dict) -> None:
    # _extract_game_time: the tip in America/New_York (the processor's schedule query has no
    # arena zone), '%I:%M %p' without the leading zero, ' ET'
    assert completeness["ca", D]["game_start_time_local"] == "7:30 PM ET"
    assert completeness["ct", D]["game_start_time_local"] == "7:30 PM ET"  # the home side too
    assert completeness["cn", NOV]["game_start_time_local"] == "12:00 PM ET"
    assert context["p6"]["game_start_time_local"] == "7:00 PM ET"  # daylight time in October
    assert context["p1"]["game_start_time_local"] is None  # no tip-off in the schedule


def test_team_context_last_10(context: dict) -> None:
    p1, p2, p6 = context["p1"], context["p2"], context["p6"]
    # BOS's pace 99.25, LAL's 102.0: -2.75 / 2.75 (rounded to 2), stored NUMERIC(5,1)
    assert (float(p1["pace_differential"]), float(p1["opponent_pace_last_10"])) == (-2.8, 102.0)
    assert (float(p2["pace_differential"]), float(p2["opponent_pace_last_10"])) == (2.8, 99.3)
    # LAL allowed 18 FTA on 90.0 possessions: 20.000; BOS 20 / 100.0 and 25 / 98.5 (25.381,
    # the 12-04 game has no FTA): mean 22.6905, rounded to 22.691; defensive ratings 105.0 and
    # (110.0 + 112.5 + 109.0) / 3 = 110.5
    assert (float(p1["opponent_ft_rate_allowed"]), float(p1["opponent_def_rating_last_10"])) == (
        20.0,
        105.0,
    )
    assert (float(p2["opponent_ft_rate_allowed"]), float(p2["opponent_def_rating_last_10"])) == (
        22.691,
        110.5,
    )
    # 10-25: MIA's 09-28 game is before the floor (95.0 only); NYK has no game: 0.0 throughout
    assert (float(p6["pace_differential"]), float(p6["opponent_pace_last_10"])) == (0.0, 0.0)
    assert (float(p6["opponent_ft_rate_allowed"]), float(p6["opponent_def_rating_last_10"])) == (
        0.0,
        0.0,
    )


# --- team_context.py's floor and look-back, one world per case ---------------------------------
# EARLY: before production's literal floor (game_date >= '2024-10-01'): its 0.0 fallbacks even
# with games in the 30 days. LATE: NYK has 12 games in the 30 days, 10 of them read. EDGE: the
# floor's own day (10-01 read, 09-30 not). OFFSEASON: the documented divergence (the 30-day
# look-back does not reach April's games, where production would).
EARLY = dt.date(2024, 4, 10)
LATE = dt.date(2024, 12, 20)
EDGE = dt.date(2024, 10, 24)
OFFSEASON = dt.date(2025, 10, 25)

# NYK's games before LATE, most recent first: (date, pace, defensive rating, opp FTA, opp pace)
NYK_GAMES = [
    (dt.date(2024, 12, 18), 95.0, 114.5, None, 100.0),  # no FTA: the FT rate reaches the 11th
    (dt.date(2024, 12, 16), 98.0, 110.0, 20, 100.0),
    (dt.date(2024, 12, 14), 100.0, 112.0, 22, 100.0),
    (dt.date(2024, 12, 12), 102.0, 108.0, 24, 100.0),
    (dt.date(2024, 12, 10), 104.0, 115.0, 18, 100.0),
    (dt.date(2024, 12, 8), 97.0, 105.0, 25, 96.0),
    (dt.date(2024, 12, 6), 99.0, 111.0, 21, 100.0),
    (dt.date(2024, 12, 4), 101.0, 109.0, 19, 100.0),
    (dt.date(2024, 12, 2), 103.0, 113.0, 23, 100.0),
    (dt.date(2024, 11, 30), 97.0, 107.0, 20, 100.0),
    (dt.date(2024, 11, 28), 130.0, 150.0, 30, 100.0),  # 11th: in the FT rate only
    (dt.date(2024, 11, 26), 130.0, 150.0, 50, 100.0),  # 12th: never
]
# (team, date, pace, defensive rating, opp FTA, opp pace) of the other teams
OTHER_GAMES = [
    ("MIA", dt.date(2024, 12, 17), 101.0, 109.0, 20, 100.0),
    ("MIA", dt.date(2024, 12, 15), 100.0, 111.0, 22, 100.0),
    ("MIA", dt.date(2024, 12, 13), 102.0, 113.0, 24, 100.0),
    # before the floor, in EARLY's 30 days
    ("BOS", dt.date(2024, 4, 8), 99.0, 110.0, 20, 100.0),
    ("LAL", dt.date(2024, 4, 7), 101.0, 112.0, 22, 100.0),
    # around the floor, in EDGE's 30 days
    ("LAL", dt.date(2024, 9, 30), 130.0, 150.0, 40, 100.0),
    ("BOS", dt.date(2024, 10, 1), 98.0, 111.0, 21, 100.0),
    ("LAL", dt.date(2024, 10, 22), 104.0, 108.25, 22, 88.0),
    ("BOS", dt.date(2024, 10, 22), 101.0, None, None, None),  # a box without a defense row
    # the prior season's last games, 6 months before OFFSEASON
    ("BOS", dt.date(2025, 4, 12), 99.0, 110.0, 20, 100.0),
    ("LAL", dt.date(2025, 4, 13), 101.0, 112.0, 22, 100.0),
]


@pytest.fixture(scope="module")
def team_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    path = tmp_path_factory.mktemp("upcg_team") / "w.duckdb"
    w = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    w.ensure_tables([TABLES[t] for t in (PGS, UPCG, TOGS, TDGS)])
    games = [("NYK", *g) for g in NYK_GAMES] + OTHER_GAMES
    _insert(
        w,
        TOGS,
        [
            {"game_date": day, "team_abbr": team, "game_id": f"g{team}{day:%y%m%d}", "pace": pace}
            for team, day, pace, *_ in games
        ],
    )
    _insert(
        w,
        TDGS,
        [
            {
                "game_date": day,
                "defending_team_abbr": team,
                "game_id": f"g{team}{day:%y%m%d}",
                "defensive_rating": rating,
                "opp_ft_attempts": fta,
                "opponent_pace": opp_pace,
            }
            for team, day, _, rating, fta, opp_pace in games
            if rating is not None
        ],
    )
    raw = Phase2()
    raw.game(LATE, "NYK", "MIA", players={"NYK": [Player("n1")], "MIA": [Player("m1")]})
    raw.game(EARLY, "BOS", "LAL", players={"BOS": [Player("e1")], "LAL": [Player("e2")]})
    raw.game(EDGE, "BOS", "LAL", players={"BOS": [Player("f1")], "LAL": [Player("f2")]})
    raw.game(OFFSEASON, "BOS", "LAL", players={"BOS": [Player("o1")], "LAL": [Player("o2")]})
    raw.load(w)
    for day in (EARLY, EDGE, LATE, OFFSEASON):
        w.replace_range(TABLES[UPCG], day, day)
    got = w.fetch(f"SELECT * FROM {UPCG}")
    yield {
        r["player_lookup"]: {
            c: float(r[c])
            for c in (
                "pace_differential",
                "opponent_pace_last_10",
                "opponent_ft_rate_allowed",
                "opponent_def_rating_last_10",
            )
        }
        for r in got
    }
    w.close()


def _ctx(pace_diff: float, opp_pace: float, ft_rate: float, def_rating: float) -> dict:
    return {
        "pace_differential": pace_diff,
        "opponent_pace_last_10": opp_pace,
        "opponent_ft_rate_allowed": ft_rate,
        "opponent_def_rating_last_10": def_rating,
    }


def test_team_context_before_the_floor_is_the_fallback(team_context: dict) -> None:
    # 04-08 and 04-07 are in the 30 days but before 2024-10-01: no game read, 0.0 throughout
    assert team_context["e1"] == team_context["e2"] == _ctx(0.0, 0.0, 0.0, 0.0)


def test_team_context_reads_the_last_10_games(team_context: dict) -> None:
    # NYK's 10 latest paces (12-18 .. 11-30) sum to 996.0: 99.6; MIA's three 303.0: 101.0
    # NYK's 10 latest defensive ratings sum to 1104.5: 110.45 (the 11th and 12th, 150.0, not)
    # NYK's FT rate: 12-18 has no FTA, so the 10 latest with one are 12-16 .. 11-28: 20, 22, 24,
    # 18, 25 * 100 / 96.0 = 26.042, 21, 19, 23, 20, 30 = 223.042 / 10 = 22.3042 -> 22.304
    assert team_context["m1"] == _ctx(1.4, 99.6, 22.304, 110.45)
    # MIA allowed 20, 22, 24 per 100.0: 22.0; ratings 109, 111, 113: 111.0
    assert team_context["n1"] == _ctx(-1.4, 101.0, 22.0, 111.0)


def test_team_context_from_the_floor_day_on(team_context: dict) -> None:
    # LAL's 09-30 game (130.0) is before the floor: 104.0 only; BOS 10-01 and 10-22: 99.5
    # (its 10-22 game has no defense row: defense 10-01 only, 21 per 100.0, rating 111.0);
    # LAL allowed 22 on 88.0 possessions: 25.0, rating 108.25
    assert team_context["f1"] == _ctx(-4.5, 104.0, 25.0, 108.25)
    assert team_context["f2"] == _ctx(4.5, 99.5, 21.0, 111.0)


def test_team_context_after_an_offseason_is_the_fallback(team_context: dict) -> None:
    # The documented divergence: production would average April's games (BOS 99.0, LAL
    # 101.0); the 30-day look-back holds none, so 0.0 until the season's first games
    assert team_context["o1"] == team_context["o2"] == _ctx(0.0, 0.0, 0.0, 0.0)
