"""Fixture tests of the five Phase 4 SQL models on DuckDB.

Phase 3 inputs are written directly (tables created from
production's contract, so a model reading a column production lacks fails here), plus a
schedule through the Phase 2 loader. One 2023-24 season slice: opener 2023-10-24, 30 days, four
teams, an off day every week. Expected values come from small Python re-implementations of each
definition, computed from the same fixture rows.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from nba_backfill.catalog import MLFS, PCF, PDC, PHASE4, PSZA, TABLES, TDZA, TableSpec
from nba_backfill.outputs import is_volatile
from nba_backfill.phase2 import GAMEBOOK, SCHEDULE
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

from .fixtures import schedule_row

OPENER = dt.date(2023, 10, 24)
SEASON = 2023
N_DAYS = 30
LAST = OPENER + dt.timedelta(days=N_DAYS - 1)
FIRST_REAL = OPENER + dt.timedelta(days=14)  # first non-bootstrap day
TEAMS = ("BOS", "LAL", "NYK", "MIA")
ROSTER = {t: [f"{t.lower()}{k}" for k in (1, 2, 3)] for t in TEAMS}
# Special players: see World.build.
ROSTER["BOS"].append("rookie")
ROSTER["LAL"].append("benchguy")
ROSTER["NYK"] += ["latecomer", "ironman"]
ROSTER["MIA"] += ["vet", "spiker"]
PLAYER_TEAM = {p: t for t, ps in ROSTER.items() for p in ps}


def q(value: float, scale: int) -> float:
    """``value`` as a NUMERIC(p, scale) column stores it (half away from zero), as a float."""
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP))


def tol(spec: TableSpec, column: str) -> float:
    """Half a unit of the column's last stored digit (1e-4 for FLOAT64 columns)."""
    scale = spec.contract.column(column).scale
    return 1e-4 if scale is None else 0.5 * 10.0**-scale + 1e-9


def day(i: int) -> dt.date:
    return OPENER + dt.timedelta(days=i)


def idx(d: dt.date) -> int:
    return (d - OPENER).days


def is_game_day(i: int) -> bool:
    return i % 7 != 3


def games_on(i: int) -> list[tuple[str, str]]:
    """(away, home) pairs: every team plays on every game day."""
    return [("LAL", "BOS"), ("MIA", "NYK")] if i % 2 == 0 else [("NYK", "BOS"), ("MIA", "LAL")]


def opt(value: float | None, scale: int) -> float | None:
    return None if value is None else q(value, scale)


def mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def close(got: Any, want: float | None, abs_: float = 1e-4) -> bool:
    if got is None or want is None:
        return got is want
    return float(got) == pytest.approx(want, abs=abs_)


def clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


