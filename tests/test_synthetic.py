"""The synthetic Phase 2 generator: calendar targets, internal consistency, partial odds,
determinism and loading into DuckDB.

The generator writes production's raw tables; the fixtures below read them the way the models do
(the latest schedule version of each expected game, box scores by production's column names,
field-goal events of the play-by-play, one spread/total per game-line snapshot) and give the
tests the short vocabulary they check consistency in."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import re
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from typing import Any

import pytest

from devtools.synthetic import (
    DEFAULT_FINAL_THROUGH,
    PREGAME_DAYS,
    SYNTHETIC_OPENERS,
    TEAMS,
    generate,
)
from nba_backfill.calendar import BOOTSTRAP_DAYS, season_year
from nba_backfill.phase2 import (
    GAME_LINES,
    GAMEBOOK,
    INJURY_REPORT,
    PLAY_BY_PLAY,
    PLAYER_PROPS,
    RAW_TABLES,
    SCHEDULE,
    TEAM_BOXSCORE,
)

Rows = list[dict[str, Any]]
END = DEFAULT_FINAL_THROUGH
# The seasons the default range generates (2026-27 only starts after it).
SEASON_OPENERS = {s: o for s, o in SYNTHETIC_OPENERS.items() if o <= END}


def _dicts(data: dict[str, list[tuple[Any, ...]]], table: Any) -> Rows:
    return [dict(zip(table.column_names, r, strict=True)) for r in data[table.name]]


@pytest.fixture(scope="module")
def data() -> dict[str, list[tuple[Any, ...]]]:
    return generate()


def _game_id(day: dt.date, away: str, home: str) -> str:
    return f"{day:%Y%m%d}_{away}_{home}"


@pytest.fixture(scope="module")
def raw_schedule(data: dict[str, list[tuple[Any, ...]]]) -> Rows:
    return _dicts(data, SCHEDULE)


@pytest.fixture(scope="module")
def schedule(raw_schedule: Rows) -> Rows:
    """The latest version of each game (production's v_nbac_schedule_latest rule) without the
    All-Star game, with game_id YYYYMMDD_AWAY_HOME and the NBA.com id as nba_game_id."""
    latest: dict[tuple[str, dt.date], dict[str, Any]] = {}
    for g in raw_schedule:
        key = (g["game_id"], g["game_date"])
        if key not in latest or (g["game_status"], g["processed_at"]) > (
            latest[key]["game_status"],
            latest[key]["processed_at"],
        ):
            latest[key] = g
    return [
        {
            **g,
            "game_id": _game_id(g["game_date"], g["away_team_tricode"], g["home_team_tricode"]),
            "nba_game_id": g["game_id"],
            "home_team_abbr": g["home_team_tricode"],
            "away_team_abbr": g["away_team_tricode"],
        }
        for g in sorted(latest.values(), key=lambda g: (g["game_date"], g["game_id"]))
        if not g["is_all_star"]
    ]


@pytest.fixture(scope="module")
def gamebook(data: dict[str, list[tuple[Any, ...]]]) -> Rows:
    return _dicts(data, GAMEBOOK)


@pytest.fixture(scope="module")
def boxscore(data: dict[str, list[tuple[Any, ...]]]) -> Rows:
    """Team box scores in the gamebook's column names, minutes as whole team minutes."""
    names = {
        "fg_made": "field_goals_made",
        "fg_attempted": "field_goals_attempted",
        "three_pt_made": "three_pointers_made",
        "three_pt_attempted": "three_pointers_attempted",
        "ft_made": "free_throws_made",
        "ft_attempted": "free_throws_attempted",
    }
    rows = [{names.get(k, k): v for k, v in r.items()} for r in _dicts(data, TEAM_BOXSCORE)]
    teams: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        assert re.fullmatch(r"\d{3}:00", r["minutes"])
        r["minutes"] = int(r["minutes"].split(":")[0])
        teams[r["game_id"]].append(r["team_abbr"])
    for r in rows:
        r["opponent_team_abbr"] = next(t for t in teams[r["game_id"]] if t != r["team_abbr"])
    return rows


def _shots(data: dict[str, list[tuple[Any, ...]]]) -> Rows:
    """Field-goal events as shots: shooter, team, zone, made, assisted, blocked."""
    out = []
    for e in _dicts(data, PLAY_BY_PLAY):
        if e["event_type"] == "freethrow":
            assert e["shot_type"] == "FT"
            continue
        assert e["shot_type"] == e["event_type"].upper() and e["shot_type"] in ("2PT", "3PT")
        zone = (
            "three"
            if e["shot_type"] == "3PT"
            else "paint"
            if e["shot_distance"] <= 8.0
            else "mid_range"
        )
        out.append(
            {
                **e,
                "team_abbr": e["player_1_team_abbr"],
                "player_lookup": e["player_1_lookup"],
                "shot_zone": zone,
                "assisted": e["player_2_lookup"] is not None,
                "blocked": e["player_3_lookup"] is not None,
            }
        )
    return out


def _lines(data: dict[str, list[tuple[Any, ...]]]) -> Rows:
    """One row per game, bookmaker and snapshot: the home spread and the total."""
    snaps: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in _dicts(data, GAME_LINES):
        key = (r["game_id"], r["bookmaker_key"], r["snapshot_timestamp"])
        s = snaps.setdefault(
            key,
            {
                "game_id": _game_id(r["game_date"], r["away_team_abbr"], r["home_team_abbr"]),
                "game_date": r["game_date"],
                "home_team_abbr": r["home_team_abbr"],
                "away_team_abbr": r["away_team_abbr"],
                "bookmaker": r["bookmaker_key"],
                "outcomes": 0,
            },
        )
        s["outcomes"] += 1
        if r["market_key"] == "spreads" and r["outcome_name"] == r["home_team"]:
            s["spread"] = r["outcome_point"]
        if r["market_key"] == "totals" and r["outcome_name"] == "Over":
            s["total"] = r["outcome_point"]
    return list(snaps.values())


@pytest.fixture(scope="module")
def final_dates(schedule: Rows) -> set[dt.date]:
    return {g["game_date"] for g in schedule if g["game_status"] == 3}


def _seconds(minutes: str) -> int:
    m, s = minutes.split(":")
    return int(m) * 60 + int(s)


def _digest(rows: dict[str, list[tuple[Any, ...]]]) -> str:
    h = hashlib.sha256()
    for name in sorted(rows):
        for r in rows[name]:
            h.update(repr(r).encode())
    return h.hexdigest()


# --- calendar ----------------------------------------------------------------------------------
def test_all_tables_present(data: dict[str, list[tuple[Any, ...]]]) -> None:
    assert set(data) == {t.name for t in RAW_TABLES}
    for t in RAW_TABLES:
        assert data[t.name], t.name
        assert all(len(r) == len(t.columns) for r in data[t.name][:1000]), t.name


def test_final_date_count_matches_production(final_dates: set[dt.date]) -> None:
    """Production holds 917 final game dates through 2026-01-02 (SPEC §2): within 1 %."""
    n = sum(1 for d in final_dates if dt.date(2021, 10, 19) <= d <= dt.date(2026, 1, 2))
    assert 908 <= n <= 926, n
    assert END in final_dates


def test_game_dates_do_not_depend_on_the_seed(schedule: Rows) -> None:
    other = _dicts(generate(seed=3, seasons=[2024]), SCHEDULE)
    dates = {g["game_date"] for g in schedule if g["season_year"] == 2024}
    assert {r["game_date"] for r in other if not r["is_all_star"]} == dates


def test_bootstrap_days_all_have_games(final_dates: set[dt.date]) -> None:
    for opener in SEASON_OPENERS.values():
        days = [opener + dt.timedelta(days=i) for i in range(BOOTSTRAP_DAYS)]
        assert all(d in final_dates for d in days), opener


def test_calendar_shape(schedule: Rows, final_dates: set[dt.date]) -> None:
    all_dates = {g["game_date"] for g in schedule}
    assert not [d for d in all_dates if d.month in (7, 8, 9)]
    for season in (2021, 2022, 2023, 2024):
        assert dt.date(season, 12, 24) not in all_dates
        # Thanksgiving: the fourth Thursday of November.
        nov1 = dt.date(season, 11, 1)
        assert nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 21) not in all_dates
        feb = sorted(d for d in all_dates if d.year == season + 1 and d.month == 2)
        assert max((b - a).days for a, b in itertools.pairwise(feb)) >= 6  # All-Star break
        post = [g["game_date"] for g in schedule if g["season_year"] == season]
        assert dt.date(season + 1, 6, 1) < max(post) <= dt.date(season + 1, 6, 25)
    # The 2025 Finals ended 2025-06-22 after seven games.
    assert max(d for d in final_dates if season_year(d) == 2024) == dt.date(2025, 6, 22)
    finals_2025 = [g for g in schedule if g["nba_game_id"].startswith("00424004")]
    assert len(finals_2025) == 7


