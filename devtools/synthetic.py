"""Deterministic synthetic Phase 2 data at real-world scale (SPEC §2-3), in production's shape.

Seasons 2021-22 to 2026-27 of a 30-team league, written as production's raw tables
(``nba_raw.nbac_schedule``, ``nbac_gamebook_player_stats``, ``nbac_team_boxscore``,
``nbac_play_by_play``, ``odds_api_player_points_props``, ``odds_api_game_lines``,
``nbac_injury_report``, ``nba_reference.nba_players_registry`` and production's fallbacks
``bdl_player_boxscores`` / ``bettingpros_player_points_props``, copies of the gamebook's lines and
of the odds feed's points lines): the contract's columns, every
REQUIRED column filled, and production's conventions — the schedule keyed by NBA.com ids
(``0022400123``) with tricodes, ``game_code`` ``YYYYMMDD/AWYHOM`` and appended versions (each
final game also has its earlier "Scheduled" row), the All-Star game flagged ``is_all_star``;
``YYYYMMDD_AWAY_HOME`` game ids elsewhere, "MM:SS" minutes, gamebook statuses active / dnp /
inactive, event-level play-by-play (player_1 shoots, player_2 assists a make, player_3 blocks a
miss), game lines one row per bookmaker x market x outcome x snapshot keyed by the odds feed's
event id and naming teams in full, injury reports one row per player and report hour
("Last, First", lowercase statuses), registry ids ``<player_lookup>_001``.
Everything is derived from ``random.Random`` streams seeded from ``seed`` (no hash-randomised
state), so one seed always gives the same rows.

Consistency is by construction, not by after-the-fact fixing: each field-goal attempt is drawn
once as a play-by-play row and the gamebook counts those rows; team box scores are sums of the
gamebook; a team's blocks are exactly the opponent's shots flagged ``blocked`` and its assists
the own made shots flagged ``assisted``. Player minutes are split in seconds so a team always
has 240 player-minutes plus 25 per overtime period.

The calendar follows the real one (openers, second-Sunday-of-April season ends, no games on
Thanksgiving, Dec 24 or the All-Star break, play-in then best-of-7 rounds on fixed dates, no
games July-September), so the number of final game dates matches production's (917 through
2026-01-02) whatever the seed; the first 14 days of every season have games.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nba_backfill.contract import TableContract
from nba_backfill.phase2 import (
    BDL_BOXSCORES,
    BETTINGPROS_PROPS,
    GAME_LINES,
    GAMEBOOK,
    INJURY_REPORT,
    PLAY_BY_PLAY,
    PLAYER_PROPS,
    PLAYERS_REGISTRY,
    RAW_TABLES,
    SCHEDULE,
    TEAM_BOXSCORE,
)

if TYPE_CHECKING:
    from nba_backfill.warehouse.base import Loader

Row = tuple[Any, ...]
DEFAULT_FINAL_THROUGH = dt.date(2026, 1, 3)

# The synthetic league's season openers: this module is the data source, so it knows them (the
# product never does: it reads openers from the schedule). 2021-25 are the real dates.
SYNTHETIC_OPENERS: dict[int, dt.date] = {
    2021: dt.date(2021, 10, 19),
    2022: dt.date(2022, 10, 18),
    2023: dt.date(2023, 10, 24),
    2024: dt.date(2024, 10, 22),
    2025: dt.date(2025, 10, 21),
    2026: dt.date(2026, 10, 20),
}

# --- league ------------------------------------------------------------------------------------
EAST = (
    ("BOS", "BKN", "NYK", "PHI", "TOR"),
    ("CHI", "CLE", "DET", "IND", "MIL"),
    ("ATL", "CHA", "MIA", "ORL", "WAS"),
)
WEST = (
    ("DEN", "MIN", "OKC", "POR", "UTA"),
    ("GSW", "LAC", "LAL", "PHX", "SAC"),
    ("DAL", "HOU", "MEM", "NOP", "SAS"),
)
TEAMS: tuple[str, ...] = tuple(sorted(t for conf in (EAST, WEST) for div in conf for t in div))
# NBA.com team id, city (as NBA.com writes it) and nickname. The odds feed's full names are
# city + nickname; the schedule holds the nickname.
TEAM_INFO: dict[str, tuple[int, str, str]] = {
    "ATL": (1610612737, "Atlanta", "Hawks"),
    "BOS": (1610612738, "Boston", "Celtics"),
    "BKN": (1610612751, "Brooklyn", "Nets"),
    "CHA": (1610612766, "Charlotte", "Hornets"),
    "CHI": (1610612741, "Chicago", "Bulls"),
    "CLE": (1610612739, "Cleveland", "Cavaliers"),
    "DAL": (1610612742, "Dallas", "Mavericks"),
    "DEN": (1610612743, "Denver", "Nuggets"),
    "DET": (1610612765, "Detroit", "Pistons"),
    "GSW": (1610612744, "Golden State", "Warriors"),
    "HOU": (1610612745, "Houston", "Rockets"),
    "IND": (1610612754, "Indiana", "Pacers"),
    "LAC": (1610612746, "LA", "Clippers"),
    "LAL": (1610612747, "Los Angeles", "Lakers"),
    "MEM": (1610612763, "Memphis", "Grizzlies"),
    "MIA": (1610612748, "Miami", "Heat"),
    "MIL": (1610612749, "Milwaukee", "Bucks"),
    "MIN": (1610612750, "Minnesota", "Timberwolves"),
    "NOP": (1610612740, "New Orleans", "Pelicans"),
    "NYK": (1610612752, "New York", "Knicks"),
    "OKC": (1610612760, "Oklahoma City", "Thunder"),
    "ORL": (1610612753, "Orlando", "Magic"),
    "PHI": (1610612755, "Philadelphia", "76ers"),
    "PHX": (1610612756, "Phoenix", "Suns"),
    "POR": (1610612757, "Portland", "Trail Blazers"),
    "SAC": (1610612758, "Sacramento", "Kings"),
    "SAS": (1610612759, "San Antonio", "Spurs"),
    "TOR": (1610612761, "Toronto", "Raptors"),
    "UTA": (1610612762, "Utah", "Jazz"),
    "WAS": (1610612764, "Washington", "Wizards"),
}
# The All-Star game's teams (NBA.com ids and tricodes of the conference format).
ALL_STAR_TEAMS: dict[str, tuple[int, str, str]] = {
    "EST": (1610616833, "East", "All-Stars"),
    "WST": (1610616834, "West", "All-Stars"),
}
_BOOK_TITLES = {"draftkings": "DraftKings", "fanduel": "FanDuel", "betmgm": "BetMGM"}


def team_full_name(abbr: str) -> str:
    """ "Los Angeles Lakers": how the odds feed and the injury report name a team."""
    _, city, nickname = TEAM_INFO[abbr]
    return f"{city} {nickname}"


def season_label(season: int) -> str:
    """NBA format of a season: 2023 -> "2023-24"."""
    return f"{season}-{(season + 1) % 100:02d}"


def season_of_date(day: dt.date) -> int:
    """The season year of a game date (the league plays no games from July to September)."""
    return day.year if day.month >= 8 else day.year - 1


class Shape:
    """Rows of one production table in its contract's column order; unknown columns are an
    error, missing ones NULL (REPEATED ones an empty list)."""

    def __init__(self, table: TableContract) -> None:
        self.table = table
        self.names = table.column_names
        self.index = {n: i for i, n in enumerate(self.names)}
        self._blank: list[Any] = [[] if c.mode == "REPEATED" else None for c in table.live_columns]

    def template(self, **values: Any) -> list[Any]:
        row = list(self._blank)
        for k, v in values.items():
            row[self.index[k]] = v
        return row

    def row(self, _base: list[Any] | None = None, **values: Any) -> Row:
        out = list(_base) if _base is not None else list(self._blank)
        for k, v in values.items():
            out[self.index[k]] = v
        return tuple(out)


def _ts(day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


def _hex_id(text: str) -> str:
    """A stable 32-hex id (the odds feed's event ids look like this)."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _decimal_odds(american: int) -> float:
    return round(1 + (100 / -american if american < 0 else american / 100), 3)


ROSTER_SIZE = 15
# Regular-season minutes by rank within the roster (top 10 ~ 240): stars play ~35 minutes.
_MINUTES_BY_RANK: tuple[float, ...] = (34.5, 32.5, 31, 29, 27, 24, 21, 19, 16, 12, 8, 5, 3, 2, 1)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "Aaron Adrian Alec Amari Andre Anthony Austin Bennett Blake Brandon Brice Bruce Caleb Cam "
    "Cason Chris Cody Cole Collin Dalano Dante Darius David De'Andre De'Anthony Deandre Dejon "
    "Derrick Devin Dillon Donovan Dorian Drew Dyson Eric Evan Franz Gary Gradey Grant Isaiah "
    "Jabari Jaden Jake Jalen Jamal Jaren Jarrett Javonte Jaylen Jeremy Jerome Jordan Josh Julian "
    "Justin Keegan Kelly Kenyon Keon Kevin Kris Kyle Lamar Landry Lonnie Malik Marcus Mark Mason "
    "Max Mikal Miles Mitchell Moses Naz Nic Norman Obi Ochai Onyeka Pascal Patrick Paul Quentin "
    "Reggie Ricky Robert Royce Russell Saddiq Scoot Seth Spencer Stephen Terance Terry Thomas Tim "
    "Tobias Trae Trey Tyler Tyrese Walker Wendell Xavier Zach"
)
_LAST = _words(
    "Adams Allen Anderson Bailey Barnes Bates Bell Bennett Brooks Brown Bryant Butler Carter "
    "Clark Coleman Collins Cook Cooper Crawford Cunningham Daniels Davis Diallo Dixon Dosunmu "
    "Douglas Edwards Ellis Evans Fisher Fleming Ford Foster Fox Freeman Gibson Gordon Graham Gray "
    "Green Griffin Hall Hamilton Harper Harris Hart Hayes Henderson Hill Holiday Holmes Howard "
    "Hughes Hunter Jackson James Jenkins Johnson Jones Kelly Kennedy King Knight Lewis Lopez "
    "Marshall Martin Mason McCoy McDaniels Miller Mitchell Moore Morgan Morris Murphy Murray "
    "Nelson Okafor Okoro Oliver O'Neal Owens Palmer Parker Patterson Payne Perry Phillips Porter "
    "Powell Price Randle Reed Reid Richards Richardson Robinson Rogers Ross Sanders Scott Simmons "
    "Smith Stewart Sullivan Taylor Thompson Tucker Turner Walker Wallace Ward Warren Washington "
    "Watson Webb Wells White Wiggins Williams Wilson Wright Young Smith-Jones Walker-Kidd"
)
_SUFFIXES = (" Jr.", " Jr.", " II", " III", " Sr.")