@dataclass
class World:
    """The fixture's Phase 3 rows (one dict per row, contract column names)."""

    schedule: list[dict[str, Any]] = field(default_factory=list)
    tdgs: list[dict[str, Any]] = field(default_factory=list)
    togs: list[dict[str, Any]] = field(default_factory=list)
    pgs: list[dict[str, Any]] = field(default_factory=list)
    upcg: list[dict[str, Any]] = field(default_factory=list)
    uptg: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def build(cls) -> World:
        w = cls()
        for i in range(N_DAYS):
            if not is_game_day(i):
                continue
            for g, (away, home) in enumerate(games_on(i)):
                gid = f"{day(i):%Y%m%d}_{away}_{home}"
                w.schedule.append(
                    dict(
                        game_id=gid,
                        nba_game_id=f"00223{i:03d}{g:02d}",
                        game_date=day(i),
                        season_year=SEASON,
                        home_team_abbr=home,
                        away_team_abbr=away,
                        game_status=3,
                        is_regular_season=True,
                        is_playoffs=False,
                    )
                )
                for team, opp in ((home, away), (away, home)):
                    w._team_game(i, gid, team, opp, team == home)
                    for player in ROSTER[team]:
                        w._player_game(i, gid, team, opp, team == home, player)
        # "vet" also played 8 games of last season's playoffs (inside the 180-day look-back).
        for k in range(8):
            w.pgs.append(
                w._stats(dt.date(2023, 6, 1 + k), "vet", 2022, "MIA", "DEN", True, k + 40, j=7)
            )
        w._upcoming()
        return w

    def _team_game(self, i: int, gid: str, team: str, opp: str, home: bool) -> None:
        tj = TEAMS.index(team)
        self.tdgs.append(
            dict(
                game_id=gid,
                game_date=day(i),
                season_year=SEASON,
                defending_team_abbr=team,
                opponent_team_abbr=opp,
                home_game=home,
                opp_paint_attempts=30 + (i * 3 + tj * 5) % 12,
                opp_paint_makes=15 + (i + tj * 2) % 8,
                opp_mid_range_attempts=15 + (i * 2 + tj) % 7,
                opp_mid_range_makes=6 + (i + tj) % 5,
                opp_three_pt_attempts=30 + (i + tj * 3) % 10,
                opp_three_pt_makes=10 + (i * 2 + tj) % 6,
                defensive_rating=q(105 + (i * 1.7 + tj * 2.3) % 12, 2),
                opponent_pace=q(96 + (i * 1.3 + tj) % 8, 1),
            )
        )
        self.togs.append(
            dict(
                game_id=gid,
                game_date=day(i),
                season_year=SEASON,
                team_abbr=team,
                opponent_team_abbr=opp,
                home_game=home,
                pace=q(97 + (i * 0.9 + tj * 1.1) % 7, 1),
                offensive_rating=q(108 + (i * 1.3 + tj * 0.7) % 10, 2),
            )
        )

    def _player_game(self, i: int, gid: str, team: str, opp: str, home: bool, p: str) -> None:
        if p == "rookie" or (p == "latecomer" and i < 9) or (p == "vet" and i < 10):
            return
        row = self._stats(day(i), p, SEASON, team, opp, home, i, j=len(self.pgs) % 11)
        row["game_id"] = gid
        if p == "benchguy" and i % 4 != 0:  # DNP: in the summary with 0 minutes, zero stats
            row.update(
                {k: 0 for k in row if k.endswith(("attempts", "makes", "_pbp"))},
                minutes_played=0.0,
                points=0,
                usage_rate=None,
                player_status="dnp",
            )
        if p == "spiker":
            row["usage_rate"] = 60.0 if i >= 16 else 10.0
        self.pgs.append(row)

    @staticmethod
    def _stats(
        d: dt.date, p: str, season: int, team: str, opp: str, home: bool, i: int, j: int
    ) -> dict[str, Any]:
        paint, mid, three = 2 + (i + 2 * j) % 5, 1 + (i * 3 + j) % 3, 1 + (i + j * 5) % 6
        return dict(
            game_id=f"{d:%Y%m%d}_{opp}_{team}",
            game_date=d,
            season_year=season,
            player_lookup=p,
            player_full_name=p,
            team_abbr=team,
            opponent_team_abbr=opp,
            player_status="active",
            minutes_played=float(20 + (i * 7 + j * 3) % 15),
            points=(i * 5 + j * 7) % 31,
            fg_attempts=paint + mid + three,
            ft_attempts=(i * 3 + j) % 6,
            usage_rate=15.0 + (i * 11 + j * 13) % 20,
            paint_attempts=paint,
            paint_makes=min(paint, paint // 2 + i % 2),
            mid_range_attempts=mid,
            mid_range_makes=mid // 3,
            three_attempts_pbp=three,
            three_makes_pbp=(three * (1 + j % 3)) // 6,
        )

    def played(self, p: str, before: dt.date, days: int) -> list[dict[str, Any]]:
        """p's games with minutes > 0 in [before - days, before - 1], newest first."""
        lo = before - dt.timedelta(days=days)
        rows = [
            r
            for r in self.pgs
            if r["player_lookup"] == p and lo <= r["game_date"] < before and r["minutes_played"] > 0
        ]
        return sorted(rows, key=lambda r: r["game_date"], reverse=True)

    def _upcoming(self) -> None:
        for s in self.schedule:
            d, i = s["game_date"], idx(s["game_date"])
            for team, opp, home in (
                (s["home_team_abbr"], s["away_team_abbr"], True),
                (s["away_team_abbr"], s["home_team_abbr"], False),
            ):
                prev = [k for k in range(i) if is_game_day(k)]
                self.uptg.append(
                    dict(
                        game_id=s["nba_game_id"],
                        game_date=d,
                        season_year=SEASON,
                        team_abbr=team,
                        opponent_team_abbr=opp,
                        home_game=home,
                        days_since_last_game=(i - prev[-1]) if prev else None,
                        is_back_to_back=bool(prev) and i - prev[-1] == 1,
                        game_number_in_season=len(prev) + 1,
                    )
                )
                for p in ROSTER[team]:
                    if p == "rookie" and i < 16:
                        continue
                    h30 = self.played(p, d, 30)
                    last = h30[0]["game_date"] if h30 else None
                    g7 = [r for r in h30 if r["game_date"] >= d - dt.timedelta(days=7)]
                    g14 = [r for r in h30 if r["game_date"] >= d - dt.timedelta(days=14)]
                    usage = [r["usage_rate"] for r in h30[:7] if r["usage_rate"] is not None]
                    rest = (d - last).days if last else None
                    self.upcg.append(
                        dict(
                            game_id=s["game_id"],
                            game_date=d,
                            player_lookup=p,
                            # the registry's id; the rookie is not registered
                            universal_player_id=None if p == "rookie" else f"{p}_001",
                            team_abbr=team,
                            opponent_team_abbr=opp,
                            home_game=home,
                            has_prop_line=i % 2 == 0,
                            game_spread=(-3.5 if home else 3.5) if i % 2 == 0 else None,
                            game_total=221.5 if i % 2 == 0 else None,
                            days_rest=rest,
                            back_to_back=rest == 1,
                            games_in_last_7_days=len(g7),
                            games_in_last_14_days=len(g14),
                            minutes_in_last_7_days=400
                            if p == "ironman"
                            else round(sum(r["minutes_played"] for r in g7)),
                            minutes_in_last_14_days=round(sum(r["minutes_played"] for r in g14)),
                            points_avg_last_5=opt(mean([r["points"] for r in h30[:5]]), 1),
                            points_avg_last_10=opt(mean([r["points"] for r in h30[:10]]), 1),
                            avg_usage_rate_last_7_games=opt(mean(usage), 2),
                            season_phase="early",
                        )
                    )


TABLE_ROWS = {
    "nba_analytics.team_defense_game_summary": "tdgs",
    "nba_analytics.team_offense_game_summary": "togs",
    "nba_analytics.player_game_summary": "pgs",
    "nba_analytics.upcoming_player_game_context": "upcg",
    "nba_analytics.upcoming_team_game_context": "uptg",
}


_NEUTRAL = {"BOOL": False, "INT64": 0, "STRING": "", "FLOAT64": 0.0}


def load_world(w: DuckDBWarehouse, world: World) -> None:
    """The fixture's Phase 3 rows into production's tables (created from the contract, so a
    fixture or model column production lacks fails here). REQUIRED columns a fixture row does
    not set get a neutral value (the Phase 4 models never read them)."""
    specs = [TABLES[name] for name in TABLE_ROWS]
    w.ensure_tables(specs)
    cur = w._cursor()
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for spec in specs:
        table_rows = getattr(world, TABLE_ROWS[spec.name])
        live = {c.name: c for c in spec.contract.live_columns}
        unknown = {k for r in table_rows for k in r} - set(live)
        assert not unknown, f"fixture columns outside production's {spec.name}: {unknown}"
        fill = {
            c.name: now if c.type == "TIMESTAMP" else _NEUTRAL[c.type]
            for c in live.values()
            if c.required and all(c.name not in r for r in table_rows)
        }
        names = sorted({k for r in table_rows for k in r} | set(fill))
        cur.executemany(
            f"INSERT INTO {spec.name} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)})",
            [[r.get(c, fill.get(c)) for c in names] for r in table_rows],
        )
    # player_daily_cache's completeness reads the gamebook's DNPs (none in this world).
    w.ensure_raw_tables([SCHEDULE, GAMEBOOK])
    w.load_raw(
        SCHEDULE,
        [
            schedule_row(
                r["game_date"],
                r["away_team_abbr"],
                r["home_team_abbr"],
                nba_game_id=r["nba_game_id"],
                status=r["game_status"],
                regular=r["is_regular_season"],
                playoffs=r["is_playoffs"],
            )
            for r in world.schedule
        ],
    )


def run_phase4(w: DuckDBWarehouse, start: dt.date, end: dt.date) -> None:
    for spec in PHASE4:  # catalog order is group order
        w.replace_range(spec, start, end)


def rows(w: DuckDBWarehouse, spec: TableSpec) -> list[dict[str, Any]]:
    """The table's rows without the write-time columns (processed_at, created_at)."""
    keys = ", ".join(spec.key_columns)
    got = w.fetch(f"SELECT * FROM {spec.name} ORDER BY {keys}")
    return [{k: v for k, v in r.items() if not is_volatile(k)} for r in got]


def by_key(w: DuckDBWarehouse, spec: TableSpec) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(r[k] for k in spec.key_columns): r for r in rows(w, spec)}