def test_schedule_rows(schedule: Rows) -> None:
    assert len({g["game_id"] for g in schedule}) == len(schedule)
    per_day = Counter(
        (g["game_date"], t) for g in schedule for t in (g["home_team_abbr"], g["away_team_abbr"])
    )
    assert max(per_day.values()) == 1  # nobody plays twice a day
    for g in schedule:
        assert g["game_id"] == (
            f"{g['game_date']:%Y%m%d}_{g['away_team_abbr']}_{g['home_team_abbr']}"
        )
        assert re.fullmatch(r"00[24]\d{7}", g["nba_game_id"])
        assert g["nba_game_id"][3:5] == f"{g['season_year'] % 100:02d}"
        assert g["season_year"] == season_year(g["game_date"])
        assert g["is_playoffs"] == (not g["is_regular_season"])
        assert g["is_playoffs"] == g["nba_game_id"].startswith("004")
        assert g["game_status"] == (3 if g["game_date"] <= END else 1)
    for season in SEASON_OPENERS:
        reg = [g for g in schedule if g["season_year"] == season and g["is_regular_season"]]
        assert len(reg) == 1230
        games = Counter(t for g in reg for t in (g["home_team_abbr"], g["away_team_abbr"]))
        assert set(games) == set(TEAMS) and set(games.values()) == {82}
        assert set(Counter(g["home_team_abbr"] for g in reg).values()) == {41}
        post = [g for g in schedule if g["season_year"] == season and g["is_playoffs"]]
        if season < 2025:
            assert 6 + 4 * 15 <= len(post) <= 6 + 7 * 15  # play-in + 15 best-of-7 series


