"""Phase 2 inputs in production's shape: the raw tables the product creates and the generator
fills have exactly the contract's columns, types and modes, and the schedule is read the way
production's gate reads it (latest version of each game; final regular-season and playoff games
only)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from nba_backfill import catalog
from nba_backfill.catalog import TOGS, UPTG
from nba_backfill.contract import Column
from nba_backfill.phase2 import RAW_TABLES, SCHEDULE
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

from .fixtures import Phase2, Player, ts

D = dt.date

# BigQuery type -> the name DuckDB's information_schema reports (written out here, not derived
# with the adapter's own renderer, so the test checks it).
_DUCK = {
    "STRING": "VARCHAR",
    "INT64": "BIGINT",
    "FLOAT64": "DOUBLE",
    "BOOL": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP WITH TIME ZONE",
    "DATETIME": "TIMESTAMP",
    "JSON": "JSON",
    "ARRAY<STRING>": "VARCHAR[]",
    "ARRAY<INT64>": "BIGINT[]",
    "ARRAY<FLOAT64>": "DOUBLE[]",
}


def duck_type(c: Column) -> str:
    if c.base == "NUMERIC":
        inner = c.type.partition("(")[2].rstrip(")") or "38,9"
        return f"DECIMAL({inner})"
    return _DUCK[c.type]


@pytest.fixture(scope="module")
def template_columns(phase2_template: Path) -> dict[str, list[tuple[str, str, str]]]:
    con = duckdb.connect(str(phase2_template), read_only=True)
    try:
        rows = con.execute(
            "SELECT table_schema || '.' || table_name, column_name, data_type, is_nullable "
            "FROM information_schema.columns ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[str, str, str]]] = {}
    for name, column, type_, nullable in rows:
        out.setdefault(name, []).append((column, type_, nullable))
    return out


@pytest.mark.parametrize("table", RAW_TABLES, ids=lambda t: t.name)
def test_generated_raw_table_has_productions_columns_types_and_modes(
    table: Any, template_columns: dict[str, list[tuple[str, str, str]]]
) -> None:
    expected = [(c.name, duck_type(c), "NO" if c.required else "YES") for c in table.live_columns]
    assert template_columns[table.name] == expected


@pytest.mark.parametrize("table", RAW_TABLES, ids=lambda t: t.name)
def test_generated_raw_table_has_rows_and_no_null_in_a_required_column(
    table: Any, phase2_template: Path
) -> None:
    required = [c.name for c in table.live_columns if c.required]
    con = duckdb.connect(str(phase2_template), read_only=True)
    try:
        counts = ", ".join(f'COUNT(*) FILTER (WHERE "{c}" IS NULL)' for c in required)
        row = con.execute(f"SELECT COUNT(*), {counts} FROM {table.name}").fetchone()
    finally:
        con.close()
    assert row is not None and row[0] > 0, table.name
    assert dict(zip(required, row[1:], strict=True)) == dict.fromkeys(required, 0)


def test_generated_rows_fill_every_required_column() -> None:
    """The generator's own rows (before any database constraint sees them)."""
    from devtools.synthetic import generate

    data = generate(seasons=[2021], final_through=D(2021, 11, 10))
    for table in RAW_TABLES:
        idx = [i for i, c in enumerate(table.live_columns) if c.required]
        bad = [r for r in data[table.name] if any(r[i] is None for i in idx)]
        assert data[table.name] and not bad, table.name


