"""The one declarative definition of the tables nba-backfill reads and writes.

Every table is named ``dataset.table`` (logical, production names). Planner, runner, validation,
SQL loading and the warehouse adapters read this module; nothing else hard-codes a table name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal

from nba_backfill import contract
from nba_backfill.contract import TableContract
from nba_backfill.errors import UsageError

SQL_DIR = Path(__file__).parent / "sql"
# Audits: queries returning the rows that break a rule (no rows = pass), one file each.
AUDITS_DIR = SQL_DIR / "audits"
# Expected sets: per table grain, the entities (players, teams) its inputs say a date must
# hold, one query each (day, entity) that readiness compares with the table's rows.
EXPECTED_DIR = SQL_DIR / "reads" / "expected"
# The audits every table runs unless its entry says otherwise: the gate's key checks.
KEY_AUDITS: tuple[str, ...] = ("null_keys", "duplicate_keys")
# Audits validation measures as a share (ML readiness), not row by row.
SHARE_AUDITS: tuple[str, ...] = ("usage_rate",)
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

# --- thresholds: each in one place ----------------------------------------------------------
# Share of a table's non-bootstrap expected dates that must be complete, by phase.
# Phase 3: the gate before Phase 4 (production's verify_phase3_for_phase4, SPEC §6): 95 %.
# Phase 4: 0 — no coverage target. A Phase 4 date may be short only because its inputs are
# short (SPEC §5: production landed on 750-780 of 848 dates, the gap being short inputs, not a
# target), so validation fails on a missing date whose inputs are complete instead.
COVERAGE_THRESHOLD: dict[int, float] = {3: 0.95, 4: 0.0}
# ML readiness after Phase 4 (SPEC §6): share of player_game_summary rows with minutes > 0
# whose usage_rate is not NULL (a past run wrote it while TOGS was partial: 36 %).
USAGE_RATE_THRESHOLD = 0.95


class Completeness(str, Enum):
    """What makes one date of a table complete, checked against the schedule's final games."""

    TWO_TEAMS_PER_GAME = "two_teams_per_game"  # exactly one row per team playing that date
    EVERY_TEAM = "every_team"  # rows for every team playing that date (player grain)
    ANY_ROWS = "any_rows"  # at least one row


@dataclass(frozen=True)
class Dependency:
    """``table`` must be complete on the dates ``[d - lookback_days, d + lookahead_days]``
    (``same_date`` False drops ``d`` itself: windows strictly before the date)."""

    table: str
    lookback_days: int = 0
    same_date: bool = True
    # Checked before writing a date (production processors refuse to run without it); windows
    # that only feed rolling averages are ordering edges, not preconditions.
    required: bool = True


@dataclass(frozen=True)
class Window:
    """A look-back window a table's SQL filters ``table`` on (``span`` ``unit``s before the
    date) that is no :class:`Dependency`'s ``lookback_days``: context read over a longer or
    other period than the inputs the planner orders by. Declared here so the SQL and the
    catalog cannot differ unnoticed (tests/sql/test_windows.py)."""

    table: str  # dataset.table, or nba_backfill_views.<piece>
    span: int
    unit: Literal["DAY", "YEAR"] = "DAY"
    # False: the window ends the day before the date (as Dependency.same_date), so a rewrite of
    # the date itself does not make it stale.
    same_date: bool = True