# --- consistency -------------------------------------------------------------------------------
_BOX = (
    "points",
    "field_goals_made",
    "field_goals_attempted",
    "three_pointers_made",
    "three_pointers_attempted",
    "free_throws_made",
    "free_throws_attempted",
    "offensive_rebounds",
    "defensive_rebounds",
    "total_rebounds",
    "assists",
    "steals",
    "blocks",
    "turnovers",
    "personal_fouls",
)


def test_gamebook_rows(gamebook: Rows, schedule: Rows) -> None:
    finals = {g["game_id"] for g in schedule if g["game_status"] == 3}
    assert {r["game_id"] for r in gamebook} == finals
    per_team = Counter((r["game_id"], r["team_abbr"]) for r in gamebook)
    assert len(per_team) == 2 * len(finals)
    assert set(per_team.values()) <= set(range(13, 18))
    active = Counter(
        (r["game_id"], r["team_abbr"]) for r in gamebook if r["player_status"] == "active"
    )
    assert min(active.values()) >= 8 and max(active.values()) <= 11
    assert statistics.mean(active.values()) == pytest.approx(10, abs=0.5)
    assert len({(r["game_date"], r["player_lookup"]) for r in gamebook}) == len(gamebook)
    for r in gamebook:
        assert re.fullmatch(r"[a-z0-9]+", r["player_lookup"])
        assert r["player_lookup"] == re.sub(r"[^a-z0-9]", "", r["player_name"].lower())
        if r["player_status"] != "active":
            assert r["player_status"] in ("dnp", "inactive") and r["dnp_reason"]
            assert r["minutes"] is None and r["points"] is None and r["plus_minus"] is None
            continue
        assert re.fullmatch(r"\d\d:[0-5]\d", r["minutes"])
        assert r["points"] == (
            2 * r["field_goals_made"] + r["three_pointers_made"] + r["free_throws_made"]
        )
        assert 0 <= r["three_pointers_made"] <= r["three_pointers_attempted"]
        assert r["three_pointers_made"] <= r["field_goals_made"] <= r["field_goals_attempted"]
        assert r["three_pointers_attempted"] <= r["field_goals_attempted"]
        assert r["free_throws_made"] <= r["free_throws_attempted"]
        assert r["total_rebounds"] == r["offensive_rebounds"] + r["defensive_rebounds"]
        assert r["personal_fouls"] <= 6


