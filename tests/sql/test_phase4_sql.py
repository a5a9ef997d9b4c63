"""Fixture tests of the five Phase 4 SQL models on DuckDB.

Phase 3 inputs are written directly (tables created from the column contract in
``docs/phase3_columns.md``, so a model reading a column outside the contract fails here), plus a
schedule through the Phase 2 loader. One 2023-24 season slice: opener 2023-10-24, 30 days, four
teams, an off day every week. Expected values come from small Python re-implementations of each
definition, computed from the same fixture rows.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nba_backfill.catalog import MLFS, PCF, PDC, PHASE4, PSZA, TABLES, TDZA, TableSpec
from nba_backfill.phase2 import SCHEDULE
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

from .fixtures import schedule_row

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "phase3_columns.md"
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

_TYPES = {
    "STRING": "VARCHAR",
    "INT64": "BIGINT",
    "FLOAT64": "DOUBLE",
    "BOOL": "BOOLEAN",
    "DATE": "DATE",
}


def day(i: int) -> dt.date:
    return OPENER + dt.timedelta(days=i)


def idx(d: dt.date) -> int:
    return (d - OPENER).days


def is_game_day(i: int) -> bool:
    return i % 7 != 3


def games_on(i: int) -> list[tuple[str, str]]:
    """(away, home) pairs: every team plays on every game day."""
    return [("LAL", "BOS"), ("MIA", "NYK")] if i % 2 == 0 else [("NYK", "BOS"), ("MIA", "LAL")]


def contract() -> dict[str, list[tuple[str, str]]]:
    """Phase 3 table -> [(column, DuckDB type)] parsed from the contract document."""
    text = CONTRACT.read_text(encoding="utf-8")
    out: dict[str, list[tuple[str, str]]] = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        head = re.match(r"(nba_analytics\.\w+) — key", section)
        if not head:
            continue
        cols = re.findall(
            r"\b([a-z_][a-z0-9_]*) (STRING|DATE|INT64|FLOAT64|BOOL|NUMERIC\(\d+,\d+\))", section
        )
        out[head.group(1)] = [(c, _TYPES.get(t, t.replace("NUMERIC", "DECIMAL"))) for c, t in cols]
    return out


def mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def close(got: float | None, want: float | None) -> bool:
    if got is None or want is None:
        return got is want
    return got == pytest.approx(want, abs=1e-4)


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
                opp_three_zone_attempts=30 + (i + tj * 3) % 10,
                opp_three_zone_makes=10 + (i * 2 + tj) % 6,
                defensive_rating=105 + (i * 1.7 + tj * 2.3) % 12,
                opponent_pace=96 + (i * 1.3 + tj) % 8,
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
                pace=97 + (i * 0.9 + tj * 1.1) % 7,
                offensive_rating=108 + (i * 1.3 + tj * 0.7) % 10,
            )
        )

    def _player_game(self, i: int, gid: str, team: str, opp: str, home: bool, p: str) -> None:
        if p == "rookie" or (p == "latecomer" and i < 9) or (p == "vet" and i < 10):
            return
        row = self._stats(day(i), p, SEASON, team, opp, home, i, j=len(self.pgs) % 11)
        row["game_id"] = gid
        if p == "benchguy" and i % 4 != 0:  # DNP: in the summary with 0 minutes, zero stats
            row.update(
                {k: 0 for k in row if k.endswith(("attempts", "makes"))},
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
            player_name=p,
            team_abbr=team,
            opponent_team_abbr=opp,
            home_game=home,
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
            three_zone_attempts=three,
            three_zone_makes=(three * (1 + j % 3)) // 6,
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
                            season_year=SEASON,
                            player_lookup=p,
                            team_abbr=team,
                            opponent_team_abbr=opp,
                            home_game=home,
                            has_prop_line=i % 2 == 0,
                            game_spread=(-3.5 if home else 3.5) if i % 2 == 0 else None,
                            game_total=221.5 if i % 2 == 0 else None,
                            days_rest=rest,
                            back_to_back=rest == 1,
                            games_last_7_days=len(g7),
                            games_last_14_days=len(g14),
                            minutes_last_7_days=400.0
                            if p == "ironman"
                            else sum(r["minutes_played"] for r in g7),
                            minutes_last_14_days=sum(r["minutes_played"] for r in g14),
                            points_avg_last_5=mean([r["points"] for r in h30[:5]]),
                            points_avg_last_10=mean([r["points"] for r in h30[:10]]),
                            avg_usage_rate_last_7_games=mean(usage),
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


def load_world(w: DuckDBWarehouse, world: World) -> None:
    cols = contract()
    cur = w._cursor()
    cur.execute("CREATE SCHEMA IF NOT EXISTS nba_analytics")
    for name, attr in TABLE_ROWS.items():
        spec = cols[name]
        cur.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in spec)})")
        rows = getattr(world, attr)
        names = [c for c, _ in spec]
        unknown = {k for r in rows for k in r} - set(names)
        assert not unknown, f"fixture columns outside the contract for {name}: {unknown}"
        cur.executemany(
            f"INSERT INTO {name} VALUES ({', '.join('?' for _ in names)})",
            [[r.get(c) for c in names] for r in rows],
        )
    w.ensure_raw_tables([SCHEDULE])
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
    keys = ", ".join(spec.key_columns)
    return w.fetch(f"SELECT * FROM {spec.name} ORDER BY {keys}")


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
def test_one_row_per_key_and_team_column(built: DuckDBWarehouse, name: str):
    spec = TABLES[name]
    audit = built.key_audit(spec, OPENER, LAST)
    assert audit.rows > 0 and audit.null_keys == 0 and audit.duplicate_keys == 0
    assert all(r["team_abbr"] in TEAMS for r in rows(built, spec))


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
            "paint_defense_vs_league_avg": pct(rs, "paint") - pct(pooled, "paint"),
            "three_pt_attempts_allowed_per_game": sum(r["opp_three_zone_attempts"] for r in rs)
            / len(rs),
            "defensive_rating_last_15": mean([r["defensive_rating"] for r in rs]),
            "opponent_pace_vs_league_avg": mean([r["opponent_pace"] for r in rs])
            - mean([r["opponent_pace"] for r in pooled]),
        }
    return out


@pytest.mark.parametrize("i", [14, 15, 20, 29])
def test_tdza_last_15_against_the_league(built: DuckDBWarehouse, world: World, i: int):
    got = {r["team_abbr"]: r for r in rows(built, TABLES[TDZA]) if r["analysis_date"] == day(i)}
    assert set(got) == set(TEAMS)
    prior_games = sum(is_game_day(k) for k in range(i))
    for team, exp in expected_tdza(world, day(i)).items():
        assert got[team]["games_in_sample"] == min(15, prior_games)
        for col, value in exp.items():
            assert got[team][col] == pytest.approx(value, abs=1e-4), (team, col)
        vs = {
            z: got[team][f"{z}_defense_vs_league_avg"] for z in ("paint", "mid_range", "three_pt")
        }
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
        zones = {
            z: sum(r[f"{z}_attempts"] for r in last10) for z in ("paint", "mid_range", "three_zone")
        }
        shots = sum(zones.values())
        assert row["total_shots_last_10"] == shots
        assert row["paint_rate_last_10"] == pytest.approx(zones["paint"] / shots, abs=1e-4)
        assert row["three_pt_pct_last_10"] == pytest.approx(
            sum(r["three_zone_makes"] for r in last10) / zones["three_zone"], abs=1e-4
        )
        top = max(zones, key=zones.get)  # dict order = tie order paint, mid_range, three
        assert row["primary_scoring_zone"] == top.replace("three_zone", "three")
    assert set(got) == expected
    # the ramp bites: some players with >= 3 games are still below the day's minimum
    assert ramp_skipped and not ramp_skipped & set(got)
    assert {k[0] for k in got} >= {FIRST_REAL}  # the first non-bootstrap day has rows


# --- player_daily_cache -------------------------------------------------------------------------
def test_pdc_windows_and_season(built: DuckDBWarehouse, world: World):
    got = by_key(built, TABLES[PDC])
    togs = world.togs
    for (d, p), row in got.items():
        hist = world.played(p, d, 180)
        season = [r for r in hist if r["season_year"] == SEASON]
        pts = [r["points"] for r in hist]
        assert row["games_played_season"] == len(season)
        assert row["games_in_sample_10"] == min(10, len(hist))
        assert close(row["points_avg_last_5"], mean(pts[:5]))
        assert close(row["points_avg_last_10"], mean(pts[:10]))
        assert close(row["points_avg_season"], mean([r["points"] for r in season]))
        std = statistics.stdev(pts[:10]) if len(pts) >= 2 else None
        assert close(row["points_std_last_10"], std)
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
        assert close(row["team_pace_last_10"], mean([r["pace"] for r in t10]))
    rookie = got[(day(16), "rookie")]
    assert rookie["games_played_season"] == 0 and rookie["points_avg_last_10"] is None
    assert rookie["team_pace_last_10"] is not None  # team context even without history
    vet = got[(FIRST_REAL, "vet")]  # 3 games this season + 8 of last season's playoffs
    assert vet["games_played_season"] == 3 and vet["games_in_sample_10"] == 10


# --- player_composite_factors -------------------------------------------------------------------
def expected_fatigue(u: dict[str, Any]) -> float:
    rest = u["days_rest"]
    score = 100.0 - (20 if u["back_to_back"] else 5 if rest == 2 else 0)
    score -= 5 * max(u["games_last_7_days"] - 2, 0) + 2 * max(u["games_last_14_days"] - 5, 0)
    score -= 0.2 * max(u["minutes_last_7_days"] - 80, 0)
    score -= 0.1 * max(u["minutes_last_14_days"] - 180, 0)
    return clamp(score, 0, 100)


def test_pcf_factors(built: DuckDBWarehouse, world: World):
    got = by_key(built, TABLES[PCF])
    psza, tdza = by_key(built, TABLES[PSZA]), by_key(built, TABLES[TDZA])
    upcg = {(u["game_date"], u["player_lookup"]): u for u in world.upcg}
    ranges = {
        "fatigue_score": (0, 100),
        "shot_zone_mismatch_score": (-10, 10),
        "pace_score": (-3, 3),
        "usage_spike_score": (-3, 3),
        "rest_advantage": (-2, 2),
    }
    for key, row in got.items():
        d = key[0]
        u = upcg[key]
        for col, (lo, hi) in ranges.items():
            assert lo <= row[col] <= hi, (key, col)
        assert row["fatigue_score"] == pytest.approx(expected_fatigue(u), abs=1e-4)
        total = (
            (row["fatigue_score"] - 100) / 20
            + row["shot_zone_mismatch_score"]
            + row["pace_score"]
            + row["usage_spike_score"]
        )
        assert row["total_composite_adjustment"] == pytest.approx(total, abs=1e-3)
        opp = tdza[(d, u["opponent_team_abbr"])]
        assert row["pace_score"] == pytest.approx(
            clamp(opp["opponent_pace_vs_league_avg"] / 2, -3, 3), abs=1e-4
        )
        zone = psza.get(key)
        assert row["has_shot_zone_data"] is (zone is not None)
        if zone is None:
            assert row["shot_zone_mismatch_score"] == 0
        else:
            z = {"paint": "paint", "mid_range": "mid_range", "three": "three_pt"}[
                zone["primary_scoring_zone"]
            ]
            assert row["shot_zone_mismatch_score"] == pytest.approx(
                clamp(200 * zone[f"{z}_rate_last_10"] * opp[f"{z}_defense_vs_league_avg"], -10, 10),
                abs=1e-3,
            )
    assert got[(day(20), "ironman")]["fatigue_score"] == 0.0  # clamped at the floor
    spike = got[(day(20), "spiker")]  # last 3 games at 60 usage vs 25 over the last 10
    assert spike["usage_spike_score"] == 3.0 and spike["has_usage_history"]
    assert got[(day(16), "rookie")]["usage_spike_score"] == 0.0
    assert not got[(day(16), "rookie")]["has_usage_history"]


# --- ml_feature_store_v2 ------------------------------------------------------------------------
def test_feature_vectors(built: DuckDBWarehouse):
    got = by_key(built, TABLES[MLFS])
    pdc, pcf = by_key(built, TABLES[PDC]), by_key(built, TABLES[PCF])
    for key, row in got.items():
        feats, names = row["features"], row["feature_names"]
        assert len(feats) == row["feature_count"] == len(names) == 25
        assert all(f is not None and math.isfinite(f) for f in feats)
        assert len(set(names)) == len(names) and row["feature_version"] == "v2"
        assert 0 <= row["feature_quality_score"] <= 100
        assert row["is_training_ready"] is (row["feature_quality_score"] >= 80)
        named = dict(zip(names, feats, strict=True))
        assert named["fatigue_score"] == pcf[key]["fatigue_score"]
        if pdc[key]["points_avg_last_10"] is not None:
            assert named["points_avg_last_10"] == pdc[key]["points_avg_last_10"]
    rookie = got[(day(16), "rookie")]  # no history: defaults, low quality
    assert (
        dict(zip(rookie["feature_names"], rookie["features"], strict=True))["points_avg_season"]
        == 10.0
    )
    assert rookie["feature_quality_score"] < 80 and not rookie["is_training_ready"]
    regular = got[(day(20), "bos1")]  # every input present on an even day (lines posted)
    assert regular["feature_quality_score"] == 100.0 and regular["is_training_ready"]
    odd = got[(day(21), "bos1")]  # no spread / total on odd days: 2 defaults of 25
    assert odd["feature_quality_score"] == 92.0