# --- the schedule as production's gate reads it -----------------------------------------------
DAY = D(2024, 1, 10)  # a regular-season game, loaded twice (Scheduled, then Final)
ALL_STAR = D(2024, 2, 18)
PRESEASON = D(2023, 10, 12)
PLAY_IN = D(2024, 4, 16)
PLAYOFF = D(2024, 4, 20)
LATER = D(2024, 1, 12)  # scheduled, never played
OPENER = D(2023, 10, 24)
EARLY = dt.datetime(2023, 8, 15, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def sched_wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBWarehouse]:
    p2 = Phase2()
    p2.schedule(PRESEASON, "LAL", "GSW", regular=False, nba_game_id="0012300001")
    p2.game(OPENER, "LAL", "DEN", nba_game_id="0022300001")
    # The release version, then the final one (production's schedule is appended to).
    p2.schedule(DAY, "BOS", "LAL", status=1, nba_game_id="0022300555", processed_at=EARLY)
    p2.game(
        DAY,
        "BOS",
        "LAL",
        nba_game_id="0022300555",
        players={"LAL": [Player("lebronjames")], "BOS": [Player("jaysontatum")]},
    )
    p2.schedule(LATER, "BOS", "LAL", status=1, nba_game_id="0022300600")
    # NBA.com lists All-Star weekend in a regular-season week: both flags set.
    p2.schedule(ALL_STAR, "EST", "WST", nba_game_id="0032300001", all_star=True)
    p2.game(PLAY_IN, "GSW", "SAC", nba_game_id="0042300101")
    p2.game(PLAYOFF, "PHX", "MIN", nba_game_id="0042300111")
    # Play-in and playoff games are playoff games in the schedule.
    idx = {c: i for i, c in enumerate(SCHEDULE.column_names)}
    rows = p2.rows[SCHEDULE.name]
    for k, r in enumerate(rows):
        if r[idx["game_date"]] in (PLAY_IN, PLAYOFF):
            fixed = list(r)
            fixed[idx["is_regular_season"]], fixed[idx["is_playoffs"]] = False, True
            fixed[idx["playoff_round"]] = "play_in" if r[idx["game_date"]] == PLAY_IN else None
            rows[k] = tuple(fixed)
    # Lines and an injury for the twice-loaded game: read once.
    p2.game_line(DAY, "BOS", "LAL", "fanduel", -3.0, 225.0, ts(DAY, 12))
    p2.injury(DAY, DAY, "LAL", "lebronjames", "questionable")
    # A free throw and a rebound are play-by-play events, not field-goal attempts.
    p2.shot(DAY, "BOS", "LAL", "LAL", "lebronjames", "paint", made=True)
    p2.event(
        DAY,
        "BOS",
        "LAL",
        "freethrow",
        shot_type="FT",
        shot_made=True,
        player_1_lookup="lebronjames",
        player_1_team_abbr="LAL",
    )
    p2.event(DAY, "BOS", "LAL", "rebound", player_1_lookup="jaysontatum", player_1_team_abbr="BOS")
    w = DuckDBWarehouse(
        load_settings(warehouse={"duckdb_path": str(tmp_path_factory.mktemp("s") / "w.duckdb")})
    )
    p2.load(w)
    w.ensure_tables(list(catalog.PHASE3))
    for spec in catalog.PHASE3:
        w.replace_range(spec, D(2023, 10, 1), D(2024, 6, 30))
    yield w
    w.close()


def test_expected_dates_are_final_regular_season_and_playoff_games(
    sched_wh: DuckDBWarehouse,
) -> None:
    expected = sched_wh.schedule(D(2023, 9, 1), D(2024, 6, 30))
    assert expected == {OPENER: 1, DAY: 1, PLAY_IN: 1, PLAYOFF: 1}
    assert ALL_STAR not in expected and PRESEASON not in expected and LATER not in expected
    assert sched_wh.schedule_bounds() == (OPENER, PLAYOFF)


def test_a_game_loaded_twice_counts_once(sched_wh: DuckDBWarehouse) -> None:
    togs = sched_wh.fetch(
        f"SELECT team_abbr, game_id FROM {TOGS} WHERE game_date = @d ORDER BY team_abbr",
        {"d": DAY},
    )
    assert [(r["team_abbr"], r["game_id"]) for r in togs] == [
        ("BOS", "20240110_BOS_LAL"),
        ("LAL", "20240110_BOS_LAL"),
    ]
    uptg = sched_wh.fetch(
        f"SELECT team_abbr, game_id, game_spread, questionable_players_count FROM {UPTG} "
        "WHERE game_date = @d ORDER BY team_abbr",
        {"d": DAY},
    )
    assert [tuple(r.values()) for r in uptg] == [
        ("BOS", "0022300555", 3.0, 0),
        ("LAL", "0022300555", -3.0, 1),
    ]
    zones = sched_wh.fetch(
        "SELECT paint_attempts, mid_range_attempts, three_attempts_pbp "
        "FROM nba_analytics.player_game_summary WHERE game_date = @d AND player_lookup = @p",
        {"d": DAY, "p": "lebronjames"},
    )
    assert [tuple(r.values()) for r in zones] == [(1, 0, 0)]  # the free throw is not a shot