def test_minutes_sum_to_team_minutes(gamebook: Rows, boxscore: Rows) -> None:
    seconds: dict[tuple[str, str], int] = defaultdict(int)
    for r in gamebook:
        if r["minutes"] is not None:
            seconds[(r["game_id"], r["team_abbr"])] += _seconds(r["minutes"])
    ots = []
    for b in boxscore:
        ot, rest = divmod(b["minutes"] - 240, 25)
        assert rest == 0 and ot >= 0
        assert seconds[(b["game_id"], b["team_abbr"])] == 60 * b["minutes"]
        ots.append(ot)
    assert 0.03 <= sum(1 for o in ots if o) / len(ots) <= 0.09  # ~6 % of games go to OT


def test_team_boxscore_is_sum_of_gamebook(gamebook: Rows, boxscore: Rows) -> None:
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(_BOX))
    for r in gamebook:
        if r["player_status"] == "active":
            acc = sums[(r["game_id"], r["team_abbr"])]
            for i, c in enumerate(_BOX):
                acc[i] += r[c]
    games: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for b in boxscore:
        assert [b[c] for c in _BOX] == sums[(b["game_id"], b["team_abbr"])]
        games[b["game_id"]].append(b)
    for pair in games.values():
        home, away = sorted(pair, key=lambda b: not b["is_home"])
        assert home["is_home"] and not away["is_home"]
        assert home["opponent_team_abbr"] == away["team_abbr"]
        assert home["points"] != away["points"]  # no ties
        assert home["minutes"] == away["minutes"]