def new_warehouse(path: Path, world: World) -> DuckDBWarehouse:
    w = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    load_world(w, world)
    w.ensure_tables(list(PHASE4))
    return w


@pytest.fixture(scope="module")
def world() -> World:
    return World.build()


@pytest.fixture(scope="module")
def built(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBWarehouse]:
    """All five tables written for the whole slice (bootstrap days included in the range)."""
    w = new_warehouse(tmp_path_factory.mktemp("phase4") / "w.duckdb", world)
    run_phase4(w, OPENER, LAST)
    yield w
    w.close()


# --- every table --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [t.name for t in PHASE4])
def test_no_rows_on_bootstrap_days_and_rows_after(built: DuckDBWarehouse, name: str):
    spec = TABLES[name]
    dates = {r[spec.date_column] for r in rows(built, spec)}
    assert min(dates) == FIRST_REAL
    expected = {day(i) for i in range(14, N_DAYS) if is_game_day(i)}
    assert dates == expected


@pytest.mark.parametrize("name", [t.name for t in PHASE4])
def test_one_row_per_key(built: DuckDBWarehouse, name: str):
    spec = TABLES[name]
    audit = built.key_audit(spec, OPENER, LAST)
    assert audit.rows > 0 and audit.null_keys == 0 and audit.duplicate_keys == 0
    assert {
        r["player_lookup"] if "player_lookup" in r else r["team_abbr"] for r in rows(built, spec)
    } <= (set(TEAMS) | set(PLAYER_TEAM))


