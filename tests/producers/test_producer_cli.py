"""Command producers through the entry points: ``plan`` shows who produces each table, and a
command that cannot run stops ``plan``, ``run`` and the flow at start with one line, exit 2,
nothing run or written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from nba_backfill.catalog import PGS, TOGS
from nba_backfill.errors import UsageError
from nba_backfill.settings import Settings
from nba_backfill.warehouse import close_shared
from tests.producers.conftest import standin_command

runner = CliRunner()
WEEK = ["--start", "2021-11-01", "--end", "2021-11-07"]
PGS_COMMAND = "NBA_BACKFILL_PRODUCERS__PLAYER_GAME_SUMMARY__COMMAND"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_plan_shows_each_tables_producer(seeded: Settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(PGS_COMMAND, standin_command("player_game_summary"))
    close_shared()
    res = runner.invoke(app, ["plan", *WEEK, "--no-estimate"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert "produced by commands (the other tables by their SQL models):" in res.output
    assert "  player_game_summary: command: python standin.py" in res.output
    assert "team_offense_game_summary: command" not in res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80
    plan = json.loads(runner.invoke(app, ["plan", *WEEK, "--no-estimate", "--json"]).output)
    # The whole command line, placeholders as configured (the args were dropped before).
    assert plan["tables"][PGS]["producer"] == (
        "command: python standin.py --table player_game_summary --start-date {start} "
        "--end-date {end} --dates {dates} --no-resume --parallel --workers 2"
    )
    assert plan["tables"][TOGS]["producer"] == "sql"


def test_plan_keeps_the_args_of_a_command_holding_literal_braces(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
):
    """``{{…}}`` (literal braces) and ``[…]`` (rich markup) are printed as configured."""
    command = "true --label {{run}} --tags [a,b] {start}"
    monkeypatch.setenv(PGS_COMMAND, command)
    close_shared()
    res = runner.invoke(app, ["plan", *WEEK, "--no-estimate"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert f"  player_game_summary: command: {command}" in res.output
    plan = json.loads(runner.invoke(app, ["plan", *WEEK, "--no-estimate", "--json"]).output)
    assert plan["tables"][PGS]["producer"] == f"command: {command}"


BAD = [
    ({PGS_COMMAND: "true --day {day}"}, "unknown placeholder {day}"),
    ({PGS_COMMAND: "no-such-processor-xyz {start}"}, "executable 'no-such-processor-xyz'"),
    (
        {PGS_COMMAND: "true", "NBA_BACKFILL_PRODUCERS__PLAYER_GAME_SUMMARY__CWD": "/nowhere"},
        "working directory /nowhere does not exist",
    ),
    ({"NBA_BACKFILL_PRODUCERS__NO_SUCH_TABLE__COMMAND": "true"}, "not a table of the catalog"),
]


@pytest.mark.parametrize("command", ["plan", "run"])
@pytest.mark.parametrize(("env", "needle"), BAD, ids=[n for _, n in BAD])
def test_a_producer_that_cannot_run_is_one_line_exit_2(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch, command: str, env, needle: str
):
    db = Path(seeded.warehouse.duckdb_path)
    before = _digest(db)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    close_shared()
    res = runner.invoke(app, [command, *WEEK])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], res.output
    assert _digest(db) == before


@pytest.mark.usefixtures("prefect_server")
def test_the_flow_refuses_a_producer_that_cannot_run(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
):
    from flows.backfill import backfill

    db = Path(seeded.warehouse.duckdb_path)
    before = _digest(db)
    monkeypatch.setenv(PGS_COMMAND, "no-such-processor-xyz --dates {dates}")
    close_shared()
    state = backfill("2021-11-01", "2021-11-07", return_state=True)
    close_shared()
    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), UsageError)
    message = str(state.message)
    assert "\n" not in message and "executable 'no-such-processor-xyz' not found" in message
    assert _digest(db) == before