@dataclass(frozen=True)
class TableSpec:
    name: str  # "dataset.table"
    phase: int  # 3 or 4
    key_columns: tuple[str, ...]
    team_column: str
    completeness: Completeness
    depends_on: tuple[Dependency, ...] = ()
    group: int | None = None  # Phase 4 dependency group (1 -> 2 -> 3)
    critical_threshold: float | None = None  # share of *all* expected dates (operators' list)
    skip_bootstrap: bool = False  # Phase 4 writes nothing in a season's first 14 days
    description: str = ""
    expected_rows_hint: str = ""
    # Player-grain tables without a team column in production: the table whose same-date row
    # of the player names his team (completeness counts teams through it).
    team_from: str | None = None
    # Windows of the SQL beyond the dependencies' look-backs (each ``INTERVAL n DAY`` of the
    # SQL is one or the other: tests/sql/test_windows.py).
    windows: tuple[Window, ...] = ()
    # The audits (``nba_backfill/sql/audits/<name>.sql``) this table runs: validation counts
    # the rows the key audits return (``audits.key_counts``); ``usage_rate`` is ML readiness,
    # measured by Phase 4 validation as a share; any other audit is a data problem whose
    # offending rows validation reports by date (``data_audits``).
    audits: tuple[str, ...] = KEY_AUDITS
    # The entities a date must hold, at the table's grain (``reads/expected/<name>.sql``: one
    # row per day and entity): a date missing one of them, or holding a row for an entity not
    # in it, is incomplete (``readiness.is_complete``). None: no such set (counts only).
    expected_set: str | None = None
    # The most dates one statement of the model computes where a write may run several
    # statements in its one transaction (the embedded engine: DuckDB holds a statement's
    # working set in its capped buffer pool, so it is bounded by the dates computed at once,
    # not by the chunk's size). None: the whole chunk in one statement. BigQuery writes one
    # statement per chunk whatever this says.
    statement_days: int | None = None

    @property
    def entity_column(self) -> str:
        """The key column beside the date: what one row of a date stands for (a player, a
        team), compared with the table's ``expected_set``."""
        (column,) = (k for k in self.key_columns if k != self.date_column)
        return column

    # Whether the table's rows of a game come from that game's own Phase 2 results (box
    # scores, gamebook: the team and player summaries, and every table whose players are the
    # gamebook's). A final game whose results never arrived has no rows there, so readiness
    # counts it out of the date's completeness and reports it as skipped (inputs missing);
    # False for tables written from the schedule alone (one row per team of every game).
    from_game_results: bool = True

    @property
    def data_audits(self) -> tuple[str, ...]:
        """The table's audits that are neither key checks nor shares: each offending row is a
        data problem (e.g. gamebook minutes that did not parse) reported with its date."""
        return tuple(a for a in self.audits if a not in KEY_AUDITS + SHARE_AUDITS)

    @property
    def input_windows(self) -> tuple[Dependency, ...]:
        """Every catalog table the rows of a date read, with the widest look-back: the
        dependencies, and the windows over catalog tables (a YEAR as 366 days, the date itself
        included unless the window ends before it: a superset of what the SQL reads). What
        makes a date stale when an input date in it is rewritten (``readiness.stale_dates``);
        one entry per input table."""
        reach: dict[str, tuple[int, bool]] = {}
        spans = [(d.table, d.lookback_days, d.same_date) for d in self.depends_on]
        spans += [
            (w.table, w.span * (366 if w.unit == "YEAR" else 1), w.same_date)
            for w in self.windows
            if w.table in TABLES
        ]
        for table, days, same in spans:
            old_days, old_same = reach.get(table, (0, False))
            reach[table] = (max(days, old_days), same or old_same)
        return tuple(Dependency(t, days, same, required=False) for t, (days, same) in reach.items())

    @property
    def written_column(self) -> str:
        """The column saying when a row was written (production's processing metadata:
        ``processed_at``, or ``created_at`` where the table has none, e.g. the feature store);
        every write stamps it with the write's time (``outputs``)."""
        return "processed_at" if "processed_at" in self.contract.column_names else "created_at"

    @property
    def gate_threshold(self) -> float:
        """Share of non-bootstrap expected dates that must be complete (``COVERAGE_THRESHOLD``
        of the table's phase)."""
        return COVERAGE_THRESHOLD[self.phase]

    @property
    def contract(self) -> TableContract:
        """Production's schema and storage options of this table (``nba_backfill/contract``)."""
        return contract.table(self.name)

    @property
    def date_column(self) -> str:
        """The day partition column (production's ``PARTITION BY``)."""
        column = self.contract.partition_by
        assert column is not None, f"{self.name}: production's contract has no partition column"
        return column

    @property
    def require_partition_filter(self) -> bool:
        return self.contract.require_partition_filter

    @property
    def partition_expiration_days(self) -> float | None:
        """Days after which BigQuery drops a partition, as production's DDL declares it (the
        live table may differ: the BigQuery adapter reads it)."""
        return self.contract.partition_expiration_days

    @property
    def dataset(self) -> str:
        return self.name.split(".")[0]

    @property
    def table(self) -> str:
        return self.name.split(".")[1]

    @property
    def short(self) -> str:
        return self.table

    @property
    def sql_path(self) -> Path:
        return SQL_DIR / self.dataset / f"{self.table}.sql"

    def __post_init__(self) -> None:
        parts = self.name.split(".")
        idents = [*parts, self.date_column, self.team_column, *self.key_columns]
        if len(parts) != 2 or not all(_IDENT.match(p) for p in idents):
            raise ValueError(f"bad identifier in catalog entry {self.name!r}")
        columns = self.contract.column_names
        missing = [c for c in self.key_columns if c not in columns]
        if self.team_from is None and self.team_column not in columns:
            missing.append(self.team_column)
        if missing:
            raise ValueError(f"{self.name}: production's table has no column(s) {missing}")
        if self.date_column not in self.key_columns:
            # The key audits count per date (readiness): a key must not span dates.
            raise ValueError(f"{self.name}: the date column {self.date_column} is no key column")
        unknown = [a for a in self.audits if not (AUDITS_DIR / f"{a}.sql").is_file()]
        if unknown:
            raise ValueError(f"{self.name}: no audit file for {unknown} in {AUDITS_DIR}")
        if self.expected_set is not None:
            if not (EXPECTED_DIR / f"{self.expected_set}.sql").is_file():
                raise ValueError(f"{self.name}: no expected set {self.expected_set!r}")
            if len(self.key_columns) != 2:
                raise ValueError(f"{self.name}: an expected set needs a (date, entity) key")


