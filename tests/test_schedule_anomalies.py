"""The schedule as real data has it (issue 12, items 3 and 4; kind (b)): expected games are
the distinct final regular-season and playoff games of the schedule, whatever postponements,
duplicates or exhibitions it holds; a final game whose box scores and gamebook never arrived
is skipped once, named, not rewritten every run, and planned again when its inputs arrive."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import duckdb
import pytest

from nba_backfill.catalog import PGS, PHASE3, PHASE4, PSZA, TABLES, TDGS, TOGS, UPCG, UPTG
from nba_backfill.planner import Planner
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.validation import validate
from nba_backfill.warehouse import open_warehouse
from nba_backfill.warehouse.base import Warehouse
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

from .sql.fixtures import schedule_row

D = dt.date
DAY, NEXT = D(2021, 12, 2), D(2021, 12, 3)
# MIL at ATL, 2021-12-02, in the seeded schedule (NBA.com id 0022100320).
GAME, NBA_ID = "20211202_MIL_ATL", "0022100320"
LABEL = f"{NBA_ID} MIL@ATL {DAY}"
RAW_RESULTS = (
    "nba_raw.nbac_team_boxscore",
    "nba_raw.nbac_gamebook_player_stats",
    "nba_raw.nbac_play_by_play",
)
LATER = dt.datetime(2021, 12, 10, tzinfo=dt.UTC)  # a later load of the schedule


@pytest.fixture
def wh(seeded: Settings) -> Iterator[Warehouse]:
    w = open_warehouse(seeded)
    yield w
    w.close()


def con(wh: Warehouse) -> duckdb.DuckDBPyConnection:
    """The test warehouse's own DuckDB connection: a second one to the file is refused."""
    assert isinstance(wh, DuckDBWarehouse)
    return wh._con


def sql(wh: Warehouse, statement: str, params: list[object] | None = None) -> None:
    """Change Phase 2 as a feed would (a scraper that never ran, a game moved)."""
    con(wh).execute(statement, params or [])


def append_schedule(wh: Warehouse, *rows: tuple[object, ...]) -> None:
    marks = ", ".join("?" * len(rows[0]))
    con(wh).executemany(f"INSERT INTO nba_raw.nbac_schedule VALUES ({marks})", list(rows))


def fill(wh: Warehouse, end: dt.date, phase4_from: dt.date | None = None) -> None:
    """Phase 3 from the opener through ``end`` (the look-backs' history), then Phase 4 on
    ``[phase4_from, end]``, in catalog order."""
    for spec in PHASE3:
        wh.replace_range(spec, D(2021, 10, 19), end)
    if phase4_from is not None:
        for spec in PHASE4:
            wh.replace_range(spec, phase4_from, end)


def rows_of(wh: Warehouse, table: str, day: dt.date, teams: tuple[str, ...]) -> int:
    """Rows of ``table`` on ``day`` for players / teams of ``teams`` (a player's team read
    from upcoming_player_game_context where the table has none)."""
    spec = TABLES[table]
    if spec.team_from is None:
        where = f"{spec.team_column} IN UNNEST(@teams)"
        source = f"{table} AS t"
    else:
        where = "u.team_abbr IN UNNEST(@teams)"
        source = (
            f"{table} AS t JOIN {spec.team_from} AS u ON u.game_date = t.{spec.date_column} "
            "AND u.player_lookup = t.player_lookup"
        )
    rows = wh.fetch(
        f"SELECT COUNT(*) AS n FROM {source} WHERE t.{spec.date_column} = @d AND {where}",
        {"d": day, "teams": list(teams)},
    )
    return int(rows[0]["n"])


def planned(
    wh: Warehouse, start: dt.date, end: dt.date, phases: tuple[int, ...] = (3,)
) -> dict[str, list[dt.date]]:
    plan = Planner(wh).plan(start, end, phases=phases)
    return {name: tp.to_fill for name, tp in plan.tables.items() if tp.to_fill}


