"""``nba-backfill run``'s exit code tells the truth (issue 12, items 7 and 9): non-zero with
one line why whenever its summary has a failed chunk or a failing check, with or without
``--skip-phase4``; a date whose keys are broken is re-planned and repaired by the next run.
Run in this process against the session's test Prefect server."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from cli.app import app
from nba_backfill.catalog import PGS
from nba_backfill.settings import Settings
from nba_backfill.warehouse import close_shared, open_warehouse

pytestmark = pytest.mark.usefixtures("prefect_server")

OPENING = ["--start", "2021-10-19", "--end", "2021-10-20"]
runner = CliRunner()


@pytest.fixture
def api(prefect_server: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test server's URL as the CLI reads it (an explicit PREFECT_API_URL)."""
    from prefect.settings import PREFECT_API_URL

    url = str(PREFECT_API_URL.value())
    monkeypatch.setenv("PREFECT_API_URL", url)
    return url


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def test_skip_phase4_exits_1_naming_the_failing_gate(seeded: Settings, api: str) -> None:
    """upcoming_player_game_context reads the 30 days of player_game_summary before each
    date, which the run does not fill: its dates are blocked, the table it fills cannot be
    complete; Phase 4 is skipped and the run still exits 1, naming table and date. (A day
    without box scores, this test's earlier recipe, is no failure since issue 12 item 3: its
    games are skipped for missing inputs, exit 3 — the next test.)"""
    res = runner.invoke(
        app,
        [
            "run",
            *("--start", "2021-11-02", "--end", "2021-11-03"),
            *("--tables", "upcoming_player_game_context", "--skip-phase4"),
        ],
    )
    assert res.exit_code == 1, res.output
    [line] = _errors(res.output)
    assert "Phase 3 gate failed" in line and "upcoming_player_game_context" in line
    assert "2021-11-02" in line


def test_a_day_without_box_scores_exits_3_naming_its_games_once(seeded: Settings, api: str) -> None:
    """Issue 12 item 3: final games whose box scores never arrived are skipped (inputs
    missing), named once with id, teams and date; the run exits 3 (not complete, nothing to
    retry); the next run rewrites nothing and says so again."""
    import duckdb

    con = duckdb.connect(str(seeded.warehouse.duckdb_path))
    con.execute("DELETE FROM nba_raw.nbac_team_boxscore WHERE game_date = '2021-10-20'")
    games = con.execute(
        "SELECT DISTINCT game_id, away_team_tricode, home_team_tricode FROM "
        "nba_raw.nbac_schedule WHERE game_date = '2021-10-20' AND game_status = 3 "
        "ORDER BY game_id"
    ).fetchall()
    con.close()
    labels = [f"{g} {a}@{h} 2021-10-20" for g, a, h in games]
    args = ["run", *OPENING, "--tables", "team_offense_game_summary", "--skip-phase4"]
    res = runner.invoke(app, args)
    assert res.exit_code == 3, res.output
    skipped = [x for x in res.output.splitlines() if x.startswith("skipped: inputs missing: ")]
    assert [x.removeprefix("skipped: inputs missing: ") for x in skipped] == labels
    assert f"incomplete: {len(labels)} game(s) skipped" in " ".join(res.output.split())
    plan = json.loads(runner.invoke(app, ["plan", *OPENING, "--json"]).output)
    assert plan["games_skipped"] == labels
    assert plan["tables"]["nba_analytics.team_offense_game_summary"]["chunks"] == []
    assert plan["tables"]["nba_analytics.team_offense_game_summary"]["complete_dates"] == 1
    res = runner.invoke(app, args)  # nothing rewritten, still named, still 3
    assert res.exit_code == 3, res.output
    assert "nothing to do: every game whose inputs arrived is written" in res.output


def test_a_duplicated_key_fails_validate_and_the_next_run_repairs_it(
    seeded: Settings, api: str
) -> None:
    res = runner.invoke(app, ["run", *OPENING, "--skip-phase4"])
    assert res.exit_code == 0, res.output
    close_shared()
    wh = open_warehouse(seeded)
    try:
        wh.fetch(
            f"INSERT INTO {PGS} SELECT * FROM {PGS} WHERE game_date = @d LIMIT 1",
            {"d": dt.date(2021, 10, 20)},
        )
    finally:
        wh.close()

    res = runner.invoke(app, ["validate", "--phase", "3", *OPENING])
    assert res.exit_code == 1
    assert "1 duplicate key row on 2021-10-20" in " ".join(res.output.split())
    plan = json.loads(runner.invoke(app, ["plan", *OPENING, "--json"]).output)
    assert plan["tables"][PGS]["incomplete"] == ["2021-10-20"]

    res = runner.invoke(app, ["run", *OPENING, "--skip-phase4"])
    assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["validate", "--phase", "3", *OPENING]).exit_code == 0


def test_nothing_to_fill_still_exits_1_when_the_checks_fail(seeded: Settings) -> None:
    """No flow run for an empty plan, but the checks it would run decide the exit code (a run
    that goes on to Phase 4 is gated on every Phase 3 table, whichever ones it fills; the
    feature store has nothing to fill on the opener's bootstrap days)."""
    from nba_backfill.catalog import TOGS
    from nba_backfill.runner import run_chunk
    from nba_backfill.settings import RetrySettings

    days = [dt.date(2021, 10, 19), dt.date(2021, 10, 20)]
    wh = open_warehouse(seeded)
    try:
        fast = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
        assert run_chunk(wh, TOGS, days, fast).dates_filled == days
    finally:
        wh.close()
    res = runner.invoke(
        app, ["run", *OPENING, "--tables", "team_offense_game_summary,ml_feature_store_v2"]
    )
    assert res.exit_code == 1, res.output
    [line] = _errors(res.output)
    assert line.startswith("error: nothing to fill, yet the Phase 3 gate fails: ")
    assert "team_defense_game_summary: critical: 0/2" in line and "2021-10-19" in line


def test_a_ranged_run_shows_the_coverage_of_what_it_filled(seeded: Settings, api: str) -> None:
    """A run that exits 0 must not end on a coverage table of the whole default range, red with
    dates it was never asked to fill: it shows its own range and its own tables (Phase 4 only
    when it went on to it)."""
    res = runner.invoke(
        app, ["run", *OPENING, "--tables", "team_offense_game_summary", "--skip-phase4"]
    )
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "Coverage 2021-10-19..2021-10-20" in text
    shown = [line.split()[0] for line in res.output.splitlines() if line.strip()]
    assert "team_offense_game_summary" in shown
    assert "team_defense_game_summary" not in shown and "ml_feature_store_v2" not in shown