TOGS = "nba_analytics.team_offense_game_summary"
TDGS = "nba_analytics.team_defense_game_summary"
PGS = "nba_analytics.player_game_summary"
UPCG = "nba_analytics.upcoming_player_game_context"
UPTG = "nba_analytics.upcoming_team_game_context"
TDZA = "nba_precompute.team_defense_zone_analysis"
PSZA = "nba_precompute.player_shot_zone_analysis"
PDC = "nba_precompute.player_daily_cache"
PCF = "nba_precompute.player_composite_factors"
MLFS = "nba_predictions.ml_feature_store_v2"

# Production's schedule (raw, appended to: several versions per game). Readers never query it
# directly: they read the shared pieces nba_backfill_views.schedule_latest / expected_games /
# season_openers (nba_backfill/views/), which apply production's latest-version rule once.
SCHEDULE = "nba_raw.nbac_schedule"
EXPECTED_GAMES = "nba_backfill_views.expected_games"
SEASON_OPENERS = "nba_backfill_views.season_openers"

_TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        TOGS,
        3,
        ("game_date", "team_abbr"),
        "team_abbr",
        Completeness.TWO_TEAMS_PER_GAME,
        expected_set="teams_playing",
        description="One row per team per game: the team's offense (possessions, rating, pace).",
    ),
    TableSpec(
        TDGS,
        3,
        ("game_date", "defending_team_abbr"),
        "defending_team_abbr",
        Completeness.TWO_TEAMS_PER_GAME,
        critical_threshold=915 / 917,
        expected_set="teams_playing",
        description="One row per team per game: what the team allowed its opponent.",
        expected_rows_hint="~15k",
    ),
    TableSpec(
        PGS,
        3,
        ("game_date", "player_lookup"),
        "team_abbr",
        Completeness.EVERY_TEAM,
        depends_on=(Dependency(TOGS),),
        audits=(*KEY_AUDITS, "usage_rate", "unparsed_minutes"),
        expected_set="gamebook_players",
        description="One row per player per game: box score, usage, shooting, prop outcome.",
    ),
    TableSpec(
        UPCG,
        3,
        ("game_date", "player_lookup"),
        "team_abbr",
        Completeness.EVERY_TEAM,
        depends_on=(
            Dependency(PGS, lookback_days=30, same_date=False),
            # team_context.py: both teams' last 10 games (pace, defense): ordering edges
            Dependency(TOGS, lookback_days=30, same_date=False, required=False),
            Dependency(TDGS, lookback_days=30, same_date=False, required=False),
        ),
        expected_set="upcoming_players",
        windows=(
            # Production's completeness checker: his latest team (player_daily_cache's 180-day
            # bound) and his gamebook rows (actual and DNP counts) of the 30 days before.
            Window(PGS, 180, same_date=False),
            Window("nba_raw.nbac_gamebook_player_stats", 30, same_date=False),
        ),
        description="One row per player with a game on the date: context known before tip-off.",
        expected_rows_hint="~80k",
    ),
    TableSpec(
        UPTG,
        3,
        ("game_date", "team_abbr"),
        "team_abbr",
        Completeness.TWO_TEAMS_PER_GAME,
        expected_set="teams_playing",
        windows=(
            # game number in season, rest days, streaks: up to a season of schedule and results
            Window(EXPECTED_GAMES, 366),
            Window("nba_raw.nbac_team_boxscore", 366),
            Window("nba_raw.nbac_injury_report", 7),  # the latest report of the week before
            Window("nba_raw.nbac_gamebook_player_stats", 30),  # starters: recent minutes
        ),
        from_game_results=False,
        description="One row per team per game: schedule, lines and injury context.",
        expected_rows_hint="~10k",
    ),
    TableSpec(
        TDZA,
        4,
        ("analysis_date", "team_abbr"),
        "team_abbr",
        Completeness.EVERY_TEAM,
        group=1,
        skip_bootstrap=True,
        depends_on=(
            Dependency(TDGS, lookback_days=60, same_date=False, required=False),
            Dependency(UPTG),
        ),
        from_game_results=False,
        description="One row per team playing on the date: zone defense over its last 15 games.",
    ),
    TableSpec(
        PSZA,
        4,
        ("analysis_date", "player_lookup"),
        "team_abbr",
        Completeness.ANY_ROWS,
        group=1,
        skip_bootstrap=True,
        depends_on=(
            Dependency(PGS, lookback_days=90, same_date=False, required=False),
            Dependency(UPCG),
        ),
        team_from=UPCG,
        description="One row per player with a game on the date: shot zones of the last 10/20.",
    ),
    TableSpec(
        PDC,
        4,
        ("cache_date", "player_lookup"),
        "team_abbr",
        Completeness.EVERY_TEAM,
        # After the shot zones: production's processor copies the date's player_shot_zone_analysis
        # row (its dependency check calls it critical), so G2 beside the composite factors.
        group=2,
        skip_bootstrap=True,
        depends_on=(
            Dependency(PGS, lookback_days=180, same_date=False, required=False),
            Dependency(TOGS, lookback_days=30, same_date=False, required=False),
            Dependency(UPCG),
            Dependency(PSZA, required=False),
        ),
        team_from=UPCG,
        expected_set="context_players",
        # Production's completeness checker counts DNPs in the gamebook: the last 30 days (game
        # windows) or 14 + up to 29 break days (day windows).
        windows=(Window("nba_raw.nbac_gamebook_player_stats", 43),),
        description="One row per player with a game on the date: rolling form before the date.",
    ),
    TableSpec(
        PCF,
        4,
        ("game_date", "player_lookup"),
        "team_abbr",
        Completeness.EVERY_TEAM,
        group=2,
        skip_bootstrap=True,
        depends_on=(
            Dependency(UPCG),
            Dependency(UPTG),
            Dependency(TDZA),
            Dependency(PSZA, required=False),
            Dependency(PGS, lookback_days=30, same_date=False, required=False),
        ),
        team_from=UPCG,
        expected_set="context_players",
        description="One row per player per game: composite adjustment factors.",
    ),
    TableSpec(
        MLFS,
        4,
        ("game_date", "player_lookup"),
        "team_abbr",
        Completeness.EVERY_TEAM,
        group=3,
        skip_bootstrap=True,
        depends_on=(
            Dependency(PCF),
            Dependency(PDC),
            Dependency(UPCG),
            Dependency(PSZA, required=False),
            Dependency(TDZA),
        ),
        team_from=UPCG,
        expected_set="context_players",
        # Production's feature windows over Phase 3 history: ordering edges are not needed
        # (the gate passed before Phase 4), so they are windows, not dependencies.
        windows=(
            Window(PGS, 366),  # the player's games of the last year
            Window(PGS, 60),  # last 10 games / rolling stats
            Window(PGS, 30),  # minutes and points per minute
            Window(PGS, 1, "YEAR"),  # vs the opponent
            Window(TOGS, 366),  # the team's season record
            Window(TOGS, 60),  # recent games, blowouts
        ),
        description="One row per player per game: the ML feature vector.",
        # Each date joins every player to a year of his games (and spreads 60 features into
        # 180 columns): a 92-day statement needs ~0.5 GB of DuckDB's memory, 14 days ~0.3 GB
        # (docs/benchmarks.md, "Memory after the production models"). Longer statements are
        # faster (each recomputes that year) but leave the reads in flight beside the write
        # too little of the 450MB pool: at 31 days a chunk's own check ran out of memory.
        statement_days=14,
    ),
)

