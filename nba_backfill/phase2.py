"""Schemas of the Phase 2 inputs (SPEC §3) that the synthetic generator writes and the Phase 3
SQL reads. Types are BigQuery types; adapters map them. Phase 3/4 schemas are not declared here:
they are whatever each table's SQL file selects (its columns are cast there)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawTable:
    name: str  # logical "dataset.table"
    date_column: str
    columns: tuple[tuple[str, str], ...]  # (name, BigQuery type)
    description: str

    @property
    def dataset(self) -> str:
        return self.name.split(".")[0]

    @property
    def table(self) -> str:
        return self.name.split(".")[1]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)


_BOX = (
    ("points", "INT64"),
    ("field_goals_made", "INT64"),
    ("field_goals_attempted", "INT64"),
    ("three_pointers_made", "INT64"),
    ("three_pointers_attempted", "INT64"),
    ("free_throws_made", "INT64"),
    ("free_throws_attempted", "INT64"),
    ("offensive_rebounds", "INT64"),
    ("defensive_rebounds", "INT64"),
    ("total_rebounds", "INT64"),
    ("assists", "INT64"),
    ("steals", "INT64"),
    ("blocks", "INT64"),
    ("turnovers", "INT64"),
    ("personal_fouls", "INT64"),
)

SCHEDULE = RawTable(
    "nba_reference.nba_schedule",
    "game_date",
    (
        ("game_id", "STRING"),  # YYYYMMDD_AWAY_HOME
        ("nba_game_id", "STRING"),  # NBA.com id, e.g. 0022400123
        ("game_date", "DATE"),
        ("season_year", "INT64"),
        ("home_team_abbr", "STRING"),
        ("away_team_abbr", "STRING"),
        ("game_status", "INT64"),  # 1 scheduled, 3 final
        ("is_regular_season", "BOOL"),
        ("is_playoffs", "BOOL"),  # play-in counts as playoffs
    ),
    "One row per game of the schedule.",
)

GAMEBOOK = RawTable(
    "nba_raw.nbac_gamebook_player_stats",
    "game_date",
    (
        ("game_id", "STRING"),
        ("game_date", "DATE"),
        ("season_year", "INT64"),
        ("team_abbr", "STRING"),
        ("opponent_team_abbr", "STRING"),
        ("player_lookup", "STRING"),  # lowercase name without spaces / punctuation
        ("player_name", "STRING"),
        ("player_status", "STRING"),  # active | dnp | inactive
        ("dnp_reason", "STRING"),
        ("minutes", "STRING"),  # "MM:SS"; NULL unless active
        *_BOX,
        ("plus_minus", "INT64"),
    ),
    "One row per player per game from the official gamebook.",
)

TEAM_BOXSCORE = RawTable(
    "nba_raw.nbac_team_boxscore",
    "game_date",
    (
        ("game_id", "STRING"),
        ("game_date", "DATE"),
        ("season_year", "INT64"),
        ("team_abbr", "STRING"),
        ("opponent_team_abbr", "STRING"),
        ("is_home", "BOOL"),
        *_BOX,
        ("minutes", "INT64"),  # team player-minutes: 240 + 25 per overtime period
    ),
    "One row per team per game: team totals (sum of the gamebook's active players).",
)

PLAY_BY_PLAY = RawTable(
    "nba_raw.nbac_play_by_play",
    "game_date",
    (
        ("game_id", "STRING"),
        ("game_date", "DATE"),
        ("event_id", "INT64"),
        ("period", "INT64"),
        ("team_abbr", "STRING"),  # shooting team
        ("opponent_team_abbr", "STRING"),
        ("player_lookup", "STRING"),  # shooter
        ("shot_zone", "STRING"),  # paint | mid_range | three
        ("shot_made", "BOOL"),
        ("assisted", "BOOL"),
        ("blocked", "BOOL"),
    ),
    "One row per field-goal attempt (free throws are not shots).",
)

PLAYER_PROPS = RawTable(
    "nba_raw.odds_api_player_points_props",
    "game_date",
    (
        ("game_id", "STRING"),
        ("game_date", "DATE"),
        ("player_lookup", "STRING"),
        ("bookmaker", "STRING"),
        ("points_line", "FLOAT64"),
        ("over_price", "INT64"),
        ("under_price", "INT64"),
        ("snapshot_timestamp", "TIMESTAMP"),
    ),
    "Player points props: several snapshots per player-game; historically partial.",
)

GAME_LINES = RawTable(
    "nba_raw.odds_api_game_lines",
    "game_date",
    (
        ("game_id", "STRING"),
        ("game_date", "DATE"),
        ("home_team_abbr", "STRING"),
        ("away_team_abbr", "STRING"),
        ("bookmaker", "STRING"),
        ("spread", "FLOAT64"),  # home team's spread (negative = home favoured)
        ("total", "FLOAT64"),
        ("snapshot_timestamp", "TIMESTAMP"),
    ),
    "Game spreads and totals: several snapshots per game; historically partial.",
)

INJURY_REPORT = RawTable(
    "nba_raw.nbac_injury_report",
    "report_date",
    (
        ("report_date", "DATE"),
        ("game_date", "DATE"),
        ("team_abbr", "STRING"),
        ("player_lookup", "STRING"),
        ("status", "STRING"),  # out | questionable | probable
        ("reason", "STRING"),
    ),
    "Injury report entries for a game date.",
)

RAW_TABLES: tuple[RawTable, ...] = (
    SCHEDULE,
    GAMEBOOK,
    TEAM_BOXSCORE,
    PLAY_BY_PLAY,
    PLAYER_PROPS,
    GAME_LINES,
    INJURY_REPORT,
)
RAW_BY_NAME = {t.name: t for t in RAW_TABLES}