@pytest.mark.parametrize("name", [PDC, PCF, MLFS])
def test_every_upcoming_player_gets_a_row(built: DuckDBWarehouse, world: World, name: str):
    spec = TABLES[name]
    expected = {
        (u["game_date"], u["player_lookup"]) for u in world.upcg if u["game_date"] >= FIRST_REAL
    }
    assert set(by_key(built, spec)) == expected


def test_rerun_replaces_rows_exactly(world: World, tmp_path: Path):
    w = new_warehouse(tmp_path / "w.duckdb", world)
    start, end = day(14), day(24)
    run_phase4(w, start, end)
    first = {t.name: rows(w, t) for t in PHASE4}
    for spec in PHASE4:
        res = w.replace_range(spec, start, end)
        assert res.rows_deleted == res.rows_written == len(first[spec.name])
    assert {t.name: rows(w, t) for t in PHASE4} == first
    w.close()


def test_same_date_inputs_do_not_change_the_date(world: World, tmp_path: Path):
    """Windows end strictly before the analysis date: rewriting the date's own box scores
    leaves that date unchanged (and does change the next date, so the edit is visible)."""
    w = new_warehouse(tmp_path / "w.duckdb", world)
    d, nxt = day(20), day(21)
    run_phase4(w, d, nxt)
    before = {t.name: rows(w, t) for t in PHASE4}
    cur = w._cursor()
    cur.execute(
        "UPDATE nba_analytics.player_game_summary SET points = points + 50, "
        "minutes_played = minutes_played + 10, usage_rate = usage_rate + 30, "
        "paint_attempts = paint_attempts + 9 WHERE game_date = ?",
        [d],
    )
    cur.execute(
        "UPDATE nba_analytics.team_defense_game_summary SET "
        "opp_paint_makes = opp_paint_makes + 10, defensive_rating = 140, "
        "opponent_pace = 130 WHERE game_date = ?",
        [d],
    )
    cur.execute(
        "UPDATE nba_analytics.team_offense_game_summary SET pace = 130, "
        "offensive_rating = 140 WHERE game_date = ?",
        [d],
    )
    run_phase4(w, d, nxt)
    after = {t.name: rows(w, t) for t in PHASE4}
    for spec in PHASE4:
        col = spec.date_column
        assert [r for r in after[spec.name] if r[col] == d] == [
            r for r in before[spec.name] if r[col] == d
        ], spec.name
        assert [r for r in after[spec.name] if r[col] == nxt] != [
            r for r in before[spec.name] if r[col] == nxt
        ], spec.name
    w.close()


# --- team_defense_zone_analysis -----------------------------------------------------------------
def expected_tdza(world: World, d: dt.date) -> dict[str, dict[str, float]]:
    lo = d - dt.timedelta(days=60)
    samples = {
        t: sorted(
            (r for r in world.tdgs if r["defending_team_abbr"] == t and lo <= r["game_date"] < d),
            key=lambda r: r["game_date"],
            reverse=True,
        )[:15]
        for t in TEAMS
    }

    def pct(rs: list[dict[str, Any]], zone: str) -> float:
        made = sum(r[f"opp_{zone}_makes"] for r in rs)
        return made / sum(r[f"opp_{zone}_attempts"] for r in rs)

    pooled = [r for rs in samples.values() for r in rs]
    out = {}
    for t, rs in samples.items():
        out[t] = {
            "games_in_sample": len(rs),
            "paint_pct_allowed_last_15": pct(rs, "paint"),
            # percentage points, production's unit
            "paint_defense_vs_league_avg": 100 * (pct(rs, "paint") - pct(pooled, "paint")),
            "mid_range_defense_vs_league_avg": 100
            * (pct(rs, "mid_range") - pct(pooled, "mid_range")),
            "three_pt_defense_vs_league_avg": 100 * (pct(rs, "three_pt") - pct(pooled, "three_pt")),
            "three_pt_attempts_allowed_per_game": sum(r["opp_three_pt_attempts"] for r in rs)
            / len(rs),
            "defensive_rating_last_15": mean([r["defensive_rating"] for r in rs]),
            "opponent_pace": mean([r["opponent_pace"] for r in rs]),
        }
    return out


@pytest.mark.parametrize("i", [14, 15, 20, 29])
def test_tdza_last_15_against_the_league(built: DuckDBWarehouse, world: World, i: int):
    got = {r["team_abbr"]: r for r in rows(built, TABLES[TDZA]) if r["analysis_date"] == day(i)}
    assert set(got) == set(TEAMS)
    prior_games = sum(is_game_day(k) for k in range(i))
    spec = TABLES[TDZA]
    for team, exp in expected_tdza(world, day(i)).items():
        assert got[team]["games_in_sample"] == min(15, prior_games)
        for col, value in exp.items():
            assert close(got[team][col], value, tol(spec, col)), (team, col)
        vs = {z: exp[f"{z}_defense_vs_league_avg"] for z in ("paint", "mid_range", "three_pt")}
        assert got[team]["weakest_zone"] == max(vs, key=vs.get).replace("three_pt", "three")
        assert got[team]["strongest_zone"] == min(vs, key=vs.get).replace("three_pt", "three")