def test_play_by_play_matches_gamebook(
    data: dict[str, list[tuple[Any, ...]]], gamebook: Rows, boxscore: Rows
) -> None:
    pbp = _shots(data)
    shots: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    events: dict[str, list[int]] = defaultdict(list)
    blocked: Counter[tuple[str, str]] = Counter()  # (game, shooting team)
    assisted: Counter[tuple[str, str]] = Counter()
    max_period = {b["game_id"]: 4 + (b["minutes"] - 240) // 25 for b in boxscore}
    zones: Counter[str] = Counter()
    for s in pbp:
        c = shots[(s["game_id"], s["player_lookup"])]
        three = s["shot_zone"] == "three"
        c[0] += 1
        c[1] += s["shot_made"]
        c[2] += three
        c[3] += three and s["shot_made"]
        events[s["game_id"]].append(int(s["event_id"]))
        assert 1 <= s["period"] <= max_period[s["game_id"]]
        assert not (s["assisted"] and not s["shot_made"])
        assert not (s["blocked"] and s["shot_made"])
        blocked[(s["game_id"], s["team_abbr"])] += s["blocked"]
        assisted[(s["game_id"], s["team_abbr"])] += s["assisted"]
        zones[s["shot_zone"]] += 1
    for r in gamebook:
        if r["player_status"] == "active":
            assert shots.get((r["game_id"], r["player_lookup"]), [0, 0, 0, 0]) == [
                r["field_goals_attempted"],
                r["field_goals_made"],
                r["three_pointers_attempted"],
                r["three_pointers_made"],
            ]
    assert sum(v[0] for v in shots.values()) == len(pbp)
    every: dict[str, list[int]] = defaultdict(list)  # shots and free throws
    for e in _dicts(data, PLAY_BY_PLAY):
        every[e["game_id"]].append(int(e["event_id"]))
    assert all(ev == list(range(1, len(ev) + 1)) for ev in every.values())
    assert all(set(ev) <= set(every[g]) for g, ev in events.items())
    for b in boxscore:  # blocks = the opponent's blocked shots; assists = own assisted makes
        assert b["blocks"] == blocked[(b["game_id"], b["opponent_team_abbr"])]
        assert b["assists"] == assisted[(b["game_id"], b["team_abbr"])]
    assert 0.5 < zones["paint"] / (zones["paint"] + zones["mid_range"]) < 0.7


def test_free_throw_events_and_running_score(
    data: dict[str, list[tuple[Any, ...]]], gamebook: Rows, boxscore: Rows
) -> None:
    """Free throws are events of their own (the models skip them: not field goals), and the
    running score of a game's last event is its final score."""
    fts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    last: dict[str, tuple[int, int, int]] = {}
    for e in _dicts(data, PLAY_BY_PLAY):
        if e["event_type"] == "freethrow":
            c = fts[(e["game_id"], e["player_1_lookup"])]
            c[0] += 1
            c[1] += e["shot_made"]
        if e["event_sequence"] > last.get(e["game_id"], (0, 0, 0))[0]:
            last[e["game_id"]] = (e["event_sequence"], e["score_home"], e["score_away"])
    for r in gamebook:
        if r["player_status"] == "active":
            assert fts.get((r["game_id"], r["player_lookup"]), [0, 0]) == [
                r["free_throws_attempted"],
                r["free_throws_made"],
            ]
    for b in boxscore:
        _, home, away = last[b["game_id"]]
        assert b["points"] == (home if b["is_home"] else away)


def test_plausible_distributions(gamebook: Rows, boxscore: Rows) -> None:
    def mean(col: str) -> float:
        return statistics.mean(b[col] for b in boxscore)

    assert 105 <= mean("points") <= 122
    assert 85 <= mean("field_goals_attempted") <= 92
    assert 30 <= mean("three_pointers_attempted") <= 40
    assert 19 <= mean("free_throws_attempted") <= 26
    assert 11 <= mean("turnovers") <= 16
    assert 8 <= mean("offensive_rebounds") <= 12
    assert 30 <= mean("defensive_rebounds") <= 36
    top = max(_seconds(r["minutes"]) for r in gamebook if r["minutes"])
    assert top <= 60 * (48 + 5 * 4)
    games: dict[str, dict[bool, int]] = defaultdict(dict)
    for b in boxscore:
        games[b["game_id"]][b["is_home"]] = b["points"]
    home_win = statistics.mean(g[True] > g[False] for g in games.values())
    assert 0.5 < home_win < 0.62
    # Stars play more: the most-used player of a team-game averages 35+ minutes.
    most: dict[tuple[str, str], int] = defaultdict(int)
    for r in gamebook:
        if r["minutes"]:
            key = (r["game_id"], r["team_abbr"])
            most[key] = max(most[key], _seconds(r["minutes"]))
    assert statistics.mean(most.values()) / 60 >= 34


# --- odds and injuries -------------------------------------------------------------------------
def test_props_partial_and_growing(
    data: dict[str, list[tuple[Any, ...]]], gamebook: Rows, schedule: Rows
) -> None:
    props = [
        {**p, "game_id": _game_id(p["game_date"], p["away_team_abbr"], p["home_team_abbr"])}
        for p in _dicts(data, PLAYER_PROPS)
    ]
    final_dates = {g["game_date"] for g in schedule if g["game_status"] == 3}
    with_props = {(p["game_id"], p["player_lookup"]) for p in props}
    coverage = []
    for season in SEASON_OPENERS:
        active = [
            (r["game_id"], r["player_lookup"])
            for r in gamebook
            if r["season_year"] == season and r["player_status"] == "active"
        ]
        coverage.append(sum(k in with_props for k in active) / len(active))
    assert coverage == sorted(coverage) and coverage[0] < 0.3 < 0.5 < coverage[-1]
    prop_dates = {p["game_date"] for p in props}
    assert len(final_dates - prop_dates) >= 20  # whole days without any props
    snaps: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for p in props:
        snaps[(p["game_id"], p["player_lookup"], p["bookmaker"])].append(p)
    assert set(Counter(len(v) for v in snaps.values())) == {2, 3, 4}
    current = []
    for v in snaps.values():
        v.sort(key=lambda p: p["snapshot_timestamp"])
        current.append(v[-1]["points_line"])
        assert 0.5 <= abs(v[-1]["points_line"] - v[0]["points_line"]) <= 1.5
        assert v[0]["snapshot_timestamp"].date() == v[0]["game_date"]
    assert all(line % 1 == 0.5 for line in current)  # current lines are x.5
    assert statistics.mean(p["points_line"] % 1 == 0.5 for p in props) > 0.8
    books = Counter((g, pl) for g, pl, _ in snaps)
    assert set(books.values()) == {1, 2}


def test_game_lines_partial(data: dict[str, list[tuple[Any, ...]]], schedule: Rows) -> None:
    lines = _lines(data)
    assert {line["outcomes"] for line in lines} == {4}  # 2 spreads + Over/Under
    games = {g["game_id"]: g for g in schedule}
    covered = {line["game_id"] for line in lines}
    rates = []
    for season in SEASON_OPENERS:
        ids = [i for i, g in games.items() if g["season_year"] == season and g["game_status"] == 3]
        rates.append(sum(i in covered for i in ids) / len(ids))
    assert rates == sorted(rates) and rates[0] < 0.7 and rates[-1] > 0.85
    per_game = Counter((line["game_id"], line["bookmaker"]) for line in lines)
    assert set(per_game.values()) <= {2, 3}
    for line in lines:
        g = games[line["game_id"]]
        assert (line["home_team_abbr"], line["away_team_abbr"]) == (
            g["home_team_abbr"],
            g["away_team_abbr"],
        )
        assert line["spread"] % 0.5 == 0 and 190 <= line["total"] <= 260


def test_injury_report(data: dict[str, list[tuple[Any, ...]]], gamebook: Rows) -> None:
    report = [
        {**r, "status": r["injury_status"], "team_abbr": r["team"]}
        for r in _dicts(data, INJURY_REPORT)
    ]
    assert {r["status"] for r in report} == {"out", "questionable", "probable"}
    assert all(r["report_date"] == r["game_date"] for r in report)
    assert len({(r["report_date"], r["player_lookup"]) for r in report}) == len(report)
    active = {
        (r["game_date"], r["player_lookup"]) for r in gamebook if r["player_status"] == "active"
    }
    outs = [(r["game_date"], r["player_lookup"]) for r in report if r["status"] == "out"]
    assert not [k for k in outs if k in active]  # "out" players never play
    per_team_day = Counter((r["game_date"], r["team_abbr"]) for r in report)
    assert 1.5 <= statistics.mean(per_team_day.values()) <= 5


def test_pregame_data_only_up_to_a_week_ahead(
    data: dict[str, list[tuple[Any, ...]]], gamebook: Rows
) -> None:
    horizon = END + dt.timedelta(days=PREGAME_DAYS)
    assert max(r["game_date"] for r in gamebook) == END
    for table in (PLAYER_PROPS, GAME_LINES, INJURY_REPORT):
        dates = {r["game_date"] for r in _dicts(data, table)}
        assert max(dates) <= horizon and any(d > END for d in dates), table.name


# --- determinism and loading -------------------------------------------------------------------
_SLICE = "generate(seasons=[2021], final_through=datetime.date(2021, 11, 18))"


def test_deterministic_across_processes() -> None:
    """Same seed, same rows, whatever PYTHONHASHSEED (no set/hash-order leaks)."""
    code = (
        "import datetime, hashlib; from devtools.synthetic import generate; "
        f"d = {_SLICE}; h = hashlib.sha256(); "
        "[h.update(repr(r).encode()) for n in sorted(d) for r in d[n]]; print(h.hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": str(hs)},
        ).stdout.strip()
        for hs in (1, 2)
    }
    here = _digest(generate(seasons=[2021], final_through=dt.date(2021, 11, 18)))
    assert digests == {here}
    other = _digest(generate(seed=8, seasons=[2021], final_through=dt.date(2021, 11, 18)))
    assert other != here


