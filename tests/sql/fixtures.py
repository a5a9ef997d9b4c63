"""Small hand-built Phase 2 inputs for the SQL model tests, in production's shape.

:class:`Phase2` collects rows per raw table (keyword arguments by production's column names,
the rest NULL; every REQUIRED column is filled here) and loads them into a warehouse;
:meth:`Phase2.game` adds one game with its schedule row, both team boxscores and the listed
gamebook players in one call. The helpers keep the tests' short vocabulary (``box_stats`` keys,
shot zones, a spread and a total) and write what production's processors write.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from devtools.synthetic import TEAM_INFO, Shape, season_label, team_full_name
from nba_backfill import phase2
from nba_backfill.phase2 import RawTable
from nba_backfill.warehouse.base import Loader

LOADED = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)  # processed_at of fixture rows


def raw_row(table: RawTable, **values: Any) -> tuple[Any, ...]:
    """One row of ``table`` in column order; unknown columns are an error, missing ones NULL."""
    unknown = set(values) - set(table.column_names)
    if unknown:
        raise KeyError(f"{table.name} has no column(s) {sorted(unknown)}")
    return Shape(table).row(**values)


def team_info(abbr: str) -> tuple[int, str, str]:
    """NBA.com id, city, nickname; made-up teams of a test get stable stand-ins."""
    if abbr in TEAM_INFO:
        return TEAM_INFO[abbr]
    return 1610600000 + sum(map(ord, abbr)), abbr.title(), f"{abbr.title()}s"


def full_name(abbr: str) -> str:
    if abbr in TEAM_INFO:
        return team_full_name(abbr)
    _, city, nickname = team_info(abbr)
    return f"{city} {nickname}"


def schedule_row(
    day: dt.date,
    away: str,
    home: str,
    *,
    nba_game_id: str,
    status: int = 3,
    regular: bool = True,
    playoffs: bool = False,
    all_star: bool = False,
    processed_at: dt.datetime = LOADED,
    tip: dt.datetime | None = None,
) -> tuple[Any, ...]:
    """One version of a game in production's nbac_schedule shape (``tip``: game_date_est)."""
    season = season_of(day)
    (hid, _, hname), (aid, _, aname) = team_info(home), team_info(away)
    return raw_row(
        phase2.SCHEDULE,
        game_id=nba_game_id,
        game_code=f"{day:%Y%m%d}/{away}{home}",
        season=str(season),
        season_nba_format=season_label(season),
        season_year=season,
        game_date=day,
        game_date_est=tip,
        game_status=status,
        # production's determine_game_status_text (4, postponed, is "Unknown" there)
        game_status_text={1: "Scheduled", 2: "In Progress", 3: "Final"}.get(status, "Unknown"),
        home_team_id=hid,
        home_team_tricode=home,
        home_team_name=hname,
        away_team_id=aid,
        away_team_tricode=away,
        away_team_name=aname,
        is_regular_season=regular,
        is_playoffs=playoffs,
        is_all_star=all_star,
        source_file_path="fixture",
        created_at=processed_at,
        processed_at=processed_at,
    )


def season_of(day: dt.date) -> int:
    """season_year: the opener's year (Oct-Dec: the calendar year; Jan-Sep: year - 1)."""
    return day.year if day.month >= 10 else day.year - 1


def game_id(day: dt.date, away: str, home: str) -> str:
    return f"{day:%Y%m%d}_{away}_{home}"