TABLES: dict[str, TableSpec] = {t.name: t for t in _TABLES}
# The longest dependency look-back (days before a date): how far back readiness reads inputs.
LONGEST_LOOKBACK_DAYS = max(d.lookback_days for t in _TABLES for d in t.depends_on)
PHASE3: tuple[TableSpec, ...] = tuple(t for t in _TABLES if t.phase == 3)
PHASE4: tuple[TableSpec, ...] = tuple(t for t in _TABLES if t.phase == 4)
PHASE4_GROUPS: tuple[tuple[TableSpec, ...], ...] = tuple(
    tuple(t for t in PHASE4 if t.group == g) for g in sorted({t.group for t in PHASE4 if t.group})
)


def get_table(name: str) -> TableSpec:
    """Resolve ``dataset.table`` or the bare table name; unknown names are a usage error."""
    if name in TABLES:
        return TABLES[name]
    matches = [t for t in _TABLES if t.table == name]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(t.table for t in _TABLES)
    raise UsageError(f"unknown table {name!r}; known tables: {known}")


def with_readers(names: Iterable[str]) -> list[str]:
    """``names`` and every table whose input windows read one of them, transitively, in
    catalog order: the tables a rewrite of ``names`` makes stale."""
    out = set(names)
    for spec in _TABLES:  # catalog order: inputs before their readers
        if any(w.table in out for w in spec.input_windows):
            out.add(spec.name)
    return [t.name for t in _TABLES if t.name in out]


