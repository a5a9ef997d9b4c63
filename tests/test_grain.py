"""Completeness at the table's grain (issue 12, items 1 and 2, kind (a)): a date is complete when
it holds a row for every entity its inputs say should exist (every gamebook player of the
date's games, both teams of each game) and no row for an entity they do not hold. A partial
date and an orphan row are both re-planned by the planner, named by ``validate`` and repaired by
the next run, which replaces the date."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from typer.testing import CliRunner

from cli.app import app
from nba_backfill.catalog import PDC, PGS, TABLES, TOGS, UPCG
from nba_backfill.planner import Planner
from nba_backfill.readiness import is_complete
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.validation import validate
from nba_backfill.warehouse import close_shared, shared_warehouse
from nba_backfill.warehouse.base import DateProfile, Warehouse

D1, D2 = dt.date(2021, 12, 1), dt.date(2021, 12, 2)
FAST = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
ORPHAN = "zzorphanplayer"


def _fill(wh: Warehouse, *tables: str) -> None:
    for table in tables:
        assert run_chunk(wh, table, [D1, D2], FAST).dates_filled == [D1, D2]


def _plan(wh: Warehouse, table: str) -> list[dt.date]:
    return Planner(wh).plan(D1, D2, [TOGS, PGS], 31, phases=(3,)).tables[table].to_fill


def _count(wh: Warehouse, sql: str, day: dt.date, **more: str) -> int:
    return int(next(iter(wh.fetch(sql, {"d": day, **more})[0].values())))


def _keep_one_player_of_one_team(wh: Warehouse, day: dt.date) -> tuple[str, int]:
    """Case 1: a crash saved one of a team's players on ``day``: returns the team and how many
    of its rows were deleted."""
    team = str(
        wh.fetch(f"SELECT MIN(team_abbr) AS t FROM {PGS} WHERE game_date = @d", {"d": day})[0]["t"]
    )
    args = {"d": day, "t": team}
    before = _count(
        wh, f"SELECT COUNT(*) FROM {PGS} WHERE game_date = @d AND team_abbr = @t", day, t=team
    )
    wh.fetch(
        f"DELETE FROM {PGS} WHERE game_date = @d AND team_abbr = @t AND player_lookup > "
        f"(SELECT MIN(player_lookup) FROM {PGS} WHERE game_date = @d AND team_abbr = @t)",
        args,
    )
    return team, before - 1


def _insert_orphan(wh: Warehouse, day: dt.date) -> None:
    """Case 2: a row for a player the date's gamebook does not hold (a copy of a real row)."""
    wh.fetch(
        f"INSERT INTO {PGS} SELECT * REPLACE ('{ORPHAN}' AS player_lookup) FROM {PGS} "
        "WHERE game_date = @d LIMIT 1",
        {"d": day},
    )


@pytest.mark.parametrize(
    ("profile", "complete"),
    [
        (DateProfile(30, 2), True),
        (DateProfile(30, 2, missing_entities=12), False),  # a team's other players lost
        (DateProfile(31, 2, surplus_entities=1, surplus_example=ORPHAN), False),  # orphan
    ],
)
def test_a_date_missing_or_surplus_entities_is_incomplete(
    profile: DateProfile, complete: bool
) -> None:
    assert is_complete(TABLES[PGS], profile, games=1) is complete