# --- player_shot_zone_analysis ------------------------------------------------------------------
def test_psza_sample_sizes_ramp_and_rates(built: DuckDBWarehouse, world: World):
    got = by_key(built, TABLES[PSZA])
    expected = set()
    ramp_skipped = set()
    for u in world.upcg:
        d = u["game_date"]
        if d < FIRST_REAL:
            continue
        hist = [r for r in world.played(u["player_lookup"], d, 90) if r["season_year"] == SEASON]
        min_games = min(10, 3 + (idx(d) - 14) // 3)
        if min(len(hist), 10) < min_games:
            if len(hist) >= 3:
                ramp_skipped.add((d, u["player_lookup"]))
            continue
        key = (d, u["player_lookup"])
        expected.add(key)
        row, last10 = got[key], hist[:10]
        assert row["games_in_sample_10"] == len(last10)
        assert row["games_in_sample_20"] == min(20, len(hist))
        attempts = {"paint": "paint_attempts", "mid_range": "mid_range_attempts"}
        attempts["three"] = "three_attempts_pbp"
        zones = {z: sum(r[c] for r in last10) for z, c in attempts.items()}
        shots = sum(zones.values())
        spec = TABLES[PSZA]
        assert row["total_shots_last_10"] == shots
        # rates in percent (production's unit)
        rate = 100 * zones["paint"] / shots
        assert close(row["paint_rate_last_10"], rate, tol(spec, "paint_rate_last_10"))
        three_pct = sum(r["three_makes_pbp"] for r in last10) / zones["three"]
        assert close(row["three_pt_pct_last_10"], three_pct, tol(spec, "three_pt_pct_last_10"))
        apg = zones["paint"] / len(last10)
        assert close(row["paint_attempts_per_game"], apg, tol(spec, "paint_attempts_per_game"))
        top = max(zones, key=zones.get)  # dict order = tie order paint, mid_range, three
        assert row["primary_scoring_zone"] == top
    assert set(got) == expected
    # the ramp bites: some players with >= 3 games are still below the day's minimum
    assert ramp_skipped and not ramp_skipped & set(got)
    assert {k[0] for k in got} >= {FIRST_REAL}  # the first non-bootstrap day has rows


# --- player_daily_cache -------------------------------------------------------------------------
def test_pdc_windows_and_season(built: DuckDBWarehouse, world: World):
    got = by_key(built, TABLES[PDC])
    togs = world.togs
    spec = TABLES[PDC]
    for (d, p), row in got.items():
        hist = world.played(p, d, 180)
        season = [r for r in hist if r["season_year"] == SEASON]
        pts = [r["points"] for r in hist]
        assert row["games_played_season"] == len(season)
        assert close(row["points_avg_last_5"], mean(pts[:5]), tol(spec, "points_avg_last_5"))
        assert close(row["points_avg_last_10"], mean(pts[:10]), tol(spec, "points_avg_last_10"))
        season_avg = mean([r["points"] for r in season])
        assert close(row["points_avg_season"], season_avg, tol(spec, "points_avg_season"))
        std = statistics.stdev(pts[:10]) if len(pts) >= 2 else None
        assert close(row["points_std_last_10"], std, tol(spec, "points_std_last_10"))
        team = PLAYER_TEAM[p]
        t10 = sorted(
            (
                r
                for r in togs
                if r["team_abbr"] == team and d - dt.timedelta(days=30) <= r["game_date"] < d
            ),
            key=lambda r: r["game_date"],
            reverse=True,
        )[:10]
        pace = mean([r["pace"] for r in t10])
        assert close(row["team_pace_last_10"], pace, tol(spec, "team_pace_last_10"))
    rookie = got[(day(16), "rookie")]
    assert rookie["games_played_season"] == 0 and rookie["points_avg_last_10"] is None
    assert rookie["team_pace_last_10"] is not None  # team context even without history
    vet = got[(FIRST_REAL, "vet")]  # 3 games this season + 8 of last season's playoffs
    assert vet["games_played_season"] == 3
    vet_pts = [r["points"] for r in world.played("vet", FIRST_REAL, 180)][:10]
    assert len(vet_pts) == 10  # the last-10 window reaches into last season's playoffs
    assert close(vet["points_avg_last_10"], mean(vet_pts), tol(spec, "points_avg_last_10"))


# --- player_composite_factors -------------------------------------------------------------------
def expected_fatigue(u: dict[str, Any]) -> float:
    """In tenths, integers only (as the model computes it), then points."""
    rest = u["days_rest"]
    tenths = 1000 - (200 if u["back_to_back"] else 50 if rest == 2 else 0)
    tenths -= 50 * max(u["games_in_last_7_days"] - 2, 0)
    tenths -= 20 * max(u["games_in_last_14_days"] - 5, 0)
    tenths -= 2 * max(u["minutes_in_last_7_days"] - 80, 0)
    tenths -= max(u["minutes_in_last_14_days"] - 180, 0)
    return clamp(tenths, 0, 1000) / 10


def test_pcf_factors(built: DuckDBWarehouse, world: World):
    got = by_key(built, TABLES[PCF])
    psza, tdza = by_key(built, TABLES[PSZA]), by_key(built, TABLES[TDZA])
    upcg = {(u["game_date"], u["player_lookup"]): u for u in world.upcg}
    ranges = {
        "fatigue_score": (0, 100),
        "shot_zone_mismatch_score": (-10, 10),
        "pace_score": (-3, 3),
        "usage_spike_score": (-3, 3),
    }
    spec = TABLES[PCF]
    paces: dict[dt.date, list[float]] = {}
    for (d, _), r in tdza.items():
        paces.setdefault(d, []).append(float(r["opponent_pace"]))
    league_pace = {d: sum(v) / len(v) for d, v in paces.items()}
    for key, row in got.items():
        d = key[0]
        u = upcg[key]
        for col, (lo, hi) in ranges.items():
            assert lo <= row[col] <= hi, (key, col)
        fatigue = expected_fatigue(u)
        assert row["fatigue_score"] == q(fatigue, 0)  # production stores an integer
        opp = tdza[(d, u["opponent_team_abbr"])]
        pace = clamp((float(opp["opponent_pace"]) - league_pace[d]) / 2, -3, 3)
        assert close(row["pace_score"], pace, tol(spec, "pace_score"))
        zone = psza.get(key)
        # production's _calculate_completeness names the missing shot-zone row this way
        missing = (row["missing_data_fields"] or "").split(", ")
        assert ("player_shot_zone" in missing) is (zone is None)
        mismatch = 0.0
        if zone is not None:
            z = {"paint": "paint", "mid_range": "mid_range", "three": "three_pt"}[
                zone["primary_scoring_zone"]
            ]
            share, edge = zone[f"{z}_rate_last_10"], opp[f"{z}_defense_vs_league_avg"]
            # percent x percentage points: / 100 each
            mismatch = clamp(200 * float(share) / 100 * float(edge) / 100, -10, 10)
        tolerance = tol(spec, "shot_zone_mismatch_score")
        assert close(row["shot_zone_mismatch_score"], mismatch, tolerance)
        # The total adds the unrounded parts; usage spike is only known rounded (0.05).
        total = (fatigue - 100) / 20 + mismatch + pace + float(row["usage_spike_score"])
        assert close(row["total_composite_adjustment"], total, 0.06)
    assert got[(day(20), "ironman")]["fatigue_score"] == 0  # clamped at the floor
    spike = got[(day(20), "spiker")]  # last 3 games at 60 usage vs 25 over the last 10
    assert spike["usage_spike_score"] == 3
    rookie = got[(day(16), "rookie")]
    # Too little usage history gives 0 but no warning: production's _check_warnings only warns
    # on extreme scores (tests/sql/test_player_composite_factors.py).
    assert rookie["usage_spike_score"] == 0


# --- ml_feature_store_v2 ------------------------------------------------------------------------
# Production's quality scorer (quality_scorer.py), as the test's oracle: weights of the canonical
# sources the rows carry (phase4 covers vegas 100, minutes_ppm 95, opponent_history 90; default
# covers default 40 and missing 0), and the optional features left out of the score when absent.
QUALITY_OF = {"phase4": {100.0, 95.0, 90.0}, "phase3": {87.0}, "calculated": {100.0}}
QUALITY_OF["default"] = {40.0, 0.0}
OPTIONAL = {25, 26, 27, *range(37, 60)}


def expected_score(qualities: list[float], defaults: set[int]) -> float:
    counted = [w for i, w in enumerate(qualities) if not (i in defaults and i in OPTIONAL)]
    score = sum(counted) / len(counted)
    required = len(defaults - OPTIONAL)
    if required:
        score = min(score, 49.0 if required >= 5 else 69.0)
    return round(score, 2)


def ols_slope(ys: list[float]) -> float:
    n = len(ys)
    x_mean, y_mean = (n - 1) / 2, sum(ys) / n
    num = sum((i - x_mean) * (y - y_mean) for i, y in enumerate(ys))
    return num / sum((i - x_mean) ** 2 for i in range(n))


def calculated_features(world: World, p: str, d: dt.date) -> dict[str, float]:
    """Production's calculated features from player_game_summary (feature_calculator.py and
    feature_extractor.py's rolling stats), for the fixture's rows."""
    lo = d - dt.timedelta(days=60)
    recent = sorted(
        (r for r in world.pgs if r["player_lookup"] == p and lo <= r["game_date"] < d),
        key=lambda r: r["game_date"],
        reverse=True,
    )
    last10 = recent[:10]  # every row, DNPs included
    out: dict[str, float] = {}
    pts = [r["points"] or 0 for r in last10]
    if len(last10) >= 5:
        diff = sum(pts[:2]) / 2 - sum(pts[2:5]) / 3
        out["recent_trend"] = (
            2.0
            if diff >= 5
            else 1.0
            if diff >= 2
            else -2.0
            if diff <= -5
            else -1.0
            if diff <= -2
            else 0.0
        )
        out["pts_slope_10g"] = round(ols_slope(list(reversed(pts))), 9)
    else:
        out["recent_trend"] = out["pts_slope_10g"] = 0.0
    rolled = [r for r in recent if r["points"] is not None and r["minutes_played"] > 0]
    if rolled:
        ys = [float(r["points"]) for r in reversed(rolled)]  # oldest first
        out["scoring_trend_slope"] = ols_slope(ys[-7:]) if len(ys) >= 4 else 0.0
        avg = sum(ys) / len(ys)
        below = 0
        for y in reversed(ys):
            if y >= avg:
                break
            below += 1
        out["consecutive_games_below_avg"] = below
        usage = [float(r["usage_rate"]) for r in reversed(rolled) if r["usage_rate"] is not None]
        out["usage_rate_last_5"] = sum(usage[-5:]) / len(usage[-5:]) if len(usage) >= 3 else 20.0
        games = list(reversed(rolled))
        since = float(min(len(games), 30))
        for i in range(len(games) - 1, 0, -1):
            if games[i]["team_abbr"] != games[i - 1]["team_abbr"] or (
                (games[i]["game_date"] - games[i - 1]["game_date"]).days > 14
            ):
                since = float(len(games) - 1 - i)
                break
        out["games_since_structural_change"] = since
    minutes = [float(r["minutes_played"]) for r in recent if r["minutes_played"] > 0][:10]
    if len(minutes) >= 3:
        out["minutes_volatility_last_10"] = round(statistics.stdev(minutes), 2)
    return out


def test_feature_store_header_lists_production_features():
    """The SQL file's header lists every position with production's name, in order."""
    names = TABLES[MLFS].contract.extra["feature_names"]
    text = TABLES[MLFS].sql_path.read_text(encoding="utf-8")
    listed = re.findall(r"^-- +(\d{1,2})  (\w+)", text, flags=re.M)
    assert [(int(i), n) for i, n in listed] == list(enumerate(names))


def test_feature_vectors(built: DuckDBWarehouse, world: World):
    spec = TABLES[MLFS]
    names = spec.contract.extra["feature_names"]
    got = by_key(built, spec)
    pdc, pcf = by_key(built, TABLES[PDC]), by_key(built, TABLES[PCF])
    psza, tdza = by_key(built, TABLES[PSZA]), by_key(built, TABLES[TDZA])
    upcg = {(u["game_date"], u["player_lookup"]): u for u in world.upcg}
    for key, row in got.items():
        feats = row["features"]
        assert row["feature_names"] == row["available_feature_names"] == names
        assert len(feats) == row["feature_count"] == spec.contract.extra["feature_count"] == 60
        assert row["feature_version"] == spec.contract.extra["feature_version"]
        assert all(f is not None and math.isfinite(f) for f in feats)
        named = dict(zip(names, feats, strict=True))
        sources = [row[f"feature_{i}_source"] for i in range(60)]
        qualities = [row[f"feature_{i}_quality"] for i in range(60)]
        # Per-feature columns agree with the array and with each other.
        for i in range(60):
            assert qualities[i] in QUALITY_OF[sources[i]], (key, i, sources[i], qualities[i])
            want = None if sources[i] == "default" else feats[i]
            assert row[f"feature_{i}_value"] == want, (key, i)
        defaults = {i for i, s in enumerate(sources) if s == "default"}
        assert row["default_feature_indices"] == sorted(defaults)
        assert row["default_feature_count"] == len(defaults)
        reasons = json.loads(row["feature_fallback_reasons_json"])
        assert [int(i) for i in reasons] == sorted(defaults) and all(reasons.values())
        assert row["required_default_count"] == len(defaults - OPTIONAL)
        for kind in ("phase4", "phase3", "calculated"):
            assert row[f"{kind}_feature_count"] == sources.count(kind)
        score = float(row["feature_quality_score"])
        assert score == expected_score(qualities, defaults)
        matchup = round(sum(qualities[i] for i in (5, 6, 7, 8, 13, 14)) / 6, 1)
        assert row["matchup_quality_pct"] == matchup
        assert row["is_training_ready"] is (
            score >= 85 and matchup >= 70 and row["player_history_quality_pct"] >= 80
        )
        assert row["data_source"] == row["primary_data_source"]
        # Values of the inputs (the features computed before the rewrite, same definitions).
        u, cache = upcg[key], pdc[key]
        assert named["fatigue_score"] == pcf[key]["fatigue_score"]
        for col in ("shot_zone_mismatch_score", "pace_score", "usage_spike_score"):
            assert named[col] == float(pcf[key][col])
        for col in ("points_avg_last_5", "points_avg_last_10", "points_avg_season"):
            if cache[col] is not None:
                assert named[col] == float(cache[col]) and sources[names.index(col)] == "phase4"
        for feature, col, default in (
            ("team_pace", "team_pace_last_10", 100.0),
            ("team_off_rating", "team_off_rating_last_10", 112.0),
        ):
            want_team = default if cache[col] is None else float(cache[col])
            assert named[feature] == want_team, (key, feature)
        opp = tdza.get((key[0], u["opponent_team_abbr"]))
        if opp is not None:
            assert named["opponent_def_rating"] == float(opp["defensive_rating_last_15"])
            assert named["opponent_pace"] == float(opp["opponent_pace"])
        zone = psza.get(key)
        for feature, col in (
            ("pct_paint", "paint_rate_last_10"),
            ("pct_three", "three_pt_rate_last_10"),
        ):
            want_share = 0.0 if zone is None else float(zone[col]) / 100
            assert named[feature] == pytest.approx(want_share, abs=1e-9)
            assert (sources[names.index(feature)] == "default") is (zone is None)
        assert named["home_away"] == (1.0 if u["home_game"] else 0.0)
        assert named["back_to_back"] == (1.0 if u["back_to_back"] else 0.0)
        assert named["games_in_last_7_days"] == u["games_in_last_7_days"]
        assert named["days_rest"] == (u["days_rest"] or 0.0)
        assert named["game_total_line"] == (u["game_total"] or 0.0)
        assert named["spread_magnitude"] == abs(u["game_spread"] or 0.0)
        assert named["opponent_pace_mismatch"] == named["team_pace"] - named["opponent_pace"]
        # Calculated from player_game_summary (Python re-implementations).
        d, p = key
        m30 = [float(r["minutes_played"]) for r in world.played(p, d, 30)]
        if m30:
            assert named["minutes_avg_last_10"] == pytest.approx(sum(m30) / len(m30), abs=1e-9)
        l3 = [r["points"] for r in world.played(p, d, 60)[:3]]
        if l3:
            assert named["points_avg_last_3"] == pytest.approx(sum(l3) / len(l3), abs=1e-9)
        vs = [
            r
            for r in world.pgs
            if r["player_lookup"] == p
            and r["opponent_team_abbr"] == u["opponent_team_abbr"]
            and d - dt.timedelta(days=365) <= r["game_date"] < d
        ]
        assert named["games_vs_opponent"] == len(vs)
        want_calc = calculated_features(world, p, d)
        for feature, value in want_calc.items():
            assert named[feature] == pytest.approx(value, abs=1e-6), (key, feature)
    rookie = got[(day(16), "rookie")]  # no history: production's defaults, low quality
    named = dict(zip(names, rookie["features"], strict=True))
    want_defaults = {
        "points_avg_last_5": 10.0,
        "points_avg_last_10": 10.0,
        "points_avg_season": 10.0,
        "points_std_last_10": 5.0,
        "minutes_avg_last_10": 28.0,
        "ppm_avg_last_10": 0.4,
        "pct_paint": 0.0,
        "pct_mid_range": 0.0,
        "pct_three": 0.0,
        "star_teammates_out": 0.0,
        "points_avg_last_3": 0.0,
        "avg_points_vs_opponent": 10.0,
    }
    for feature, value in want_defaults.items():
        assert named[feature] == value, feature
    for feature in set(want_defaults) - {"avg_points_vs_opponent"}:
        i = names.index(feature)
        assert rookie[f"feature_{i}_source"] == "default" and rookie[f"feature_{i}_value"] is None
    assert float(rookie["feature_quality_score"]) <= 49.0 and not rookie["is_training_ready"]
    assert rookie["quality_tier"] == "critical" and not rookie["is_quality_ready"]
    regular = got[(day(20), "bos1")]  # every required input present: no required default
    assert regular["required_default_count"] == 0 and regular["is_training_ready"]
    assert regular["quality_tier"] == "gold"
    odd = got[(day(21), "bos1")]  # no spread / total on odd days: optional features missing
    gone = {names.index(f) for f in ("game_total_line", "spread_magnitude", "implied_team_total")}
    assert gone <= set(odd["default_feature_indices"]) and odd["required_default_count"] == 0


def test_feature_store_universal_player_id_from_the_context(built: DuckDBWarehouse, world: World):
    """feature_extractor.py selects universal_player_id with the day's players from the
    upcoming context: each row carries its context row's id, NULL where it has none."""
    got = by_key(built, TABLES[MLFS])
    upcg = {(u["game_date"], u["player_lookup"]): u for u in world.upcg}
    assert got
    ids = {key: row["universal_player_id"] for key, row in got.items()}
    assert ids == {key: upcg[key]["universal_player_id"] for key in got}
    assert set(ids.values()) >= {None, "ironman_001"}