# --- item 3: a final game whose inputs never arrived ----------------------------------------
def test_a_final_game_without_inputs_is_skipped_once_named_and_not_rewritten(
    seeded: Settings, wh: Warehouse
) -> None:
    for raw in RAW_RESULTS:
        sql(wh, f"DELETE FROM {raw} WHERE game_id = ?", [GAME])
    fill(wh, NEXT)
    assert wh.schedule(DAY, DAY) == {DAY: 5}  # still final in the schedule: still expected
    assert [g.label for g in wh.games_missing_inputs(DAY, NEXT)] == [LABEL]

    plan = Planner(wh).plan(D(2021, 12, 1), NEXT, phases=(3,))
    assert plan.empty  # nothing rewritten: the other four games of the day are complete
    assert plan.games_skipped == [LABEL]  # once, whatever tables skip it
    reason = f"skipped: inputs missing: {LABEL}"
    for name in (TOGS, TDGS, PGS, UPCG):
        tp = plan.tables[name]
        assert tp.games_skipped == {DAY: reason}, name
        assert DAY not in tp.complete_dates and len(tp.complete_dates) == 2, name
    # The pre-game context is written from the schedule alone: the game is there.
    assert plan.tables[UPTG].games_skipped == {}
    assert rows_of(wh, UPTG, DAY, ("MIL", "ATL")) == 2
    assert rows_of(wh, TOGS, DAY, ("MIL", "ATL")) == 0

    # A chunk asked to fill the date writes the other games and names the skipped one.
    res = run_chunk(wh, TOGS, [DAY], RetrySettings())
    assert res.ok and res.dates_filled == [DAY] and res.games_skipped == {DAY: reason}
    assert res.rows_written == 8

    report = validate(wh, 3, D(2021, 12, 1), NEXT)
    assert report.ok, report.problems
    assert report.games_skipped == [LABEL]
    assert report.as_dict()["games_skipped"] == [LABEL]


def test_a_skipped_game_is_planned_again_when_its_inputs_arrive(
    seeded: Settings, wh: Warehouse
) -> None:
    for raw in RAW_RESULTS:
        sql(
            wh,
            f"CREATE TABLE held_{raw.split('.')[1]} AS SELECT * FROM {raw} WHERE game_id = ?",
            [GAME],
        )
        sql(wh, f"DELETE FROM {raw} WHERE game_id = ?", [GAME])
    fill(wh, NEXT)
    assert planned(wh, DAY, DAY) == {}
    for raw in RAW_RESULTS:  # the scraper delivers
        sql(wh, f"INSERT INTO {raw} SELECT * FROM held_{raw.split('.')[1]}")
    assert wh.games_missing_inputs(DAY, DAY) == []
    # UPCG reads the date's gamebook (its players): it needs the game too.
    assert planned(wh, DAY, DAY) == {TOGS: [DAY], TDGS: [DAY], PGS: [DAY], UPCG: [DAY]}
    fill(wh, NEXT)
    plan = Planner(wh).plan(DAY, DAY, phases=(3,))
    assert plan.empty and plan.games_skipped == []
    assert rows_of(wh, TOGS, DAY, ("MIL", "ATL")) == 2


# --- item 3: a postponed game, made up the next day -------------------------------------------
def test_a_postponed_game_is_expected_and_written_on_its_make_up_date(
    seeded: Settings, wh: Warehouse
) -> None:
    """Status 4 (postponed) on the old date, final on the new one, with its results there:
    every model, Phase 4 included, writes it on the new date and nothing waits on the old."""
    append_schedule(
        wh,
        schedule_row(DAY, "MIL", "ATL", nba_game_id=NBA_ID, status=4, processed_at=LATER),
        schedule_row(NEXT, "MIL", "ATL", nba_game_id=NBA_ID, processed_at=LATER),
    )
    made_up = "20211203_MIL_ATL"
    for raw in RAW_RESULTS:
        sql(
            wh,
            f"UPDATE {raw} SET game_date = ?, game_id = ? WHERE game_id = ?",
            [NEXT, made_up, GAME],
        )
    assert wh.schedule(DAY, NEXT) == {DAY: 4, NEXT: 11}
    assert wh.games_missing_inputs(DAY, NEXT) == []
    fill(wh, D(2021, 12, 8), NEXT)
    assert planned(wh, D(2021, 12, 1), D(2021, 12, 8)) == {}
    assert planned(wh, NEXT, D(2021, 12, 8), phases=(3, 4)) == {}
    teams = ("MIL", "ATL")
    assert rows_of(wh, TOGS, DAY, teams) == rows_of(wh, UPTG, DAY, teams) == 0
    assert rows_of(wh, TOGS, NEXT, teams) == rows_of(wh, UPTG, NEXT, teams) == 2
    players = rows_of(wh, UPCG, NEXT, teams)
    assert players == rows_of(wh, PGS, NEXT, teams) > 0
    assert rows_of(wh, PSZA, NEXT, teams) == 18  # the make-up game's players with history
    assert rows_of(wh, PSZA, DAY, teams) == 0
    assert validate(wh, 4, NEXT, NEXT).ok


