"""The CLI's tables at an 80-column terminal and at 200: no line wider than the terminal, every
table named in full by its short name (nothing cut to ``nba_a…``), the dataset as a heading."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from rich.console import Console
from typer.testing import CliRunner

import cli.app
from cli.app import app
from cli.tables import fits, new_table
from nba_backfill.catalog import PHASE3, PHASE4, TABLES
from nba_backfill.estimate import UNAVAILABLE, PlanEstimate
from nba_backfill.planner import Planner
from nba_backfill.settings import Settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

SLICE = ["--start", "2021-10-19", "--end", "2021-12-05"]
COMMANDS = {
    "status": (["status"], list(TABLES)),
    "validate 3": (["validate", "--phase", "3", *SLICE], [t.name for t in PHASE3]),
    "validate 4": (["validate", "--phase", "4", *SLICE], [t.name for t in PHASE4]),
    "validate 3 verbose": (["validate", "--phase", "3", *SLICE, "-v"], [t.name for t in PHASE3]),
    "plan": (["plan", *SLICE], list(TABLES)),
    "plan no estimate": (["plan", *SLICE, "--no-estimate"], list(TABLES)),
    "contract": (["contract"], list(TABLES)),
}


def named(line: str, short: str) -> bool:
    """Whether ``line`` holds the short name as a whole word (``player_game_summary`` is not
    found inside ``upcoming_player_game_context``)."""
    return re.search(rf"(?<![\w.]){re.escape(short)}(?!\w)", line) is not None


@pytest.mark.parametrize("columns", [80, 200])
@pytest.mark.parametrize("command", COMMANDS)
def test_tables_fit_the_terminal_and_name_every_table(seeded: Settings, command, columns):
    args, tables = COMMANDS[command]
    res = CliRunner().invoke(app, args, env={"COLUMNS": str(columns)})
    assert res.exit_code in (0, 1), res.output  # validate fails on the unfilled slice
    lines = res.output.splitlines()
    too_wide = [line for line in lines if len(line) > columns]
    assert not too_wide, res.output
    assert "…" not in res.output, res.output
    for name in tables:
        dataset, short = name.split(".")
        rows = [line for line in lines if named(line, short)]
        assert rows, f"{short} not named in full:\n{res.output}"
        assert any(line.strip().startswith(dataset) for line in lines), res.output


def test_validate_narrow_layout_keeps_the_counts(seeded: Settings):
    """At 80 columns the missing / incomplete counts move into the status; at 200 they keep
    their columns. Either way the same numbers are shown."""
    narrow = CliRunner().invoke(app, ["validate", "--phase", "3", *SLICE], env={"COLUMNS": "80"})
    wide = CliRunner().invoke(app, ["validate", "--phase", "3", *SLICE], env={"COLUMNS": "200"})
    assert narrow.exit_code == wide.exit_code == 1
    assert "null keys" in wide.output and "incomplete" in wide.output.splitlines()[1]
    togs = [line for line in wide.output.splitlines() if named(line, "team_offense_game_summary")]
    assert togs[0].split()[1:6] == ["0.0%", "0/33", "33", "0", "0"]
    text = " ".join(narrow.output.split())  # the status wraps inside its column
    assert "null keys" not in narrow.output
    assert "team_offense_game_summary 0.0% 0/33 0 coverage 0.0% < 95% (0/33 dates);" in text
    assert "33 missing, 0 incomplete" in text


def test_status_headings_name_dataset_and_phase(seeded: Settings):
    res = CliRunner().invoke(app, ["status"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    headings = [line.strip() for line in res.output.splitlines() if line.startswith("nba_")]
    assert headings == [
        "nba_analytics (Phase 3)",
        "nba_precompute (Phase 4)",
        "nba_predictions (Phase 4)",
    ]


@pytest.mark.parametrize("columns", [80, 200])
def test_plan_estimates_stay_readable(seeded: Settings, monkeypatch, columns):
    """BigQuery's per-table estimates: a column when the terminal is wide enough, else one line
    per table under the plan; "estimate unavailable" is never cut either."""
    wh = DuckDBWarehouse(seeded, read_only=True)
    try:
        the_plan = Planner(wh).plan(dt.date(2021, 10, 19), dt.date(2021, 12, 5), None, 10)
    finally:
        wh.close()
    names = list(the_plan.tables)
    estimate = PlanEstimate(
        "dry_run", 6.25, {n: (None if i == 1 else (i + 1) * 2**40) for i, n in enumerate(names)}
    )
    buffer = StringIO()
    monkeypatch.setattr(cli.app, "out", Console(file=buffer, width=columns))
    cli.app._print_plan(the_plan, estimate)
    output = buffer.getvalue()
    lines = output.splitlines()
    assert all(len(line) <= columns for line in lines), output
    assert "…" not in output
    estimate_lines = [line for line in lines if line.startswith("est. bytes / $ ")]
    if columns == 80:
        assert len(estimate_lines) == len(names)
        assert f"est. bytes / $ {names[1].split('.')[1]}: {UNAVAILABLE}" in estimate_lines
        assert f"est. bytes / $ {names[0].split('.')[1]}: 1.0 TiB / $6.25" in estimate_lines
    else:
        assert estimate_lines == []
        row = next(line for line in lines if named(line, names[1].split(".")[1]))
        assert row.rstrip().endswith(UNAVAILABLE)
    assert "estimated total: estimate unavailable" in output


def test_fits_measures_beyond_the_console_width():
    """A table wider than the console does not fit (rich clamps its own measurement to the
    console, which would say every table fits)."""
    t = new_table("t", ("table", "a", "b"))
    t.add_row("x" * 60, "1" * 10, "2" * 10)
    assert fits(Console(width=200), t)
    assert not fits(Console(width=80), t)


def test_a_title_wider_than_its_table_stays_on_one_line():
    title = "Coverage 2021-10-19..2026-01-03 (non-bootstrap dates, complete rows)"
    t = new_table(title, ("table", "rows", "status"), text=("status",))
    t.add_row("player_game_summary", "1", "ok")
    console = Console(file=StringIO(), width=80)
    console.print(t)
    assert console.file.getvalue().splitlines()[0].strip() == title  # type: ignore[attr-defined]