def ts(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


@dataclass
class Player:
    """A gamebook line; ``minutes`` is the raw "MM:SS" string."""

    lookup: str
    minutes: str | None = "30:00"
    points: int = 10
    fgm: int = 4
    fga: int = 9
    tpm: int = 1
    tpa: int = 3
    ftm: int = 1
    fta: int = 2
    oreb: int = 1
    dreb: int = 4
    ast: int = 3
    stl: int = 1
    blk: int = 0
    tov: int = 2
    pf: int = 2
    plus_minus: int = 0
    status: str = "active"


def box_stats(points: int, **overrides: int) -> dict[str, int]:
    """Plausible team totals for ``points`` (overridable column by column)."""
    stats = {
        "points": points,
        "field_goals_made": 40,
        "field_goals_attempted": 88,
        "three_pointers_made": 12,
        "three_pointers_attempted": 34,
        "free_throws_made": 16,
        "free_throws_attempted": 20,
        "offensive_rebounds": 10,
        "defensive_rebounds": 34,
        "total_rebounds": 44,
        "assists": 25,
        "steals": 7,
        "blocks": 5,
        "turnovers": 13,
        "personal_fouls": 19,
        "minutes": 240,
    }
    stats.update(overrides)
    return stats


_BOX_NAMES = {
    "field_goals_made": "fg_made",
    "field_goals_attempted": "fg_attempted",
    "three_pointers_made": "three_pt_made",
    "three_pointers_attempted": "three_pt_attempted",
    "free_throws_made": "ft_made",
    "free_throws_attempted": "ft_attempted",
}


def raw_row_index(table: RawTable) -> dict[str, int]:
    return {c: i for i, c in enumerate(table.column_names)}


@dataclass
class Phase2:
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=lambda: defaultdict(list))
    nba_game_numbers: int = 0

    def add(self, table: RawTable, **values: Any) -> None:
        self.rows[table.name].append(raw_row(table, **values))

    def schedule(
        self,
        day: dt.date,
        away: str,
        home: str,
        *,
        status: int = 3,
        nba_game_id: str | None = None,
        regular: bool = True,
        playoffs: bool = False,
        all_star: bool = False,
        processed_at: dt.datetime = LOADED,
        tip: dt.datetime | None = None,
    ) -> str:
        """One schedule version of a game; returns its YYYYMMDD_AWAY_HOME id."""
        gid = game_id(day, away, home)
        self.nba_game_numbers += 1
        season = season_of(day)
        self.rows[phase2.SCHEDULE.name].append(
            schedule_row(
                day,
                away,
                home,
                nba_game_id=nba_game_id or f"002{season % 100:02d}{self.nba_game_numbers:05d}",
                status=status,
                regular=regular,
                playoffs=playoffs,
                all_star=all_star,
                processed_at=processed_at,
                tip=tip,
            )
        )
        return gid

    def box(self, day: dt.date, away: str, home: str, team: str, stats: Mapping[str, int]) -> None:
        """A team boxscore row; ``stats`` in box_stats' vocabulary (minutes as an int)."""
        values: dict[str, Any] = {_BOX_NAMES.get(k, k): v for k, v in stats.items()}
        if values.get("minutes") is not None:
            values["minutes"] = f"{values['minutes']}:00"
        team_id, city, nickname = team_info(team)
        self.add(
            phase2.TEAM_BOXSCORE,
            game_id=game_id(day, away, home),
            nba_game_id="0000000000",
            game_date=day,
            season_year=season_of(day),
            team_id=team_id,
            team_abbr=team,
            team_name=nickname,
            team_city=city,
            is_home=team == home,
            processed_at=LOADED,
            **values,
        )

    def player(self, day: dt.date, away: str, home: str, team: str, p: Player) -> None:
        self.add(
            phase2.GAMEBOOK,
            game_id=game_id(day, away, home),
            game_code=f"{day:%Y%m%d}/{away}{home}",
            game_date=day,
            season_year=season_of(day),
            home_team_abbr=home,
            away_team_abbr=away,
            team_abbr=team,
            player_lookup=p.lookup,
            player_name=p.lookup.title(),
            player_name_original=p.lookup.title(),
            player_status=p.status,
            dnp_reason="DNP - Coach's Decision" if p.status == "dnp" else None,
            minutes=p.minutes if p.status == "active" else None,
            points=p.points,
            field_goals_made=p.fgm,
            field_goals_attempted=p.fga,
            three_pointers_made=p.tpm,
            three_pointers_attempted=p.tpa,
            free_throws_made=p.ftm,
            free_throws_attempted=p.fta,
            offensive_rebounds=p.oreb,
            defensive_rebounds=p.dreb,
            total_rebounds=p.oreb + p.dreb,
            assists=p.ast,
            steals=p.stl,
            blocks=p.blk,
            turnovers=p.tov,
            personal_fouls=p.pf,
            plus_minus=p.plus_minus,
            processed_at=LOADED,
        )

    def game(
        self,
        day: dt.date,
        away: str,
        home: str,
        *,
        away_points: int = 100,
        home_points: int = 100,
        away_stats: Mapping[str, int] | None = None,
        home_stats: Mapping[str, int] | None = None,
        players: Mapping[str, Sequence[Player]] | None = None,
        status: int = 3,
        boxes: Iterable[str] | None = None,
        nba_game_id: str | None = None,
        tip: dt.datetime | None = None,
    ) -> str:
        """A scheduled game, both teams' boxscores (``boxes`` limits which) and gamebook lines."""
        gid = self.schedule(day, away, home, status=status, nba_game_id=nba_game_id, tip=tip)
        for team in boxes if boxes is not None else (away, home):
            if team == away:
                self.box(day, away, home, team, {**box_stats(away_points), **(away_stats or {})})
            else:
                self.box(day, away, home, team, {**box_stats(home_points), **(home_stats or {})})
        for team, lines in (players or {}).items():
            for p in lines:
                self.player(day, away, home, team, p)
        return gid

    def shot(
        self,
        day: dt.date,
        away: str,
        home: str,
        team: str,
        player: str,
        zone: str,
        *,
        made: bool,
        assisted: bool = False,
        blocked: bool = False,
        blocker: str = "someblocker",
    ) -> None:
        """A field-goal event of the play-by-play: player_2 assists a make, player_3
        (``blocker``) blocks a miss; the zone is written as production has it (shot_type and
        distance)."""
        n = len(self.rows[phase2.PLAY_BY_PLAY.name])
        opp = home if team == away else away
        self.add(
            phase2.PLAY_BY_PLAY,
            game_id=game_id(day, away, home),
            nba_game_id="0000000000",
            game_date=day,
            season_year=season_of(day),
            home_team_abbr=home,
            away_team_abbr=away,
            event_id=str(n + 1),
            event_sequence=n + 1,
            period=1,
            event_type="3pt" if zone == "three" else "2pt",
            event_action_type="Jump Shot",
            player_1_lookup=player,
            player_1_team_abbr=team,
            player_2_lookup="someassister" if assisted else None,
            player_2_team_abbr=team if assisted else None,
            player_3_lookup=blocker if blocked else None,
            player_3_team_abbr=opp if blocked else None,
            shot_made=made,
            shot_type="3PT" if zone == "three" else "2PT",
            shot_distance={"paint": 3.0, "mid_range": 15.0, "three": 25.0}[zone],
            source_file_path="fixture",
            processed_at=LOADED,
        )

    def event(self, day: dt.date, away: str, home: str, event_type: str, **values: Any) -> None:
        """Another play-by-play event (free throw, rebound …): not a field-goal attempt."""
        n = len(self.rows[phase2.PLAY_BY_PLAY.name])
        self.add(
            phase2.PLAY_BY_PLAY,
            game_id=game_id(day, away, home),
            nba_game_id="0000000000",
            game_date=day,
            season_year=season_of(day),
            event_id=str(n + 1),
            event_sequence=n + 1,
            period=1,
            event_type=event_type,
            source_file_path="fixture",
            processed_at=LOADED,
            **values,
        )

    def prop(
        self,
        day: dt.date,
        away: str,
        home: str,
        player: str,
        bookmaker: str,
        line: float,
        snapshot: dt.datetime,
    ) -> None:
        self.add(
            phase2.PLAYER_PROPS,
            game_id=game_id(day, away, home),
            odds_api_event_id=f"event-{game_id(day, away, home)}",
            game_date=day,
            home_team_abbr=home,
            away_team_abbr=away,
            snapshot_timestamp=snapshot,
            bookmaker=bookmaker,
            player_name=player.title(),
            player_lookup=player,
            points_line=line,
            over_price=1.909,
            over_price_american=-110,
            under_price=1.909,
            under_price_american=-110,
            processed_at=LOADED,
        )

    def game_line(
        self,
        day: dt.date,
        away: str,
        home: str,
        bookmaker: str,
        spread: float | None,
        total: float | None,
        snapshot: dt.datetime,
    ) -> None:
        """One snapshot of a bookmaker's lines: the home team's ``spread`` and the ``total``,
        written as production's rows (one per market x outcome; the feed's own event id)."""
        outcomes: list[tuple[str, str, float]] = []
        if spread is not None:
            outcomes += [
                ("spreads", full_name(home), spread),
                ("spreads", full_name(away), -spread),
            ]
        if total is not None:
            outcomes += [("totals", "Over", total), ("totals", "Under", total)]
        for market, name, point in outcomes:
            self.add(
                phase2.GAME_LINES,
                snapshot_timestamp=snapshot,
                game_id=f"oddsevent{day:%Y%m%d}{away}{home}",
                sport_key="basketball_nba",
                sport_title="NBA",
                commence_time=snapshot,
                game_date=day,
                home_team=full_name(home),
                away_team=full_name(away),
                home_team_abbr=home,
                away_team_abbr=away,
                bookmaker_key=bookmaker,
                bookmaker_title=bookmaker.title(),
                bookmaker_last_update=snapshot,
                market_key=market,
                market_last_update=snapshot,
                outcome_name=name,
                outcome_price=1.91,
                outcome_point=point,
                source_file_path="fixture",
                created_at=LOADED,
                processed_at=LOADED,
            )

    def injury(
        self,
        report_date: dt.date,
        game_date: dt.date,
        team: str,
        player: str,
        status: str,
        *,
        away: str | None = None,
        home: str | None = None,
    ) -> None:
        """A report entry for ``player`` of ``team``; the game (away/home) defaults to the one
        of the schedule rows collected so far in which the team plays on ``game_date``."""
        if away is None or home is None:
            away, home = self._matchup(game_date, team)
        self.add(
            phase2.INJURY_REPORT,
            report_date=report_date,
            report_hour=17,
            season=season_label(season_of(game_date)),
            game_date=game_date,
            game_id=game_id(game_date, away, home),
            matchup=f"{away}@{home}",
            away_team=away,
            home_team=home,
            team=team,
            player_lookup=player,
            injury_status=status,
            reason="Injury/Illness - Left Ankle; Sprain",
            processed_at=LOADED,
        )

    def _matchup(self, day: dt.date, team: str) -> tuple[str, str]:
        idx = raw_row_index(phase2.SCHEDULE)
        for r in self.rows[phase2.SCHEDULE.name]:
            away, home = r[idx["away_team_tricode"]], r[idx["home_team_tricode"]]
            if r[idx["game_date"]] == day and team in (away, home):
                return away, home
        raise KeyError(f"no schedule row for {team} on {day}")

    def load(self, w: Loader) -> None:
        """Create every raw table and load the collected rows (tables without rows stay as
        they are: DuckDB's CSV loader cannot sniff an empty file)."""
        w.ensure_raw_tables(phase2.RAW_TABLES)
        for table in phase2.RAW_TABLES:
            if self.rows.get(table.name):
                w.load_raw(table, self.rows[table.name])


# A REQUIRED column a hand-built output row leaves out gets this (the model under test never
# reads it); TIMESTAMPs get INSERTED_AT.
_NEUTRAL = {"BOOL": False, "INT64": 0, "STRING": "", "FLOAT64": 0.0}
INSERTED_AT = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def insert_rows(w: Any, name: str, rows: list[dict[str, Any]]) -> None:
    """Insert hand-built rows (production's column names) into the catalog table ``name`` of
    the DuckDB warehouse ``w``; REQUIRED columns no row sets get a neutral value."""
    from nba_backfill.catalog import TABLES

    live = {c.name: c for c in TABLES[name].contract.live_columns}
    fill = {
        c.name: INSERTED_AT if c.type == "TIMESTAMP" else _NEUTRAL.get(c.type, 0)
        for c in live.values()
        if c.required and all(c.name not in r for r in rows)
    }
    names = sorted({k for r in rows for k in r} | set(fill))
    w._cursor().executemany(
        f"INSERT INTO {name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
        [[r.get(c, fill.get(c)) for c in names] for r in rows],
    )
