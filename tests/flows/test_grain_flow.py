"""Completeness at the table's grain through the parent flow (issue 12, items 1 and 2): a run
re-plans the partial date and the date holding an orphan row, replaces both, and the next run
has nothing to do."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill.catalog import PGS, TOGS
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.validation import validate
from nba_backfill.warehouse import shared_warehouse

pytestmark = pytest.mark.usefixtures("prefect_server")

D1, D2 = dt.date(2021, 12, 1), dt.date(2021, 12, 2)
FAST = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)


def test_a_run_repairs_partial_players_and_orphans_then_has_nothing_to_do(
    seeded: Settings,
) -> None:
    from flows.backfill import backfill

    wh = shared_warehouse()
    for table in (TOGS, PGS):
        assert run_chunk(wh, table, [D1, D2], FAST).dates_filled == [D1, D2]
    count = f"SELECT COUNT(*) AS n FROM {PGS} WHERE game_date = @d"
    rows = {d: wh.fetch(count, {"d": d})[0]["n"] for d in (D1, D2)}
    # Case 1: one team keeps one player on D1. Case 2: an orphan player on D2.
    team = wh.fetch(f"SELECT MIN(team_abbr) AS t FROM {PGS} WHERE game_date = @d", {"d": D1})
    wh.fetch(
        f"DELETE FROM {PGS} WHERE game_date = @d AND team_abbr = @t AND player_lookup > "
        f"(SELECT MIN(player_lookup) FROM {PGS} WHERE game_date = @d AND team_abbr = @t)",
        {"d": D1, "t": team[0]["t"]},
    )
    wh.fetch(
        f"INSERT INTO {PGS} SELECT * REPLACE ('zzorphanplayer' AS player_lookup) FROM {PGS} "
        "WHERE game_date = @d LIMIT 1",
        {"d": D2},
    )
    assert validate(wh, 3, D1, D2, [PGS]).tables[0].incomplete == [D1, D2]

    state = backfill(D1, D2, tables=[TOGS, PGS], skip_phase4=True, return_state=True)
    assert state.is_completed(), state.message
    filled = {r["table"]: r["filled"] for r in state.result()["tables"]}
    assert filled == {TOGS: 0, PGS: 2}
    assert {d: wh.fetch(count, {"d": d})[0]["n"] for d in (D1, D2)} == rows
    assert validate(wh, 3, D1, D2, [PGS]).ok

    again = backfill(D1, D2, tables=[TOGS, PGS], skip_phase4=True, return_state=True)
    assert again.is_completed()
    assert all(r["filled"] == 0 for r in again.result()["tables"])