def test_openers_ignore_preseason_and_all_star_games(sched_wh: DuckDBWarehouse) -> None:
    assert dict(sched_wh.season_openers().by_season) == {2023: OPENER}


# --- the shared pieces ------------------------------------------------------------------------
def test_models_read_the_schedule_only_through_the_shared_pieces() -> None:
    """The latest-version rule and the gate are written once (nba_backfill/views/): no model
    names the raw schedule, and after splicing only the pieces do."""
    import sqlglot
    from sqlglot import exp

    from nba_backfill.sqlfiles import LOGICAL_DATASETS, VIEWS_DIR, load_model

    for spec in catalog.TABLES.values():
        raw = sqlglot.parse_one(spec.sql_path.read_text(), read="bigquery")
        names = {f"{t.db}.{t.name}" for t in raw.find_all(exp.Table) if t.db}
        assert SCHEDULE.name not in names, spec.name
        spliced = load_model(spec, {d: d for d in LOGICAL_DATASETS})
        assert not [t for t in spliced.find_all(exp.Table) if t.db == "nba_backfill_views"]
    pieces = {p.stem: p.read_text() for p in VIEWS_DIR.glob("*.sql")}
    assert {"schedule_latest", "expected_games", "season_openers"} <= set(pieces)
    assert [n for n, text in pieces.items() if SCHEDULE.name in text] == ["schedule_latest"]


def test_the_bootstrap_rule_in_sql_is_the_calendars() -> None:
    """Phase 4's first writable day is written once in SQL (views/analysis_days.sql) and once
    in Python (calendar.BOOTSTRAP_DAYS, what the planner skips): they must agree."""
    import sqlglot
    from sqlglot import exp

    from nba_backfill.calendar import BOOTSTRAP_DAYS
    from nba_backfill.sqlfiles import VIEWS_DIR

    tree = sqlglot.parse_one((VIEWS_DIR / "analysis_days.sql").read_text(), read="bigquery")
    (rule,) = [c for c in tree.find_all(exp.GTE) if isinstance(c.this, exp.DateDiff)]
    assert int(rule.expression.name) == BOOTSTRAP_DAYS
    for spec in catalog.PHASE4:
        text = spec.sql_path.read_text()
        assert "nba_backfill_views.analysis_days" in text, spec.name
        assert "opener_date" not in text, spec.name  # the rule is not written again


def test_an_unknown_piece_is_an_error() -> None:
    import sqlglot

    from nba_backfill.errors import BackfillError
    from nba_backfill.sqlfiles import splice_views

    with pytest.raises(BackfillError, match="unknown shared SQL piece"):
        splice_views(sqlglot.parse_one("SELECT * FROM nba_backfill_views.nope", read="bigquery"))


def test_every_read_of_a_raw_table_filters_its_partition_column() -> None:
    """Production's schedule, team boxscore, play-by-play and game lines require a partition
    filter (BigQuery rejects a query without one): every SELECT that reads a raw table — in
    the models and in the shared pieces — has its partition column in its WHERE."""
    import sqlglot
    from sqlglot import exp

    from nba_backfill.phase2 import RAW_BY_NAME
    from nba_backfill.sqlfiles import VIEWS_DIR

    files = [spec.sql_path for spec in catalog.TABLES.values()] + sorted(VIEWS_DIR.glob("*.sql"))
    checked = 0
    for path in files:
        tree = sqlglot.parse_one(path.read_text(), read="bigquery")
        for ref in tree.find_all(exp.Table):
            table = RAW_BY_NAME.get(f"{ref.db}.{ref.name}")
            if table is None or table.partition_by is None:
                continue
            select = ref.find_ancestor(exp.Select)
            assert select is not None
            where = select.args.get("where")
            columns = {c.name for c in where.find_all(exp.Column)} if where else set()
            assert table.partition_by in columns, f"{path.name}: {table.name}"
            checked += 1
    # Each raw input is deduplicated once, in its shared piece; models with their own window
    # (upcoming team context's 366-day box scores) read it themselves.
    assert checked >= 10