def test_season_filter_matches_full_run(data: dict[str, list[tuple[Any, ...]]]) -> None:
    part = generate(seasons=[2022])
    for table in (SCHEDULE, GAMEBOOK, TEAM_BOXSCORE):
        full = [r for r in data[table.name] if r[table.column_names.index("season_year")] == 2022]
        assert part[table.name] == full, table.name


def test_seed_phase2_into_duckdb_is_idempotent(tmp_path: Any) -> None:
    from devtools.synthetic import seed_phase2
    from nba_backfill.settings import load_settings
    from nba_backfill.warehouse.duckdb import DuckDBWarehouse

    wh = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(tmp_path / "w.duckdb")}))
    try:
        end = dt.date(2021, 12, 31)
        first = seed_phase2(wh, final_through=end)
        second = seed_phase2(wh, final_through=end)
        assert first == second
        assert set(first) == {t.name for t in RAW_TABLES} and all(first.values())
        for t in RAW_TABLES:
            rows = wh.fetch(f"SELECT COUNT(*) AS n FROM {t.name}")
            assert rows[0]["n"] == first[t.name], t.name
        games = wh.fetch(
            "SELECT COUNT(*) AS n, COUNT(DISTINCT game_id) AS d, COUNTIF(game_status = 3) AS f "
            "FROM nba_backfill_views.schedule_latest WHERE NOT is_all_star",
            {"start_date": dt.date(2021, 10, 1), "end_date": dt.date(2022, 9, 30)},
        )[0]
        assert games["n"] == games["d"] == 1230 and 0 < games["f"] < 1230
        pbp = wh.fetch(
            "SELECT COUNTIF(shot_made) AS made, COUNT(*) AS n FROM nba_raw.nbac_play_by_play "
            "WHERE shot_type IN ('2PT', '3PT')"
        )[0]
        box = wh.fetch(
            "SELECT SUM(fg_made) AS made, SUM(fg_attempted) AS n FROM nba_raw.nbac_team_boxscore"
        )[0]
        assert (pbp["made"], pbp["n"]) == (box["made"], box["n"])
        ts = wh.fetch(
            "SELECT MIN(snapshot_timestamp) AS t FROM nba_raw.odds_api_player_points_props"
        )[0]["t"]
        assert ts.tzinfo is not None and ts.date() >= dt.date(2021, 10, 19)
    finally:
        wh.close()