# --- item 4: an exhibition game ---------------------------------------------------------------
def test_an_all_star_game_is_never_expected_nor_written(seeded: Settings, wh: Warehouse) -> None:
    """Final, neither regular season nor playoffs (All-Star), on a game date."""
    append_schedule(
        wh,
        schedule_row(DAY, "LBN", "DUR", nba_game_id="0032100001", regular=False, all_star=True),
    )
    assert wh.schedule(DAY, DAY) == {DAY: 5}
    fill(wh, NEXT)
    assert planned(wh, D(2021, 12, 1), NEXT) == {}
    assert rows_of(wh, UPTG, DAY, ("LBN", "DUR")) == 0
    assert rows_of(wh, UPTG, DAY, ("MIL", "ATL")) == 2
    report = validate(wh, 3, D(2021, 12, 1), NEXT)
    assert report.ok and report.games_skipped == []
    assert all(not c.missing and not c.incomplete for c in report.tables)


# --- another case of the kind: the same game under two ids ------------------------------------
def test_a_game_listed_under_two_ids_counts_once(seeded: Settings, wh: Warehouse) -> None:
    """A later scraper version listed MIL at ATL again under another id: one game, the latest
    listing's id, two team rows; the date is complete and stays planned-out."""
    append_schedule(
        wh, schedule_row(DAY, "MIL", "ATL", nba_game_id="0022199320", processed_at=LATER)
    )
    assert wh.schedule(DAY, DAY) == {DAY: 5}
    fill(wh, NEXT)
    assert planned(wh, D(2021, 12, 1), NEXT) == {}
    ids = wh.fetch(
        f"SELECT game_id FROM {UPTG} WHERE game_date = @d AND team_abbr IN ('MIL', 'ATL')",
        {"d": DAY},
    )
    assert [r["game_id"] for r in ids] == ["0022199320"] * 2


def test_a_game_marked_postponed_by_text_is_not_expected(seeded: Settings, wh: Warehouse) -> None:
    """Production's bin/fixes/fix_postponed_game.py leaves game_status 3 and rewrites the text."""
    sql(
        wh,
        "UPDATE nba_raw.nbac_schedule SET game_status_text = 'Rescheduled to Dec 03' "
        "WHERE game_id = ? AND game_date = ?",
        [NBA_ID, DAY],
    )
    assert wh.schedule(DAY, DAY) == {DAY: 4}


def test_a_game_whose_gamebook_never_arrived_is_skipped_where_it_is_read(
    wh: Warehouse,
) -> None:
    """Box scores arrived, the gamebook did not: the team summaries hold the game and are
    complete; the player tables skip it, named; nothing is re-planned."""
    sql(wh, "DELETE FROM nba_raw.nbac_gamebook_player_stats WHERE game_id = ?", [GAME])
    fill(wh, NEXT)
    plan = Planner(wh).plan(D(2021, 12, 1), NEXT, phases=(3,))
    assert plan.empty and plan.games_skipped == [LABEL]
    assert rows_of(wh, TOGS, DAY, ("MIL", "ATL")) == rows_of(wh, TDGS, DAY, ("MIL", "ATL")) == 2
    assert rows_of(wh, PGS, DAY, ("MIL", "ATL")) == 0
    assert set(plan.tables[PGS].games_skipped) == {DAY}


def test_validate_names_the_skipped_game_and_exits_3(seeded: Settings, wh: Warehouse) -> None:
    """`validate` whose only finding is a game without inputs: the game on its own line, exit
    3 (not complete, nothing to retry: docs/operating.md)."""
    from typer.testing import CliRunner

    from cli.app import app
    from nba_backfill.warehouse import close_shared

    for raw in RAW_RESULTS:
        sql(wh, f"DELETE FROM {raw} WHERE game_id = ?", [GAME])
    fill(wh, NEXT)
    wh.close()
    close_shared()
    res = CliRunner().invoke(
        app, ["validate", "--phase", "3", "--start", str(DAY), "--end", str(NEXT)]
    )
    assert res.exit_code == 3, res.output
    lines = res.output.splitlines()
    assert lines.count(f"skipped: inputs missing: {LABEL}") == 1
    assert "incomplete: 1 game(s) skipped, inputs missing" in res.output
    # the tables that skip it never say "ok"
    assert "games skipped (inputs missing) on 1 date(s)" in " ".join(res.output.split())