_INJURIES = (
    "Left Ankle; Sprain",
    "Right Ankle; Sprain",
    "Left Knee; Soreness",
    "Right Knee; Tendinitis",
    "Right Hamstring; Strain",
    "Left Hamstring; Tightness",
    "Low Back; Soreness",
    "Illness",
    "Right Calf; Strain",
    "Left Foot; Contusion",
    "Concussion Protocol",
    "Right Wrist; Sprain",
    "Left Groin; Tightness",
    "Right Shoulder; Soreness",
    "Left Hip; Contusion",
    "Health and Safety Protocols",
    "Injury Management",
)
_NOT_INJURED = (
    "G League - On Assignment",
    "G League - Two-Way",
    "Not With Team",
    "Personal Reasons",
)
# Games missed per injury: mostly a game or two, sometimes weeks.
_INJURY_GAMES = (1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 8, 10, 14, 20, 30)
_INJURY_P = 0.014  # chance a healthy player gets hurt before a given game
_BOOKS = ("draftkings", "fanduel", "betmgm")

# Shot model per zone (paint, mid_range, three): share of made shots assisted, share of misses
# blocked. Gives ~60 % of made shots assisted and ~10 % of misses blocked (~5 blocks a team).
_ZONES = ("paint", "mid_range", "three")
_AST_P = (0.50, 0.45, 0.82)
_BLK_P = (0.22, 0.08, 0.035)
# A game within a few points is sometimes tied at the buzzer: with natural ties this gives the
# real ~6 % of games going to overtime.
_FORCE_TIE_P = 0.35

# By season index (2021-22 first): historically partial odds, fuller in recent seasons.
_PROP_COVERAGE = (0.30, 0.45, 0.60, 0.70, 0.80)
_LINE_COVERAGE = (0.55, 0.65, 0.78, 0.86, 0.92)
_NO_ODDS_DAY_P = (0.10, 0.07, 0.05, 0.03, 0.02)  # scraper outages: no odds at all that day
_PROP_MIN_MINUTES = 17.0  # books only list players expected to play real minutes
PREGAME_DAYS = 7  # props, lines and injury reports exist this far ahead of final_through

# Games per playoff series by round, in bracket order (East 1v8, 4v5, 3v6, 2v7, then West),
# modelled on the 2022-2025 playoffs (the 2025 Finals went seven games, ending 2025-06-22).
# Fixed rather than drawn: with the fixed playoff calendar this makes the number of game dates
# the same for every seed. Which team wins each game is still simulated.
_SERIES_GAMES: dict[int, tuple[tuple[int, ...], ...]] = {
    2021: ((5, 6, 5, 4, 6, 6, 5, 6), (6, 7, 6, 7), (7, 5), (6,)),
    2022: ((5, 6, 4, 5, 5, 6, 7, 5), (6, 7, 6, 6), (7, 4), (5,)),
    2023: ((5, 6, 6, 7, 4, 5, 4, 6), (5, 7, 7, 6), (4, 5), (5,)),
    2024: ((4, 5, 6, 5, 4, 7, 7, 5), (5, 6, 7, 5), (6, 5), (7,)),
}
# Also dark: the US election days of 2022 and 2024 (as in the real calendars). With these, the
# calendar has production's 917 final game dates through 2026-01-02 for every seed.
_EXTRA_OFF_DAYS = frozenset({dt.date(2022, 11, 8), dt.date(2024, 11, 5)})