def resolve_tables(names: list[str] | tuple[str, ...] | None) -> tuple[TableSpec, ...]:
    """The catalog entries for ``names`` in catalog (dependency) order; None means all."""
    if names is None:
        return _TABLES
    if len(names) == 0:
        raise UsageError("the table list is empty; omit it to backfill every table")
    wanted = {get_table(n).name for n in names}
    return tuple(t for t in _TABLES if t.name in wanted)


def downstream_of(name: str) -> set[str]:
    """Every table that reads ``name`` directly or transitively."""
    out: set[str] = set()
    frontier = {name}
    while frontier:
        nxt = {t.name for t in _TABLES for d in t.depends_on if d.table in frontier} - out
        out |= nxt
        frontier = nxt
    return out


def dependency_waves(names: list[str] | tuple[str, ...]) -> list[list[str]]:
    """``names`` in waves: a table comes one wave after the last of its direct or transitive
    inputs among ``names`` (catalog order inside a wave). Tables of one wave may run at the
    same time."""
    specs = resolve_tables(names)
    level: dict[str, int] = {}
    for spec in specs:  # catalog order = dependency order
        ups = [lvl for up, lvl in level.items() if spec.name in downstream_of(up)]
        level[spec.name] = 1 + max(ups) if ups else 0
    waves: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for spec in specs:
        waves[level[spec.name]].append(spec.name)
    return waves