def test_partial_players_are_re_planned_named_and_repaired(seeded: Settings) -> None:
    """Case 1: all but one of one team's players deleted on 2021-12-01. The team still has a
    row, so counting teams passed; counting the gamebook's players does not."""
    wh = shared_warehouse()
    _fill(wh, TOGS, PGS)
    rows = _count(wh, f"SELECT COUNT(*) FROM {PGS} WHERE game_date = @d", D1)
    assert _plan(wh, PGS) == []
    team, lost = _keep_one_player_of_one_team(wh, D1)
    one_team = f"SELECT COUNT(*) FROM {PGS} WHERE game_date = @d AND team_abbr = @t"
    assert lost > 0 and _count(wh, one_team, D1, t=team) == 1

    prof = wh.date_profile(TABLES[PGS], D1, D2)
    assert prof[D1].missing_entities == lost and prof[D1].surplus_entities == 0
    # every team still has a row: the old rule (distinct teams) passed
    assert prof[D1].teams == 2 * wh.schedule(D1, D1)[D1]
    assert D2 not in wh.grain_dates(TABLES[PGS], D1, D2)

    plan = Planner(wh).plan(D1, D2, [TOGS, PGS], 31, phases=(3,)).tables[PGS]
    assert plan.incomplete == [D1] and plan.missing == []
    (check,) = validate(wh, 3, D1, D2, [PGS]).tables
    assert not check.ok
    assert f"{lost} expected player_lookup without a row on 2021-12-01" in check.problems
    assert check.incomplete == [D1]

    ran = run_chunk(wh, PGS, plan.to_fill, FAST)
    assert ran.dates_filled == [D1] and not ran.dates_incomplete
    assert _count(wh, f"SELECT COUNT(*) FROM {PGS} WHERE game_date = @d", D1) == rows
    assert validate(wh, 3, D1, D2, [PGS]).ok
    assert _plan(wh, PGS) == []


def test_an_orphan_row_is_re_planned_named_and_removed(seeded: Settings) -> None:
    """Case 2: a player_game_summary row on 2021-12-02 for a player absent from that date's
    gamebook: validate names table, date, count and the key; the next run replaces the date,
    which drops it."""
    wh = shared_warehouse()
    _fill(wh, TOGS, PGS)
    _insert_orphan(wh, D2)

    prof = wh.date_profile(TABLES[PGS], D1, D2)
    assert (prof[D2].missing_entities, prof[D2].surplus_entities) == (0, 1)
    assert prof[D2].surplus_example == ORPHAN
    assert prof[D2].duplicate_keys == 0  # no key audit sees it

    assert _plan(wh, PGS) == [D2]
    report = validate(wh, 3, D1, D2, [PGS])
    assert report.problems[PGS] == [
        "coverage 50.0% < 95% (1/2 dates)",
        "incomplete 2021-12-02",
        f"1 surplus row on 2021-12-02 (not in its inputs), e.g. player_lookup {ORPHAN}",
    ]
    assert report.tables[0].as_dict()["grain_dates"] == {
        "2021-12-02": {"missing": 0, "surplus": 1, "surplus_example": ORPHAN}
    }

    ran = run_chunk(wh, PGS, _plan(wh, PGS), FAST)
    assert ran.dates_filled == [D2]
    orphans = f"SELECT COUNT(*) FROM {PGS} WHERE game_date = @d AND player_lookup = '{ORPHAN}'"
    assert _count(wh, orphans, D2) == 0
    assert validate(wh, 3, D1, D2, [PGS]).ok
    assert _plan(wh, PGS) == []


def test_validate_command_fails_naming_the_orphan(seeded: Settings) -> None:
    wh = shared_warehouse()
    _fill(wh, TOGS, PGS)
    _insert_orphan(wh, D2)
    close_shared()  # the command opens the warehouse itself
    res = CliRunner().invoke(
        app,
        ["validate", "--phase", "3", "--start", str(D1), "--end", str(D2)],
    )
    assert res.exit_code == 1, res.output
    assert "2021-12-02" in res.output and ORPHAN in res.output
    assert all(len(line) <= 80 for line in res.output.splitlines())


def test_a_team_row_for_a_team_that_did_not_play_is_surplus(seeded: Settings) -> None:
    """The same kind at the team grain: a team_offense row relabelled to a team without a game
    that date keeps one row per team and 2 x games rows, so counting rows and teams passed; the
    schedule's teams name one team missing and one surplus."""
    wh = shared_warehouse()
    _fill(wh, TOGS)
    playing = {
        r["team_abbr"]
        for r in wh.fetch(f"SELECT team_abbr FROM {TOGS} WHERE game_date = @d", {"d": D1})
    }
    idle = min(
        r["team_abbr"]
        for r in wh.fetch(f"SELECT DISTINCT team_abbr FROM {TOGS} WHERE game_date = @d", {"d": D2})
        if r["team_abbr"] not in playing
    )
    gone = min(playing)
    wh.fetch(
        f"UPDATE {TOGS} SET team_abbr = @idle WHERE game_date = @d AND team_abbr = @gone",
        {"d": D1, "idle": idle, "gone": gone},
    )
    prof = wh.date_profile(TABLES[TOGS], D1, D2)[D1]
    assert prof.rows == prof.teams == len(playing)
    assert (prof.missing_entities, prof.surplus_entities, prof.surplus_example) == (1, 1, idle)
    assert _plan(wh, TOGS) == [D1]
    (check,) = validate(wh, 3, D1, D2, [TOGS]).tables
    assert f"1 surplus row on 2021-12-01 (not in its inputs), e.g. team_abbr {idle}" in (
        check.problems
    )
    assert run_chunk(wh, TOGS, [D1], FAST).dates_filled == [D1]
    assert validate(wh, 3, D1, D2, [TOGS]).ok