def player_lookup(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


# --- people ------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Player:
    name: str
    lookup: str
    pos: str  # G | F | C
    quality: float  # 0..1; drives role, minutes, usage and shooting
    three_rate: float  # share of attempts from three
    paint_share: float  # share of two-point attempts in the paint
    pcts: tuple[float, float, float]  # FG% by zone
    ft_rate: float
    ft_pct: float
    reb_w: float
    ast_w: float
    stl_w: float
    blk_w: float
    foul_w: float
    pid: int = 0  # NBA.com person id
    jersey: int = 0


@dataclass(slots=True)
class _Slot:
    """A player on one team for one season, with his in-season state."""

    p: _Player
    minutes_base: float
    usage: float
    prior_points: float  # pre-season points expectation (seeds the props line)
    out_games: int = 0
    injury: str = ""
    pts_sum: int = 0
    games: int = 0


@dataclass(slots=True)
class _Team:
    abbr: str
    rating: float  # season strength, ~N(0, 1)
    slots: list[_Slot]
    wins: int = 0


def _clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def _new_player(rng: random.Random, taken: set[str], quality: float) -> _Player:
    while True:
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        if rng.random() < 0.06:
            name += rng.choice(_SUFFIXES)
        lookup = player_lookup(name)
        if lookup not in taken:
            taken.add(lookup)
            break
    pos = rng.choices("GFC", (0.45, 0.35, 0.20))[0]
    g = rng.gauss
    q = quality - 0.3
    big = pos == "C"
    three = {"G": 0.47, "F": 0.40, "C": 0.15}[pos]
    return _Player(
        name=name,
        lookup=lookup,
        pos=pos,
        quality=quality,
        three_rate=_clamp(g(three, 0.09), 0.01, 0.75),
        paint_share=_clamp(g({"G": 0.5, "F": 0.6, "C": 0.8}[pos], 0.08), 0.2, 0.97),
        pcts=(
            _clamp(g(0.59 + 0.08 * q + (0.03 if big else 0.0), 0.02), 0.45, 0.75),
            _clamp(g(0.42 + 0.05 * q, 0.02), 0.30, 0.55),
            _clamp(g(0.36 + 0.04 * q - (0.03 if big else 0.0), 0.02), 0.25, 0.45),
        ),
        ft_rate=_clamp(g({"G": 0.22, "F": 0.27, "C": 0.35}[pos], 0.06), 0.05, 0.6),
        ft_pct=_clamp(g({"G": 0.82, "F": 0.77, "C": 0.68}[pos], 0.05), 0.45, 0.95),
        reb_w={"G": 1.0, "F": 1.8, "C": 3.2}[pos] * rng.uniform(0.8, 1.2),
        ast_w={"G": 3.0, "F": 1.5, "C": 1.0}[pos] * rng.uniform(0.7, 1.3) * (0.7 + quality),
        stl_w={"G": 1.3, "F": 1.1, "C": 0.8}[pos] * rng.uniform(0.7, 1.3),
        blk_w={"G": 0.4, "F": 1.1, "C": 3.0}[pos] * rng.uniform(0.6, 1.4),
        foul_w={"G": 1.0, "F": 1.15, "C": 1.5}[pos],
        # Ids in creation order (no random draw: the other streams stay as they were).
        pid=1626000 + 7 * len(taken),
        jersey=len(taken) * 37 % 100,
    )


def _league(seed: int) -> dict[int, dict[str, list[_Player]]]:
    """Rosters per season: about 70 % of a roster stays, leavers sign elsewhere or retire,
    rookies fill the rest. Built for all seasons up front so one season's rows never depend on
    which other seasons are generated."""
    rng = random.Random(f"nba-synthetic-league:{seed}")
    taken: set[str] = set()
    seasons = sorted(SYNTHETIC_OPENERS)
    out: dict[int, dict[str, list[_Player]]] = {}
    rosters: dict[str, list[_Player]] = {}
    for season in seasons:
        if not rosters:
            rosters = {
                t: [_new_player(rng, taken, rng.betavariate(2, 4)) for _ in range(ROSTER_SIZE)]
                for t in TEAMS
            }
        else:
            pool: list[_Player] = []
            for t in TEAMS:
                keep = []
                for p in rosters[t]:
                    p.quality = _clamp(p.quality + rng.gauss(0.0, 0.06), 0.02, 0.98)
                    if rng.random() < 0.72:
                        keep.append(p)
                    elif rng.random() < 0.6:
                        pool.append(p)
                rosters[t] = keep
            rng.shuffle(pool)
            for t in TEAMS:
                while len(rosters[t]) < ROSTER_SIZE:
                    rosters[t].append(
                        pool.pop() if pool else _new_player(rng, taken, rng.betavariate(1.6, 5))
                    )
        out[season] = {t: sorted(ps, key=lambda p: -p.quality) for t, ps in rosters.items()}
    return out


def _season_teams(rng: random.Random, roster: dict[str, list[_Player]]) -> dict[str, _Team]:
    teams = {}
    for abbr in TEAMS:
        players = roster[abbr]
        usage = [0.55 + 1.3 * p.quality**1.5 for p in players]
        mins = _MINUTES_BY_RANK
        top = sum(u * m for u, m in zip(usage[:10], mins[:10], strict=True))
        # Team points (~113) split by minutes x usage: the props line's starting point.
        slots = [
            _Slot(p, mins[i], usage[i], 113.0 * usage[i] * mins[i] / top)
            for i, p in enumerate(players)
        ]
        quality = sum(p.quality for p in players[:8]) / 8
        teams[abbr] = _Team(abbr, _clamp(rng.gauss(0, 0.8) + 4 * (quality - 0.3), -2.5, 2.5), slots)
    return teams


# --- calendar ----------------------------------------------------------------------------------
def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def regular_season_dates(season: int) -> list[dt.date]:
    """Opener to the second Sunday of April, without Thanksgiving, Dec 24, the All-Star break
    (Friday..Wednesday around the third Sunday of February) and a few other dark days."""
    opener = SYNTHETIC_OPENERS[season]
    end = _nth_weekday(season + 1, 4, 6, 2)
    asg = _nth_weekday(season + 1, 2, 6, 3)
    off = {_nth_weekday(season, 11, 3, 4), dt.date(season, 12, 24)}
    off |= {asg + dt.timedelta(days=k) for k in range(-2, 4)}
    days = ((end - opener).days) + 1
    return [
        d
        for d in (opener + dt.timedelta(days=i) for i in range(days))
        if d not in off and d not in _EXTRA_OFF_DAYS
    ]


def _matchups() -> list[tuple[str, str]]:
    """The NBA formula, as (home, away): 4 games against division rivals, 4 against six other
    conference teams and 3 against four (home twice against two of them), 2 against each team of
    the other conference. 82 games and 41 home games per team, 1,230 in all."""
    games: list[tuple[str, str]] = []
    for conf in (EAST, WEST):
        for div in conf:
            for i, a in enumerate(div):
                for b in div[i + 1 :]:
                    games += [(a, b), (a, b), (b, a), (b, a)]
        for x in range(3):
            for y in range(x + 1, 3):
                for i, a in enumerate(conf[x]):
                    for j, b in enumerate(conf[y]):
                        k = (j - i) % 5
                        if k == 0:
                            games += [(a, b), (a, b), (b, a)]
                        elif k == 1:
                            games += [(a, b), (b, a), (b, a)]
                        else:
                            games += [(a, b), (a, b), (b, a), (b, a)]
    east = [t for div in EAST for t in div]
    west = [t for div in WEST for t in div]
    games += [g for a in east for b in west for g in ((a, b), (b, a))]
    return games


# Games per weekday (Mon..Sun), relative: busy Wednesdays and Fridays, light Thursdays.
_WEEKDAY_LOAD = (7.0, 6.0, 9.5, 5.0, 9.0, 7.5, 6.0)


def _schedule_regular(rng: random.Random, dates: list[dt.date]) -> list[tuple[dt.date, str, str]]:
    """Greedy day-by-day placement: each day takes about its share of the remaining games,
    preferring teams that are behind (games left / days left) and avoiding a third game in three
    days. Every date gets at least one game."""
    pool = _matchups()
    rng.shuffle(pool)
    left = dict.fromkeys(TEAMS, 82)
    last: dict[str, dt.date] = {}
    streak = dict.fromkeys(TEAMS, 0)  # consecutive days played up to the previous date
    loads = [_WEEKDAY_LOAD[d.weekday()] for d in dates]
    suffix = [0.0] * (len(dates) + 1)
    for i in range(len(dates) - 1, -1, -1):
        suffix[i] = suffix[i + 1] + loads[i]
    placed: list[tuple[dt.date, str, str]] = []
    one = dt.timedelta(days=1)
    for i, day in enumerate(dates):
        days_left = len(dates) - i
        target = len(pool) * loads[i] / suffix[i] + rng.uniform(-1.0, 1.0)
        if i == 0:
            target = 2  # opening night: a double-header
        elif day.month == 12 and day.day == 25:
            target = 5
        target = max(1, min(15, round(target)))
        b2b = {t: last.get(t) == day - one for t in TEAMS}
        for t in TEAMS:
            if not b2b[t]:
                streak[t] = 0
        need = {t: left[t] / days_left - (0.35 if b2b[t] else 0.0) for t in TEAMS}
        scored = []
        for k, (h, a) in enumerate(pool):
            if streak[h] >= 2 or streak[a] >= 2:
                continue
            scored.append((need[h] + need[a] + 0.3 * rng.random(), k))
        scored.sort(reverse=True)
        busy: set[str] = set()
        taken: list[int] = []
        for _, k in scored:
            h, a = pool[k]
            if h in busy or a in busy:
                continue
            busy.update((h, a))
            taken.append(k)
            if len(taken) >= target:
                break
        for k in sorted(taken, reverse=True):
            h, a = pool.pop(k)
            placed.append((day, h, a))
            left[h] -= 1
            left[a] -= 1
        for t in busy:
            streak[t] = streak[t] + 1 if b2b[t] else 1
            last[t] = day
    # Rare leftovers (pairing conflicts at the very end): latest day both teams are free.
    for h, a in pool:
        busy_days = {(d, t) for d, x, y in placed for t in (x, y)}
        day = next(
            d for d in reversed(dates) if (d, h) not in busy_days and (d, a) not in busy_days
        )
        placed.append((day, h, a))
    placed.sort(key=lambda g: g[0])
    return placed


# --- one game ----------------------------------------------------------------------------------
@dataclass(slots=True)
class _Avail:
    active: list[_Slot]
    dnp: list[_Slot]
    inactive: list[tuple[_Slot, str]]
    report: list[tuple[_Slot, str, str]]  # (slot, status, reason) for the injury report


def _availability(rng: random.Random, team: _Team) -> _Avail:
    """Who is out (injury state carries over between games), listed questionable/probable,
    in the rotation, or a healthy DNP. At most 13 dress; the end of the bench is inactive."""
    out: list[tuple[_Slot, str]] = []
    report: list[tuple[_Slot, str, str]] = []
    healthy: list[_Slot] = []
    for s in team.slots:
        if s.out_games <= 0 and rng.random() < _INJURY_P:
            s.out_games = rng.choice(_INJURY_GAMES)
            s.injury = rng.choice(_INJURIES)
        if s.out_games > 0:
            s.out_games -= 1
            # A player about to return is often listed questionable, then ruled out.
            status = "questionable" if s.out_games == 0 and rng.random() < 0.4 else "out"
            report.append((s, status, s.injury))
            out.append((s, "Injury/Illness - " + s.injury))
            continue
        r = rng.random()
        if r < 0.03:
            reason = rng.choice(_INJURIES)
            report.append((s, "questionable", reason))
            if rng.random() < 0.3:
                out.append((s, "Injury/Illness - " + reason))
                continue
        elif r < 0.07:
            report.append((s, "probable", rng.choice(_INJURIES)))
        healthy.append(s)
    healthy.sort(key=lambda s: s.minutes_base * rng.uniform(0.85, 1.15), reverse=True)
    n_active = min(len(healthy), rng.choice((9, 10, 10, 10, 11)))
    active, bench = healthy[:n_active], healthy[n_active:]
    listed = {id(s): reason for s, _, reason in report}
    while bench and (len(out) < 2 or n_active + len(bench) > 13):
        s = bench.pop()
        if id(s) in listed:  # already on the report (questionable/probable): ruled out
            out.append((s, "Injury/Illness - " + listed[id(s)]))
            continue
        reason = rng.choice(_NOT_INJURED)
        out.append((s, reason))
        report.append((s, "out", reason))
    return _Avail(active, bench, out, report)


def _split(total: int, weights: Sequence[float], cap: int) -> list[int]:
    """Integers proportional to weights summing exactly to total, none above cap."""
    n = len(weights)
    res = [0] * n
    free = list(range(n))
    remaining = total
    while free:
        sw = sum(weights[i] for i in free)
        alloc = {i: remaining * weights[i] / sw for i in free}
        over = [i for i in free if alloc[i] > cap]
        if not over:
            for i in free:
                res[i] = int(alloc[i])
            res[free[0]] += remaining - sum(res[i] for i in free)
            return res
        for i in over:
            res[i] = cap
            remaining -= cap
            free.remove(i)
    return res


def _cum(ws: Iterable[float]) -> list[float]:
    out, acc = [], 0.0
    for w in ws:
        acc += w
        out.append(acc)
    return out


# (time key, side, shooter, zone, made, assister or -1, blocker (opponent's index) or -1)
Shot = tuple[float, int, int, int, bool, int, int]
# Box columns in table order after points; rebounds total is derived.
_COUNTS = _words("fgm fga tpm tpa ftm fta oreb dreb ast stl blk tov pf")


class _Side:
    """One team's players and stat lines within a game; ``flag`` 0 = home, 1 = away."""

    def __init__(
        self, team: _Team, active: list[_Slot], sec: list[int], flag: int, shots: list[Shot]
    ) -> None:
        self.team, self.slots, self.sec, self.flag, self.shots = team, active, sec, flag, shots
        self.players = [s.p for s in active]
        self.n = n = len(active)
        self.usage_cw = _cum(s.usage * t for s, t in zip(active, sec, strict=True))
        zeros = [[0] * n for _ in _COUNTS]
        self.fgm, self.fga, self.tpm, self.tpa, self.ftm, self.fta = zeros[:6]
        self.oreb, self.dreb, self.ast, self.stl, self.blk, self.tov, self.pf = zeros[6:]

    def points(self) -> int:
        return 2 * sum(self.fgm) + sum(self.tpm) + sum(self.ftm)

    def line(self, j: int) -> tuple[int, ...]:
        """Player j's 15 box columns, in table order."""
        fgm, fga, tpm, tpa, ftm, fta, oreb, dreb, ast, stl, blk, tov, pf = (
            getattr(self, c)[j] for c in _COUNTS
        )
        pts = 2 * fgm + tpm + ftm
        return (pts, fgm, fga, tpm, tpa, ftm, fta, oreb, dreb, oreb + dreb, ast, stl, blk, tov, pf)

    def weighted(self, attr: str, power: float = 1.0) -> list[float]:
        return _cum(
            getattr(p, attr) ** power * t for p, t in zip(self.players, self.sec, strict=True)
        )

    def shoot(
        self,
        rng: random.Random,
        opp: _Side,
        n: int,
        cw: list[float],
        who: Sequence[int],
        adj: float,
        period0: float,
        span: float,
    ) -> None:
        """n field-goal attempts by the players ``who`` (weights ``cw``), each one a shot row
        timed in [period0, period0 + span) periods."""
        rand = rng.random
        ast_cw = self.weighted("ast_w")
        blk_cw = opp.weighted("blk_w")
        for j in rng.choices(who, cum_weights=cw, k=n):
            p = self.players[j]
            r = rand()
            tr = p.three_rate
            zone = 2 if r < tr else 0 if (r - tr) < p.paint_share * (1.0 - tr) else 1
            made = rand() < p.pcts[zone] + adj
            r = rand()
            assisted = made and r < _AST_P[zone]
            blocked = not made and r < _BLK_P[zone]
            self.fga[j] += 1
            self.tpa[j] += zone == 2
            helper = blocker = -1
            if made:
                self.fgm[j] += 1
                self.tpm[j] += zone == 2
                if assisted:
                    k = j
                    while k == j:
                        k = _pick(rng, ast_cw)
                    self.ast[k] += 1
                    helper = k
            elif blocked:
                blocker = _pick(rng, blk_cw)
                opp.blk[blocker] += 1
            self.shots.append((period0 + span * rand(), self.flag, j, zone, made, helper, blocker))

    def free_throws(self, rng: random.Random, n: int, cw: list[float], who: Sequence[int]) -> None:
        for j in rng.choices(who, cum_weights=cw, k=n):
            self.fta[j] += 1
            self.ftm[j] += rng.random() < self.players[j].ft_pct


def _pick(rng: random.Random, cw: list[float]) -> int:
    return bisect.bisect(cw, rng.random() * cw[-1])


def _distribute(
    rng: random.Random, stat: list[int], n: int, cw: list[float], cap: int = 99
) -> None:
    for j in rng.choices(range(len(stat)), cum_weights=cw, k=n):
        if stat[j] < cap:  # a fouled-out player is not charged (keeps totals plausible)
            stat[j] += 1


_GB = Shape(GAMEBOOK)
_BOX = Shape(TEAM_BOXSCORE)
_PBP = Shape(PLAY_BY_PLAY)
_SCHED = Shape(SCHEDULE)
_PROPS = Shape(PLAYER_PROPS)
_LINES = Shape(GAME_LINES)
_INJ = Shape(INJURY_REPORT)
_REG = Shape(PLAYERS_REGISTRY)
_BDL = Shape(BDL_BOXSCORES)
_BP = Shape(BETTINGPROS_PROPS)
# The gamebook's box column names in line order; the team box score names some differently.
_LINE_NAMES = _words(
    "points field_goals_made field_goals_attempted three_pointers_made three_pointers_attempted "
    "free_throws_made free_throws_attempted offensive_rebounds defensive_rebounds total_rebounds "
    "assists steals blocks turnovers personal_fouls"
)
_TEAM_BOX_NAMES = {
    "field_goals_made": "fg_made",
    "field_goals_attempted": "fg_attempted",
    "three_pointers_made": "three_pt_made",
    "three_pointers_attempted": "three_pt_attempted",
    "free_throws_made": "ft_made",
    "free_throws_attempted": "ft_attempted",
    "field_goal_percentage": "fg_percentage",
    "three_point_percentage": "three_pt_percentage",
    "free_throw_percentage": "ft_percentage",
}


def _pct(made: int, attempted: int) -> float | None:
    return round(made / attempted, 3) if attempted else None


def _box_line(line: Sequence[int]) -> dict[str, Any]:
    """A 15-column stat line as gamebook columns, with the percentages."""
    out: dict[str, Any] = dict(zip(_LINE_NAMES, line, strict=True))
    out["field_goal_percentage"] = _pct(line[1], line[2])
    out["three_point_percentage"] = _pct(line[3], line[4])
    out["free_throw_percentage"] = _pct(line[5], line[6])
    return out


@dataclass
class _Result:
    rows: dict[str, list[Row]]
    home_pts: int
    away_pts: int
    points: list[tuple[_Slot, int]]


def _play(
    rng: random.Random,
    game_id: str,
    nba_id: str,
    day: dt.date,
    season: int,
    home: _Team,
    away: _Team,
    av: dict[str, _Avail],
) -> _Result:
    """Simulate one final game; nothing is committed (the caller may redraw a game)."""
    shots: list[Shot] = []
    sides: list[_Side] = []
    for flag, team in enumerate((home, away)):
        active = av[team.abbr].active
        w = [s.minutes_base * rng.uniform(0.88, 1.12) for s in active]
        sides.append(_Side(team, active, _split(14400, w, 2880), flag, shots))
    h, a = sides
    pace = rng.gauss(1.0, 0.035)
    for me, opp in ((h, a), (a, h)):
        home_edge = 0.006 if me is h else 0.0
        adj = 0.014 * me.team.rating - 0.010 * opp.team.rating + home_edge
        fga = max(60, round(89 * pace + rng.gauss(0, 3.5)))
        me.shoot(rng, opp, fga, me.usage_cw, range(me.n), adj, 0.0, 4.0)
        fta = max(5, round(rng.gauss(22.5 + 80 * home_edge, 5.5)))
        me.free_throws(rng, fta, me.weighted("ft_rate"), range(me.n))
    # A close game is sometimes tied at the buzzer: the trailing team's extra free throws.
    margin = h.points() - a.points()
    if 1 <= abs(margin) <= 3 and rng.random() < _FORCE_TIE_P:
        trail = a if margin > 0 else h
        j = _pick(rng, trail.usage_cw)
        trail.fta[j] += abs(margin)
        trail.ftm[j] += abs(margin)
    ot = 0
    while h.points() == a.points():
        ot += 1
        for me, opp in ((h, a), (a, h)):
            # Overtime is played by the five who played most: 5 more minutes each.
            five = sorted(range(me.n), key=me.sec.__getitem__, reverse=True)[:5]
            for j in five:
                me.sec[j] += 300
            cw = _cum(me.slots[j].usage for j in five)
            me.shoot(rng, opp, max(5, round(rng.gauss(10, 2))), cw, five, 0.0, 3.0 + ot, 1.0)
            me.free_throws(rng, max(0, round(rng.gauss(2.5, 1.5))), cw, five)
    for me, opp in ((h, a), (a, h)):
        misses = sum(me.fga) - sum(me.fgm)
        oreb = int(_clamp(round(rng.gauss(0.225 * misses, 2.2)), 2, misses))
        _distribute(rng, me.oreb, oreb, me.weighted("reb_w", 1.4))
        opp_misses = sum(opp.fga) - sum(opp.fgm)
        # Defensive boards: the opponent's misses it did not rebound, less team rebounds.
        dreb = max(15, opp_misses - round(0.225 * opp_misses) - round(rng.gauss(2.5, 1.5)))
        _distribute(rng, me.dreb, dreb, me.weighted("reb_w"))
        tov = max(4, round(rng.gauss(13.5, 3.3)))
        _distribute(rng, me.tov, tov, me.usage_cw)
        _distribute(rng, opp.stl, round(tov * rng.uniform(0.45, 0.65)), opp.weighted("stl_w"))
        fouls = max(10, round(rng.gauss(19.5, 3.5)))
        _distribute(rng, me.pf, fouls, me.weighted("foul_w"), cap=6)
    home_abbr, away_abbr = home.abbr, away.abbr
    code = f"{day:%Y%m%d}/{away_abbr}{home_abbr}"
    loaded = _ts(day + dt.timedelta(days=1), 8)  # processed the morning after
    gb_path = f"nba-com/gamebooks-data/{day}/{day:%Y%m%d}-{away_abbr}{home_abbr}/gamebook.json"
    gb_base = _GB.template(
        game_id=game_id,
        game_code=code,
        game_date=day,
        season_year=season,
        home_team_abbr=home_abbr,
        away_team_abbr=away_abbr,
        name_resolution_status="original",
        processed_by_run_id=f"synthetic-{day:%Y%m%d}",
        source_file_path=gb_path,
        processed_at=loaded,
        requires_manual_review=False,
    )
    gb: list[Row] = []
    box: list[Row] = []
    points: list[tuple[_Slot, int]] = []
    for me, opp in ((h, a), (a, h)):
        margin = me.points() - opp.points()
        total = sum(me.sec)
        # On-court margins sum to 5 x the final margin.
        pm = [round(margin * 5 * t / total + rng.gauss(0, 4) * math.sqrt(t / 2000)) for t in me.sec]
        order = sorted(range(me.n), key=me.sec.__getitem__, reverse=True)
        diff = 5 * margin - sum(pm)
        for k in range(abs(diff)):
            pm[order[k % me.n]] += 1 if diff > 0 else -1
        abbr = me.team.abbr
        lines = [me.line(j) for j in range(me.n)]
        for j, (p, line) in enumerate(zip(me.players, lines, strict=True)):
            points.append((me.slots[j], line[0]))
            sec = me.sec[j]
            gb.append(
                _GB.row(
                    gb_base,
                    player_name=p.name,
                    player_name_original=p.name,
                    player_lookup=p.lookup,
                    team_abbr=abbr,
                    player_status="active",
                    minutes=f"{sec // 60:02d}:{sec % 60:02d}",
                    minutes_decimal=sec / 60,
                    **_box_line(line),
                    plus_minus=pm[j],
                )
            )
        avail = av[abbr]
        for slot, status, why in [
            *((s, "dnp", "DNP - Coach's Decision") for s in avail.dnp),
            *((s, "inactive", why) for s, why in avail.inactive),
        ]:
            gb.append(
                _GB.row(
                    gb_base,
                    player_name=slot.p.name,
                    # The gamebook lists inactive players by last name; the processor resolves
                    # the full name (player_name) from the injury report.
                    player_name_original=(
                        slot.p.name.split(" ", 1)[1] if status == "inactive" else slot.p.name
                    ),
                    player_lookup=slot.p.lookup,
                    team_abbr=abbr,
                    player_status=status,
                    dnp_reason=why,
                )
            )
        # The team line is the column sums of its players' lines, by construction.
        team_id, city, nickname = TEAM_INFO[abbr]
        sums = _box_line(tuple(map(sum, zip(*lines, strict=True))))
        box.append(
            _BOX.row(
                game_id=game_id,
                nba_game_id=nba_id,
                game_date=day,
                season_year=season,
                team_id=team_id,
                team_abbr=abbr,
                team_name=nickname,
                team_city=city,
                is_home=me is h,
                minutes=f"{total // 60}:00",
                **{_TEAM_BOX_NAMES.get(k, k): v for k, v in sums.items()},
                plus_minus=margin,
                source_file_path=gb_path.replace("gamebooks-data", "team-boxscore"),
                created_at=loaded,
                processed_at=loaded,
            )
        )
    shots.sort()
    pbp: list[Row] = []
    pbp_base = _PBP.template(
        game_id=game_id,
        nba_game_id=nba_id,
        game_date=day,
        season_year=season,
        home_team_abbr=home_abbr,
        away_team_abbr=away_abbr,
        video_available=False,
        source_file_path=gb_path.replace("gamebooks-data", "play-by-play"),
        processed_at=loaded,
    )
    # Free throws are events too (spread over regulation without a random draw, the made ones
    # first), so the running score ends at the final score.
    timeline: list[tuple[float, int, Any]] = [(shot[0], 0, shot) for shot in shots]
    for side_flag, side in enumerate((h, a)):
        for j in range(side.n):
            n = side.fta[j]
            for k in range(n):
                t = 4.0 * (k + 0.5) / n - 1e-6 * (j + 1)
                timeline.append((t, 1, (side_flag, j, k, k < side.ftm[j])))
    timeline.sort(key=lambda e: (e[0], e[1]))
    score = [0, 0]
    for ev, (t, kind, payload) in enumerate(timeline, 1):
        period = int(t) + 1
        elapsed = int(t * 720) if period <= 4 else 2880 + int((t - 4) * 300)
        left = (720 if period <= 4 else 300) - (elapsed % 720 if period <= 4 else elapsed % 300)
        clock: dict[str, Any] = {
            "event_id": str(ev),
            "event_sequence": ev,
            "period": period,
            "game_clock": f"{left // 60:02d}:{left % 60:02d}",
            "game_clock_seconds": left,
            "time_elapsed_seconds": elapsed,
        }
        if kind == 1:
            flag, j, k, made = payload
            me = h if flag == 0 else a
            shooter = me.players[j]
            score[flag] += made
            pbp.append(
                _PBP.row(
                    pbp_base,
                    **clock,
                    event_type="freethrow",
                    event_action_type=f"Free Throw {k % 2 + 1} of 2",
                    event_description=f"{'' if made else 'MISS '}{shooter.name} Free Throw",
                    score_home=score[0],
                    score_away=score[1],
                    player_1_id=shooter.pid,
                    player_1_lookup=shooter.lookup,
                    player_1_team_abbr=me.team.abbr,
                    shot_made=made,
                    shot_type="FT",
                )
            )
            continue
        _, flag, j, zone, made, helper, blocker = payload
        me, opp = (h, a) if flag == 0 else (a, h)
        shooter = me.players[j]
        # Distance from the zone (no random draw): paint <= 8 ft, mid-range 8-22, three 23+.
        distance = (1.0 + ev * 7 % 70 / 10, 8.5 + ev * 3 % 130 / 10, 23.0 + ev % 50 / 10)[zone]
        score[flag] += (3 if zone == 2 else 2) * made
        extra: dict[str, Any] = {}
        if helper >= 0:
            ast = me.players[helper]
            extra.update(
                player_2_id=ast.pid, player_2_lookup=ast.lookup, player_2_team_abbr=me.team.abbr
            )
        if blocker >= 0:
            blk = opp.players[blocker]
            extra.update(
                player_3_id=blk.pid, player_3_lookup=blk.lookup, player_3_team_abbr=opp.team.abbr
            )
        pbp.append(
            _PBP.row(
                pbp_base,
                **clock,
                # NBA.com's live feed: actionType 2pt / 3pt (written as event_type), the shot's
                # style as subType.
                event_type="3pt" if zone == 2 else "2pt",
                event_action_type=("Layup", "Jump Shot", "Jump Shot")[zone],
                event_description=f"{'' if made else 'MISS '}{shooter.name} {distance:.0f}' "
                f"{'3PT' if zone == 2 else '2PT'} Shot",
                score_home=score[0],
                score_away=score[1],
                player_1_id=shooter.pid,
                player_1_lookup=shooter.lookup,
                player_1_team_abbr=me.team.abbr,
                shot_made=made,
                shot_type="3PT" if zone == 2 else "2PT",
                shot_distance=distance,
                **extra,
            )
        )
    rows = {GAMEBOOK.name: gb, TEAM_BOXSCORE.name: box, PLAY_BY_PLAY.name: pbp}
    return _Result(rows, h.points(), a.points(), points)


# --- season ------------------------------------------------------------------------------------
def _half(x: float) -> float:
    return round(x * 2) / 2


def _snapshots(rng: random.Random, day: dt.date, n: int) -> list[tuple[float, dt.datetime]]:
    """n snapshot times on game day between 09:00 and 23:30 UTC (US morning to tip-off), each
    with its weight of the opening value: 1 for the earliest (opening), 0 for the latest."""
    base = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    minutes = sorted(rng.sample(range(9 * 60, 23 * 60 + 30, 5), n))
    return [((n - 1 - k) / (n - 1), base + dt.timedelta(minutes=m)) for k, m in enumerate(minutes)]


class _SeasonSim:
    """One season, simulated day by day; rows are appended to ``out``."""

    def __init__(
        self,
        seed: int,
        season: int,
        roster: dict[str, list[_Player]],
        final_through: dt.date,
        out: dict[str, list[Row]],
    ) -> None:
        self.season = season
        self.idx = min(sorted(SYNTHETIC_OPENERS).index(season), len(_PROP_COVERAGE) - 1)
        self.rng = random.Random(f"nba-synthetic:{seed}:{season}")
        # Odds draws get their own stream so coverage settings never reshuffle the games.
        self.odds_rng = random.Random(f"nba-synthetic-odds:{seed}:{season}")
        self.teams = _season_teams(self.rng, roster)
        self.final_through = final_through
        self.horizon = final_through + dt.timedelta(days=PREGAME_DAYS)
        self.out = out
        self._no_odds: dict[dt.date, bool] = {}

    def run(self) -> None:
        dates = regular_season_dates(self.season)
        yy = self.season % 100
        games = _schedule_regular(self.rng, dates)
        for n, (day, home, away) in enumerate(games, 1):
            self.game(day, home, away, f"002{yy:02d}{n:05d}", regular=True)
        self.all_star_game()
        if dates[-1] <= self.final_through:
            self.postseason(dates[-1])
        self.registry()
        self.bdl_boxscores()
        self.bettingpros_props()

    def game(
        self,
        day: dt.date,
        home: str,
        away: str,
        nba_id: str,
        regular: bool,
        winner: str | None = None,
        playoff_round: str | None = None,
    ) -> str | None:
        """Write one game; return its winner (None when it is not final yet). ``winner`` forces
        the result by redrawing the game (used to give a playoff series its fixed length)."""
        gid = f"{day:%Y%m%d}_{away}_{home}"
        final = day <= self.final_through
        # The schedule is appended to: the "Scheduled" version loaded at release, and for a
        # final game the "Final" version loaded after it (v_nbac_schedule_latest keeps that one).
        flags: dict[str, Any] = {"is_regular_season": regular, "is_playoffs": not regular}
        self.schedule_row(day, home, away, nba_id, 1, flags, playoff_round)
        if day > self.horizon:
            return None
        th, ta = self.teams[home], self.teams[away]
        av = {t.abbr: _availability(self.rng, t) for t in (th, ta)}
        self.pregame(gid, nba_id, day, th, ta, av)
        if not final:
            return None
        while True:
            res = _play(self.rng, gid, nba_id, day, self.season, th, ta, av)
            won = home if res.home_pts > res.away_pts else away
            if winner is None or won == winner:
                break
        self.schedule_row(
            day, home, away, nba_id, 3, flags, playoff_round, (res.home_pts, res.away_pts)
        )
        for table, rows in res.rows.items():
            self.out[table].extend(rows)
        for s, pts in res.points:
            s.pts_sum += pts
            s.games += 1
        self.teams[won].wins += 1
        return won

    def schedule_row(
        self,
        day: dt.date,
        home: str,
        away: str,
        nba_id: str,
        status: int,
        flags: dict[str, Any],
        playoff_round: str | None = None,
        score: tuple[int, int] | None = None,
    ) -> None:
        """One version of a game in production's nbac_schedule shape (status 1 = Scheduled,
        loaded in August; 3 = Final, loaded the morning after the game)."""
        info = {**TEAM_INFO, **ALL_STAR_TEAMS}
        (hid, hcity, hname), (aid, _, aname) = info[home], info[away]
        loaded = (
            _ts(dt.date(self.season, 8, 14), 18) if status == 1 else _ts(day + dt.timedelta(1), 7)
        )
        tip = _ts(day + dt.timedelta(days=1), 0, 30)  # 7:30 pm Eastern
        winner = None
        if score is not None:
            winner = home if score[0] > score[1] else away
        self.out[SCHEDULE.name].append(
            _SCHED.row(
                game_id=nba_id,
                game_code=f"{day:%Y%m%d}/{away}{home}",
                season=str(self.season),
                season_nba_format=season_label(self.season),
                season_year=self.season,
                game_date=day,
                game_date_est=tip,
                game_status=status,
                game_status_text={1: "Scheduled", 3: "Final"}[status],
                home_team_id=hid,
                home_team_tricode=home,
                home_team_name=hname,
                away_team_id=aid,
                away_team_tricode=away,
                away_team_name=aname,
                arena_city=hcity,
                is_primetime=False,
                has_national_tv=False,
                is_emirates_cup=False,
                playoff_round=playoff_round,
                is_christmas=day.month == 12 and day.day == 25,
                is_mlk_day=False,
                day_of_week=f"{day:%a}".lower(),
                is_weekend=day.weekday() >= 4,
                time_slot="primetime",
                neutral_site_flag=False,
                international_game=False,
                home_team_score=score[0] if score else None,
                away_team_score=score[1] if score else None,
                winning_team_tricode=winner,
                data_source="api_stats",
                source_updated_at=loaded,
                source_file_path=f"nba-com/schedule/{season_label(self.season)}/{loaded:%Y%m%d}.json",
                scrape_timestamp=loaded,
                created_at=loaded,
                processed_at=loaded,
                **{"is_all_star": False, **flags},
            )
        )

    def all_star_game(self) -> None:
        """The All-Star game, on the Sunday of the break (a day without other games). NBA.com
        lists All-Star weekend in a regular-season "week", so the scraper sets both
        is_regular_season and is_all_star; only is_all_star keeps it out of expected games."""
        day = _nth_weekday(self.season + 1, 2, 6, 3)
        if day > self.horizon:
            return
        nba_id = f"003{self.season % 100:02d}00001"
        flags: dict[str, Any] = {
            "is_regular_season": True,
            "is_playoffs": False,
            "is_all_star": True,
        }
        self.schedule_row(day, "WST", "EST", nba_id, 1, flags)
        if day <= self.final_through:
            self.schedule_row(day, "WST", "EST", nba_id, 3, flags, score=(178, 175))

    def pregame(
        self,
        gid: str,
        nba_id: str,
        day: dt.date,
        home: _Team,
        away: _Team,
        av: dict[str, _Avail],
    ) -> None:
        loaded = _ts(day, 18)
        season = season_label(self.season)
        for team in (home, away):
            for s, status, reason in av[team.abbr].report:
                first, _, last = s.p.name.partition(" ")
                self.out[INJURY_REPORT.name].append(
                    _INJ.row(
                        report_date=day,
                        report_hour=17,
                        season=season,
                        game_date=day,
                        game_time="07:30 (ET)",
                        game_id=gid,
                        matchup=f"{away.abbr}@{home.abbr}",
                        away_team=away.abbr,
                        home_team=home.abbr,
                        team=team.abbr,
                        player_name_original=f"{last}, {first}",
                        player_full_name=s.p.name,
                        player_lookup=s.p.lookup,
                        injury_status=status,
                        reason=reason,
                        reason_category="injury" if " - " not in reason else "other",
                        confidence_score=1.0,
                        overall_report_confidence=1.0,
                        run_id=f"synthetic-{day:%Y%m%d}",
                        source_file_path=f"nba-com/injury-report-data/{day}/17/report.json",
                        processed_at=loaded,
                    )
                )
        rng = self.odds_rng
        if day not in self._no_odds:
            self._no_odds[day] = rng.random() < _NO_ODDS_DAY_P[self.idx]
        if self._no_odds[day]:
            return
        game_lines, props = self.out[GAME_LINES.name], self.out[PLAYER_PROPS.name]
        event_id = _hex_id(f"odds-event:{gid}")
        tip = _ts(day + dt.timedelta(days=1), 0, 30)
        hname, aname = team_full_name(home.abbr), team_full_name(away.abbr)
        if rng.random() < _LINE_COVERAGE[self.idx]:
            spread = _half(-(4.0 * (home.rating - away.rating) + 2.5 + rng.gauss(0, 1.5)))
            total = _half(rng.gauss(221 + 2.2 * self.idx, 5))
            base = _LINES.template(
                game_id=event_id,
                sport_key="basketball_nba",
                sport_title="NBA",
                commence_time=tip,
                game_date=day,
                home_team=hname,
                away_team=aname,
                home_team_abbr=home.abbr,
                away_team_abbr=away.abbr,
                source_file_path=f"odds-api/game-lines/{day}/{event_id}.json",
                data_source="current",
            )
            for book in rng.sample(_BOOKS[:2], rng.choice((1, 2))):
                ds, dtot = rng.choice((-1.0, -0.5, 0.5, 1.0)), rng.choice((-1.5, -1, 0, 1, 1.5))
                for f, t in _snapshots(rng, day, rng.choice((2, 3))):
                    sp, tot = _half(spread + ds * f), _half(total + dtot * f)
                    # One row per bookmaker x market x outcome x snapshot.
                    for market, outcome, point in (
                        ("spreads", hname, sp),
                        ("spreads", aname, -sp),
                        ("totals", "Over", tot),
                        ("totals", "Under", tot),
                    ):
                        game_lines.append(
                            _LINES.row(
                                base,
                                snapshot_timestamp=t,
                                bookmaker_key=book,
                                bookmaker_title=_BOOK_TITLES[book],
                                bookmaker_last_update=t,
                                market_key=market,
                                market_last_update=t,
                                outcome_name=outcome,
                                outcome_price=1.91,
                                outcome_point=point,
                                created_at=t,
                                processed_at=t,
                            )
                        )
        prop_base = _PROPS.template(
            game_id=nba_id,
            odds_api_event_id=event_id,
            game_date=day,
            game_start_time=tip,
            home_team_abbr=home.abbr,
            away_team_abbr=away.abbr,
            source_file_path=f"odds-api/player-props/{day}/{event_id}.json",
            data_source="current",
        )
        for team in (home, away):
            for s in av[team.abbr].active:
                if s.minutes_base < _PROP_MIN_MINUTES or rng.random() >= _PROP_COVERAGE[self.idx]:
                    continue
                # Books set the line near the season average so far (pre-season guess first).
                avg = (s.pts_sum + 5 * s.prior_points) / (s.games + 5)
                line = max(3.5, math.floor(avg) + 0.5)
                for book in rng.sample(_BOOKS, rng.choice((1, 1, 2))):
                    # Mostly a one-point move between x.5 lines; sometimes the opening line
                    # is a whole number (a 0.5 or 1.5 move).
                    move = rng.choice((-1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -0.5, 1.5))
                    for f, t in _snapshots(rng, day, rng.choice((2, 3, 4))):
                        over = rng.choice((-125, -120, -115, -110, -110, -105))
                        points = max(0.5, line + (move if f >= 0.5 else 0.0))
                        props.append(
                            _PROPS.row(
                                prop_base,
                                snapshot_timestamp=t,
                                snapshot_tag=f"snap-{t:%H%M}",
                                capture_timestamp=t,
                                minutes_before_tipoff=int((tip - t).total_seconds() // 60),
                                bookmaker=book,
                                player_name=s.p.name,
                                player_lookup=s.p.lookup,
                                points_line=points,
                                over_price=_decimal_odds(over),
                                over_price_american=over,
                                under_price=_decimal_odds(-230 - over),
                                under_price_american=-230 - over,
                                bookmaker_last_update=t,
                                processed_at=t,
                            )
                        )

    def registry(self) -> None:
        """nba_reference.nba_players_registry for the season: one row per player and team he
        appeared for in the gamebook, id ``<player_lookup>_001`` (production's first id)."""
        g = _GB.index
        seen: dict[tuple[str, str], list[Any]] = {}
        names: dict[str, str] = {}
        for r in self.out[GAMEBOOK.name]:
            if r[g["season_year"]] != self.season:
                continue
            key = (r[g["player_lookup"]], r[g["team_abbr"]])
            names[key[0]] = r[g["player_name"]]
            day, status = r[g["game_date"]], r[g["player_status"]]
            acc = seen.setdefault(key, [day, day, 0, 0, 0, 0])
            acc[0], acc[1] = min(acc[0], day), max(acc[1], day)
            acc[2] += status == "active"
            acc[3] += 1
            acc[4] += status == "inactive"
            acc[5] += status == "dnp"
        loaded = _ts(dt.date(self.season + 1, 7, 1))
        for (lookup, team), (first, last, played, total, inactive, dnp) in sorted(seen.items()):
            self.out[PLAYERS_REGISTRY.name].append(
                _REG.row(
                    universal_player_id=f"{lookup}_001",
                    player_name=names[lookup],
                    player_lookup=lookup,
                    team_abbr=team,
                    season=season_label(self.season),
                    first_game_date=first,
                    last_game_date=last,
                    games_played=played,
                    total_appearances=total,
                    inactive_appearances=inactive,
                    dnp_appearances=dnp,
                    source_priority="nba_gamebook",
                    confidence_score=1.0,
                    last_processor="gamebook",
                    last_gamebook_activity_date=last,
                    created_by="gamebook_registry_processor",
                    created_at=loaded,
                    processed_at=loaded,
                )
            )

    def bdl_boxscores(self) -> None:
        """nba_raw.bdl_player_boxscores for the season: Ball Don't Lie's line of every player
        who played a final game (production's fallback box score), the gamebook's numbers."""
        g, b = _GB.index, _BOX.index
        scores: dict[tuple[str, str], int] = {}
        postseason: dict[str, bool] = {}
        for r in self.out[TEAM_BOXSCORE.name]:
            if r[b["season_year"]] == self.season:
                scores[(r[b["game_id"]], r[b["team_abbr"]])] = r[b["points"]]
                postseason[r[b["game_id"]]] = not str(r[b["nba_game_id"]]).startswith("002")
        stats = (
            "points", "assists", "offensive_rebounds", "defensive_rebounds", "steals", "blocks",
            "turnovers", "personal_fouls", "field_goals_made", "field_goals_attempted",
            "three_pointers_made", "three_pointers_attempted", "free_throws_made",
            "free_throws_attempted",
        )  # fmt: skip
        for r in self.out[GAMEBOOK.name]:
            if r[g["season_year"]] != self.season or r[g["player_status"]] != "active":
                continue
            gid, day = r[g["game_id"]], r[g["game_date"]]
            if gid not in postseason:  # the All-Star game has no team box score
                continue
            home, away = r[g["home_team_abbr"]], r[g["away_team_abbr"]]
            line = {k: r[g[k]] for k in stats}
            self.out[BDL_BOXSCORES.name].append(
                _BDL.row(
                    game_id=gid,
                    game_date=day,
                    season_year=self.season,
                    game_status="Final",
                    period=4,
                    is_postseason=postseason[gid],
                    home_team_abbr=home,
                    away_team_abbr=away,
                    home_team_score=scores.get((gid, home)),
                    away_team_score=scores.get((gid, away)),
                    team_abbr=r[g["team_abbr"]],
                    player_full_name=r[g["player_name"]],
                    player_lookup=r[g["player_lookup"]],
                    bdl_player_id=int(_hex_id(f"bdl:{r[g['player_lookup']]}")[:7], 16),
                    minutes=r[g["minutes"]],
                    rebounds=line["offensive_rebounds"] + line["defensive_rebounds"],
                    field_goal_pct=_pct(line["field_goals_made"], line["field_goals_attempted"]),
                    three_point_pct=_pct(
                        line["three_pointers_made"], line["three_pointers_attempted"]
                    ),
                    free_throw_pct=_pct(line["free_throws_made"], line["free_throws_attempted"]),
                    source_file_path=f"ball-dont-lie/boxscores/{day}/{gid}.json",
                    created_at=r[g["processed_at"]],
                    processed_at=r[g["processed_at"]],
                    **line,
                )
            )

    def bettingpros_props(self) -> None:
        """nba_raw.bettingpros_player_points_props for the season: BettingPros' offers (over and
        under) of each bookmaker's points line the odds feed carries, as of its last snapshot,
        with the first snapshot as the opening line (production's fallback props)."""
        pi = _PROPS.index
        team_of = {s.p.lookup: t.abbr for t in self.teams.values() for s in t.slots}
        books = {book: n for n, book in enumerate(_BOOKS, 12)}
        offers: dict[tuple[Any, str, str], list[Row]] = {}
        for r in self.out[PLAYER_PROPS.name]:
            day = r[pi["game_date"]]
            if season_of_date(day) != self.season:
                continue
            key = (day, r[pi["player_lookup"]], r[pi["bookmaker"]])
            offers.setdefault(key, []).append(r)
        for (day, lookup, book), snaps in sorted(offers.items()):
            snaps.sort(key=lambda r: r[pi["snapshot_timestamp"]])
            first, last = snaps[0], snaps[-1]
            event = int(_hex_id(f"bp-event:{last[pi['odds_api_event_id']]}")[:7], 16)
            player = int(_hex_id(f"bp-player:{lookup}")[:7], 16)
            t = last[pi["snapshot_timestamp"]]
            for side in ("over", "under"):
                self.out[BETTINGPROS_PROPS.name].append(
                    _BP.row(
                        game_date=day,
                        market_type="points",
                        market_id=156,
                        bp_event_id=event,
                        offer_id=f"{event}:{player}:{side}",
                        bet_side=side,
                        bp_player_id=player,
                        player_name=last[pi["player_name"]],
                        player_lookup=lookup,
                        player_team=team_of.get(lookup, "UNK"),
                        team_source="roster",
                        has_team_issues=lookup not in team_of,
                        validation_confidence=1.0,
                        validation_method="roster_match",
                        book_id=books[book],
                        bookmaker=_BOOK_TITLES[book],
                        points_line=last[pi["points_line"]],
                        odds_american=last[pi[f"{side}_price_american"]],
                        is_active=True,
                        is_best_line=False,
                        bookmaker_last_update=t,
                        opening_line=first[pi["points_line"]],
                        opening_odds=first[pi[f"{side}_price_american"]],
                        opening_book_id=books[book],
                        opening_timestamp=first[pi["snapshot_timestamp"]],
                        source_file_path=f"bettingpros/player-props/points/{day}/props.json",
                        created_at=t,
                        processed_at=t,
                    )
                )

    # --- postseason ------------------------------------------------------------------------
    def postseason(self, last_regular: dt.date) -> None:
        """Play-in Tue/Wed/Fri after the last Sunday, then four best-of-7 rounds (2-2-1-1-1)
        on a fixed calendar: a series that ends early leaves its later dates unused."""
        yy = self.season % 100
        day = last_regular + dt.timedelta(days=2)

        def seeds(conf: tuple[tuple[str, ...], ...]) -> list[str]:
            ts = [t for div in conf for t in div]
            return sorted(ts, key=lambda t: (-self.teams[t].wins, -self.teams[t].rating))

        east, west = seeds(EAST), seeds(WEST)
        playoff: dict[str, list[str]] = {}
        n = 0
        # Play-in: 7v8 and 9v10 (East Tuesday, West Wednesday), then for the 8th seed on Friday.
        pending: dict[str, tuple[str, str]] = {}
        for c, conf, d in (("E", east, day), ("W", west, day + dt.timedelta(days=1))):
            n += 1
            w78 = self.game(d, conf[6], conf[7], f"004{yy:02d}000{n}1", False, None, "play_in")
            n += 1
            w910 = self.game(d, conf[8], conf[9], f"004{yy:02d}000{n}1", False, None, "play_in")
            if w78 is None or w910 is None:
                return
            l78 = conf[7] if w78 == conf[6] else conf[6]
            pending[c] = (l78, w910)
            playoff[c] = [*conf[:6], w78]
        for c in ("E", "W"):
            n += 1
            home, away = pending[c]
            w8 = self.game(
                day + dt.timedelta(days=3),
                home,
                away,
                f"004{yy:02d}000{n}1",
                False,
                None,
                "play_in",
            )
            if w8 is None:
                return
            playoff[c].append(w8)
        start = last_regular + dt.timedelta(days=6)
        # Bracket order 1v8, 4v5, 3v6, 2v7 so adjacent winners meet next round.
        alive = [playoff[c][i] for c in ("E", "W") for i in (0, 7, 3, 4, 2, 5, 1, 6)]
        rounds = (
            (0, range(0, 14, 2)),
            (15, range(0, 14, 2)),
            (30, range(0, 14, 2)),
            (47, (0, 3, 6, 8, 11, 14, 17)),
        )
        lengths = _SERIES_GAMES.get(self.season)
        for rnd, (offset, gaps) in enumerate(rounds, 1):
            winners: list[str] = []
            for sn in range(len(alive) // 2):
                a, b = alive[2 * sn], alive[2 * sn + 1]
                high, low = (
                    (a, b)
                    if (self.teams[a].wins, self.teams[a].rating)
                    >= (self.teams[b].wins, self.teams[b].rating)
                    else (b, a)
                )
                first = start + dt.timedelta(days=offset + sn % 2)
                length = lengths[rnd - 1][sn] if lengths else None
                w = self.series(first, list(gaps), high, low, f"004{yy:02d}00{rnd}{sn}", length)
                if w is None:
                    return
                winners.append(w)
            alive = winners

    def series(
        self, first: dt.date, gaps: list[int], high: str, low: str, prefix: str, length: int | None
    ) -> str | None:
        """A best-of-7 (2-2-1-1-1). With ``length`` the series ends after exactly that many
        games: a game whose natural result would break that is redrawn for the other team."""
        wins = {high: 0, low: 0}
        for g in range(1, 8):
            home, away = (high, low) if g in (1, 2, 5, 7) else (low, high)
            want = None
            if length is not None:
                ok = [t for t in (high, low) if _series_path_ok(wins, t, g, length)]
                want = ok[0] if len(ok) == 1 else None
            day = first + dt.timedelta(days=gaps[g - 1])
            rnd = _ROUND_NAMES[prefix[7]]
            w = self.game(day, home, away, f"{prefix}{g}", False, want, rnd)
            if w is None:
                return None
            wins[w] += 1
            if wins[w] == 4:
                return w
        raise AssertionError("a best-of-7 series always ends")


_ROUND_NAMES = {"1": "first_round", "2": "conf_semifinals", "3": "conf_finals", "4": "nba_finals"}


def _series_path_ok(wins: dict[str, int], winner: str, game: int, length: int) -> bool:
    """Can the series still end at game ``length`` if ``winner`` takes game ``game``?"""
    a = wins[winner] + 1
    b = sum(wins.values()) + 1 - a
    if game == length:
        return a == 4
    return max(a, b) <= 3 and min(a, b) <= length - 4


# --- public API --------------------------------------------------------------------------------
def generate(
    seed: int = 7,
    final_through: dt.date = DEFAULT_FINAL_THROUGH,
    *,
    seasons: Iterable[int] | None = None,
) -> dict[str, list[Row]]:
    """Rows (in each table's contract column order) for every Phase 2 table, keyed by name.

    Games on or before ``final_through`` are final with box scores (their schedule rows: the
    "Scheduled" version and the "Final" one); later games of the schedule are only scheduled
    (game_status 1) and, up to PREGAME_DAYS ahead, have props, lines and injury reports. A
    season is generated once ``final_through`` is within PREGAME_DAYS of its opener (the
    2026-27 season only when the range reaches it). ``seasons`` restricts the output to those
    season years (a season's rows do not depend on which other seasons are generated)."""
    league = _league(seed)
    out: dict[str, list[Row]] = {t.name: [] for t in RAW_TABLES}
    wanted = sorted(SYNTHETIC_OPENERS) if seasons is None else sorted(set(seasons))
    for season in wanted:
        if SYNTHETIC_OPENERS[season] > final_through + dt.timedelta(days=PREGAME_DAYS):
            continue
        _SeasonSim(seed, season, league[season], final_through, out).run()
    return out


def seed_phase2(
    warehouse: Loader, seed: int = 7, final_through: dt.date = DEFAULT_FINAL_THROUGH
) -> dict[str, int]:
    """Replace every Phase 2 table with the synthetic rows; return row counts per table.
    Idempotent: each table is emptied and reloaded.

    Generated and loaded one season at a time, in season order (the same rows in the same
    order as ``generate`` over all of them): all seasons held at once took the seed's peak
    RSS to ~1.9 GB, one season holds a fifth of it."""
    warehouse.ensure_raw_tables(RAW_TABLES)
    counts = dict.fromkeys((t.name for t in RAW_TABLES), 0)
    first = True
    for season in sorted(SYNTHETIC_OPENERS):
        if SYNTHETIC_OPENERS[season] > final_through + dt.timedelta(days=PREGAME_DAYS):
            continue
        data = generate(seed, final_through, seasons=[season])
        for t in RAW_TABLES:
            counts[t.name] += warehouse.load_raw(t, data.pop(t.name), replace=first)
        first = False
    if first:  # no season in range: still empty every table
        for t in RAW_TABLES:
            warehouse.load_raw(t, [], replace=True)
    return counts


__all__ = [
    "ALL_STAR_TEAMS",
    "DEFAULT_FINAL_THROUGH",
    "SYNTHETIC_OPENERS",
    "TEAMS",
    "TEAM_INFO",
    "Shape",
    "generate",
    "player_lookup",
    "regular_season_dates",
    "season_label",
    "seed_phase2",
    "team_full_name",
]