def test_seed_phase2_loads_season_by_season_without_losing_one(tmp_path: Any) -> None:
    """Seeding generates and loads one season at a time (peak RSS): with two seasons in range
    the warehouse holds both, exactly generate()'s rows, and a reseed replaces them."""
    from devtools.synthetic import seed_phase2
    from nba_backfill.settings import load_settings
    from nba_backfill.warehouse.duckdb import DuckDBWarehouse

    end = dt.date(2022, 10, 12)  # 2021-22 final, 2022-23 scheduled with its pregame feeds
    expected = {name: len(rows) for name, rows in generate(final_through=end).items()}
    wh = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(tmp_path / "w.duckdb")}))
    try:
        assert seed_phase2(wh, final_through=end) == expected
        assert seed_phase2(wh, final_through=end) == expected
        for t in RAW_TABLES:
            rows = wh.fetch(f"SELECT COUNT(*) AS n FROM {t.name}")
            assert rows[0]["n"] == expected[t.name], t.name
        seasons = wh.fetch(
            "SELECT season_year, COUNT(*) AS n FROM nba_raw.nbac_schedule GROUP BY season_year "
            "ORDER BY season_year"
        )
        assert [r["season_year"] for r in seasons] == [2021, 2022]
    finally:
        wh.close()


def test_fallback_feeds_copy_the_gamebook_and_the_odds_feed(
    data: dict[str, list[tuple[Any, ...]]], gamebook: Rows
) -> None:
    """Ball Don't Lie: one line per player who played a final game (the All-Star game has no
    box score), the gamebook's numbers; BettingPros: an over and an under offer per bookmaker's
    points line of the odds feed, at its last snapshot, opening at its first."""
    from nba_backfill.phase2 import BDL_BOXSCORES, BETTINGPROS_PROPS

    box_games = {r[0] for r in data[TEAM_BOXSCORE.name]}
    played = {
        (r["game_id"], r["player_lookup"]): r
        for r in gamebook
        if r["player_status"] == "active" and r["game_id"] in box_games
    }
    bdl = {(r["game_id"], r["player_lookup"]): r for r in _dicts(data, BDL_BOXSCORES)}
    assert bdl.keys() == played.keys()
    for key, r in itertools.islice(bdl.items(), 2000):
        g = played[key]
        assert (r["points"], r["minutes"], r["team_abbr"]) == (
            g["points"],
            g["minutes"],
            g["team_abbr"],
        )
        assert r["rebounds"] == g["offensive_rebounds"] + g["defensive_rebounds"]
    snaps: dict[tuple[Any, str, str], list[dict[str, Any]]] = defaultdict(list)
    for p in _dicts(data, PLAYER_PROPS):
        snaps[(p["game_date"], p["player_lookup"], p["bookmaker"].lower())].append(p)
    offers = Counter()
    for r in _dicts(data, BETTINGPROS_PROPS):
        v = sorted(
            snaps[(r["game_date"], r["player_lookup"], r["bookmaker"].lower())],
            key=lambda p: p["snapshot_timestamp"],
        )
        assert (r["points_line"], r["opening_line"]) == (v[-1]["points_line"], v[0]["points_line"])
        offers[(r["game_date"], r["player_lookup"], r["bookmaker"].lower())] += 1
    assert offers.keys() == snaps.keys() and set(offers.values()) == {2}
