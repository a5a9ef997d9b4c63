"""Readiness: one function decides which dates of a table its inputs block, with the reason;
the planner, the runner and validation all give that answer, in the same words."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill.catalog import MLFS, PCF, PDC, PGS, PSZA, TABLES, TDZA, TOGS, UPCG
from nba_backfill.readiness import short_inputs
from nba_backfill.settings import Settings

D = dt.date
DAYS = [D(2021, 11, 1) + dt.timedelta(days=i) for i in range(40)]
ALL = set(DAYS)


def gone_through(day: dt.date | None) -> dict[str, dt.date | None]:
    return {name: day for name in (TOGS, PGS, UPCG, PCF, PDC, PSZA, MLFS)}


NONE_GONE = gone_through(None)


@pytest.mark.parametrize(
    ("table", "dates", "complete", "expired", "upcoming", "blocked"),
    [
        # same-date input: a date whose TOGS is short is blocked, naming it
        (
            PGS,
            DAYS[:3],
            {TOGS: {DAYS[0], DAYS[2]}},
            NONE_GONE,
            None,
            {DAYS[1]: f"input team_offense_game_summary incomplete on {DAYS[1]}"},
        ),
        # ... unless the same run fills it first (the planner's "upcoming")
        (PGS, DAYS[:3], {TOGS: {DAYS[0], DAYS[2]}}, NONE_GONE, {TOGS: {DAYS[1]}}, {}),
        # ... or the input table drops that date on arrival: it can never be there
        (PGS, DAYS[:3], {TOGS: {DAYS[0], DAYS[2]}}, gone_through(DAYS[1]), None, {}),
        # a 30-day window strictly before the date: the date itself does not count, the
        # first short date names the reason, the others are counted
        (UPCG, [DAYS[35]], {PGS: ALL - {DAYS[35]}}, NONE_GONE, None, {}),
        (
            UPCG,
            [DAYS[35]],
            {PGS: ALL - {DAYS[10], DAYS[20]}},
            NONE_GONE,
            None,
            {DAYS[35]: f"input player_game_summary incomplete on {DAYS[10]} (+1 more)"},
        ),
        # a window reaching before the schedule: only expected dates are required
        (UPCG, [DAYS[5]], {PGS: set(DAYS[:5])}, NONE_GONE, None, {}),
        # inputs that only feed rolling averages (required=False) never block
        (PSZA, DAYS[:2], {UPCG: ALL}, NONE_GONE, None, {}),
        # several short inputs: the first in catalog order names the reason
        (
            MLFS,
            [DAYS[0]],
            {PCF: set(), PDC: set(), UPCG: set(), TDZA: set()},
            NONE_GONE,
            None,
            {DAYS[0]: f"input player_composite_factors incomplete on {DAYS[0]}"},
        ),
    ],
)
def test_short_inputs(table, dates, complete, expired, upcoming, blocked) -> None:
    assert short_inputs(TABLES[table], dates, DAYS, complete, expired, upcoming) == blocked


def test_a_required_input_missing_from_the_map_is_an_error_not_ready() -> None:
    with pytest.raises(KeyError):
        short_inputs(TABLES[PGS], DAYS[:1], DAYS, {}, NONE_GONE)


# --- the three callers agree, on a real DuckDB slice -----------------------------------------
def test_planner_and_runner_block_a_date_for_the_same_reason(seeded: Settings) -> None:
    from nba_backfill.planner import Planner
    from nba_backfill.runner import run_chunk
    from nba_backfill.settings import RetrySettings
    from nba_backfill.warehouse import shared_warehouse

    fast = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
    wh = shared_warehouse()
    dates = sorted(wh.schedule(D(2021, 11, 1), D(2021, 11, 7)))
    run_chunk(wh, TOGS, dates, fast)
    hole = dates[3]
    wh.fetch(
        f"DELETE FROM {TOGS} WHERE game_date = @d AND team_abbr IN "
        f"(SELECT team_abbr FROM {TOGS} WHERE game_date = @d LIMIT 3)",
        {"d": hole},
    )
    planned = Planner(wh).plan(dates[0], dates[-1], [PGS], 31, phases=(3,)).tables[PGS]
    ran = run_chunk(wh, PGS, dates, fast)
    reason = f"input team_offense_game_summary incomplete on {hole}"
    assert planned.skipped == ran.dates_blocked == {hole: reason}


def test_validation_explains_a_missing_date_as_the_planner_skips_it(seeded: Settings) -> None:
    """Phase 4 on an empty Phase 3: every non-bootstrap date of player_composite_factors is
    short of its inputs; validation's explanation is the planner's skip reason, date by date."""
    from nba_backfill.planner import Planner
    from nba_backfill.validation import validate
    from nba_backfill.warehouse import shared_warehouse
    from tests.conftest import SLICE_END, SLICE_START

    wh = shared_warehouse()
    planned = Planner(wh).plan(SLICE_START, SLICE_END, [PCF], 31, phases=(4,)).tables[PCF]
    (check,) = validate(wh, 4, SLICE_START, SLICE_END, [PCF]).tables
    skipped = {d: why for d, why in planned.skipped.items() if why.startswith("input ")}
    assert skipped and check.explained == skipped
    assert check.problems == []  # threshold 0: short inputs explain every missing date


def test_a_game_whose_inputs_never_arrived_is_counted_out_where_it_is_read() -> None:
    """Issue 12 item 3: a date's completeness counts the games whose results arrived, for the
    tables that read them; a table written from the schedule alone counts every game."""
    from nba_backfill.catalog import TDGS, UPTG
    from nba_backfill.readiness import counted_games, inputs_missing, is_complete, skipped_games
    from nba_backfill.warehouse.base import DateProfile, MissingGame

    day = D(2021, 12, 2)
    game = MissingGame("0022100320", day, "MIL", "ATL")
    togs, uptg, pgs = TABLES[TOGS], TABLES[UPTG], TABLES[PGS]
    assert counted_games(togs, {day: 5}, [game]) == {day: 4}
    assert counted_games(uptg, {day: 5}, [game]) == {day: 5}
    assert skipped_games(togs, [game]) == {day: 1} and skipped_games(uptg, [game]) == {}
    # the team summaries: the game's two rows may be there (box scores arrived) or not
    assert is_complete(togs, DateProfile(8, 8), 4, 1)
    assert is_complete(togs, DateProfile(10, 10), 4, 1)
    assert not is_complete(togs, DateProfile(6, 6), 4, 1)  # a game whose inputs arrived
    assert not is_complete(togs, DateProfile(12, 12), 4, 1)  # a surplus team
    assert not is_complete(togs, DateProfile(10, 10), 4)  # nothing skipped: exact
    # every game of the date lacks its inputs: nothing to write, nothing re-planned
    assert is_complete(TABLES[TDGS], None, 0, 1)
    assert is_complete(pgs, DateProfile(120, 8), 4, 1)
    assert inputs_missing(pgs, [day], [game]) == {
        day: "skipped: inputs missing: 0022100320 MIL@ATL 2021-12-02"
    }
    assert inputs_missing(uptg, [day], [game]) == {}
