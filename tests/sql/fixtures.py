"""Small hand-built Phase 2 inputs for the SQL model tests.

:class:`Phase2` collects rows per raw table (keyword arguments by column name, the rest NULL)
and loads them into a warehouse; :meth:`Phase2.game` adds one game with its schedule row,
both team boxscores and the listed gamebook players in one call.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nba_backfill import phase2
from nba_backfill.phase2 import RawTable
from nba_backfill.warehouse.base import Warehouse


def raw_row(table: RawTable, **values: Any) -> tuple[Any, ...]:
    """One row of ``table`` in column order; unknown columns are an error, missing ones NULL."""
    unknown = set(values) - set(table.column_names)
    if unknown:
        raise KeyError(f"{table.name} has no column(s) {sorted(unknown)}")
    return tuple(values.get(c) for c in table.column_names)


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


@dataclass
class Phase2:
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=lambda: defaultdict(list))
    nba_game_numbers: int = 0

    def add(self, table: RawTable, **values: Any) -> None:
        self.rows[table.name].append(raw_row(table, **values))

    def schedule(
        self, day: dt.date, away: str, home: str, *, status: int = 3, nba_game_id: str | None = None
    ) -> str:
        gid = game_id(day, away, home)
        self.nba_game_numbers += 1
        season = season_of(day)
        self.add(
            phase2.SCHEDULE,
            game_id=gid,
            nba_game_id=nba_game_id or f"002{season % 100:02d}{self.nba_game_numbers:05d}",
            game_date=day,
            season_year=season,
            home_team_abbr=home,
            away_team_abbr=away,
            game_status=status,
            is_regular_season=True,
            is_playoffs=False,
        )
        return gid

    def box(self, day: dt.date, away: str, home: str, team: str, stats: Mapping[str, int]) -> None:
        self.add(
            phase2.TEAM_BOXSCORE,
            game_id=game_id(day, away, home),
            game_date=day,
            season_year=season_of(day),
            team_abbr=team,
            opponent_team_abbr=home if team == away else away,
            is_home=team == home,
            **stats,
        )

    def player(self, day: dt.date, away: str, home: str, team: str, p: Player) -> None:
        self.add(
            phase2.GAMEBOOK,
            game_id=game_id(day, away, home),
            game_date=day,
            season_year=season_of(day),
            team_abbr=team,
            opponent_team_abbr=home if team == away else away,
            player_lookup=p.lookup,
            player_name=p.lookup.title(),
            player_status=p.status,
            dnp_reason="coach's decision" if p.status == "dnp" else None,
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
    ) -> str:
        """A scheduled game, both teams' boxscores (``boxes`` limits which) and gamebook lines."""
        gid = self.schedule(day, away, home, status=status, nba_game_id=nba_game_id)
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
    ) -> None:
        n = len(self.rows[phase2.PLAY_BY_PLAY.name])
        self.add(
            phase2.PLAY_BY_PLAY,
            game_id=game_id(day, away, home),
            game_date=day,
            event_id=n + 1,
            period=1,
            team_abbr=team,
            opponent_team_abbr=home if team == away else away,
            player_lookup=player,
            shot_zone=zone,
            shot_made=made,
            assisted=assisted,
            blocked=blocked,
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
            game_date=day,
            player_lookup=player,
            bookmaker=bookmaker,
            points_line=line,
            over_price=-110,
            under_price=-110,
            snapshot_timestamp=snapshot,
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
        self.add(
            phase2.GAME_LINES,
            game_id=game_id(day, away, home),
            game_date=day,
            home_team_abbr=home,
            away_team_abbr=away,
            bookmaker=bookmaker,
            spread=spread,
            total=total,
            snapshot_timestamp=snapshot,
        )

    def injury(
        self, report_date: dt.date, game_date: dt.date, team: str, player: str, status: str
    ) -> None:
        self.add(
            phase2.INJURY_REPORT,
            report_date=report_date,
            game_date=game_date,
            team_abbr=team,
            player_lookup=player,
            status=status,
            reason="injury",
        )

    def load(self, w: Warehouse) -> None:
        """Create every raw table and load the collected rows (tables without rows stay as
        they are: DuckDB's CSV loader cannot sniff an empty file)."""
        w.ensure_raw_tables(phase2.RAW_TABLES)
        for table in phase2.RAW_TABLES:
            if self.rows.get(table.name):
                w.load_raw(table, self.rows[table.name])