def test_an_expected_set_needs_its_file_and_a_date_entity_key() -> None:
    with pytest.raises(ValueError, match="no expected set"):
        dataclasses.replace(TABLES[PGS], expected_set="nowhere")
    with pytest.raises(ValueError, match="entity"):
        dataclasses.replace(TABLES[PGS], key_columns=("game_date", "player_lookup", "team_abbr"))


def test_a_missing_player_of_a_phase4_player_table_is_re_planned_and_repaired(
    seeded: Settings,
) -> None:
    """Phase 4, player grain: player_daily_cache writes every upcoming_player_game_context
    player of its date, so a date that lost one player's row (and still has rows for every
    team) is incomplete, named by Phase 4 validation and refilled."""
    opener, day = dt.date(2021, 10, 19), dt.date(2021, 11, 5)  # past the bootstrap days
    wh = shared_warehouse()
    days = sorted(wh.schedule(opener, day))
    for table in (TOGS, PGS):
        assert run_chunk(wh, table, days, FAST).dates_filled == days
    for table in (UPCG, PDC):
        assert run_chunk(wh, table, [day], FAST).dates_filled == [day]
    spec = TABLES[PDC]
    assert wh.grain_dates(spec, day, day) == {}
    wh.fetch(
        f"DELETE FROM {PDC} WHERE cache_date = @d AND player_lookup = "
        f"(SELECT MIN(player_lookup) FROM {PDC} WHERE cache_date = @d)",
        {"d": day},
    )
    assert wh.date_profile(spec, day, day)[day].missing_entities == 1

    plan = Planner(wh).plan(day, day, [PDC], 31, phases=(4,)).tables[PDC]
    assert plan.incomplete == [day]
    (check,) = validate(wh, 4, day, day, [PDC]).tables
    assert "1 expected player_lookup without a row on 2021-11-05" in check.problems
    assert run_chunk(wh, PDC, plan.to_fill, FAST).dates_filled == [day]
    assert validate(wh, 4, day, day, [PDC]).tables[0].ok
    assert not Planner(wh).plan(day, day, [PDC], 31, phases=(4,)).tables[PDC].to_fill


def test_an_orphan_of_the_player_context_is_re_planned_and_removed(seeded: Settings) -> None:
    """The same kind in upcoming_player_game_context (its gamebook roster), on the season's
    first two dates (its 30-day window of player games starts at the opener)."""
    e1, e2 = dt.date(2021, 10, 19), dt.date(2021, 10, 20)
    wh = shared_warehouse()
    for table in (TOGS, PGS, UPCG):
        assert run_chunk(wh, table, [e1, e2], FAST).dates_filled == [e1, e2]
    wh.fetch(
        f"INSERT INTO {UPCG} SELECT * REPLACE ('{ORPHAN}' AS player_lookup) FROM {UPCG} "
        "WHERE game_date = @d LIMIT 1",
        {"d": e2},
    )
    assert Planner(wh).plan(e1, e2, [UPCG], 31, phases=(3,)).tables[UPCG].to_fill == [e2]
    (check,) = validate(wh, 3, e1, e2, [UPCG]).tables
    assert check.grain_dates == {e2: (0, 1, ORPHAN)}
    assert run_chunk(wh, UPCG, [e2], FAST).dates_filled == [e2]
    assert validate(wh, 3, e1, e2, [UPCG]).ok
