"""Read-only commands while a run holds the warehouse (issue 12, case 10(f)): DuckDB admits one
writing process or several readers, never both; ``plan`` and ``status`` read a consistent copy
instead, with the writer's committed rows, and say in one line who holds it when no copy can
be taken. The writer is a real second process holding the file's write lock."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from nba_backfill.catalog import TOGS
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.warehouse import close_shared, shared_warehouse
from nba_backfill.warehouse import duckdb as duck_adapter

runner = CliRunner()
RANGE = ["--start", "2021-11-01", "--end", "2021-11-07"]
DELETED = dt.date(2021, 11, 3)
# The writer: deletes one date (committed, left in the WAL: no checkpoint) and keeps the file
# open for writing until its stdin closes.
HOLDER = f"""
import datetime as dt, sys
from nba_backfill.catalog import TABLES, TOGS
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
wh = DuckDBWarehouse(load_settings())
wh._con.execute("SET wal_autocheckpoint = '1GB'")
wh.delete_dates(TABLES[TOGS], [dt.date.fromisoformat({DELETED.isoformat()!r})])
print("ready", flush=True)
sys.stdin.read()
"""


def togs_plan(output: str) -> dict[str, object]:
    tables = json.loads(output)["tables"]
    assert isinstance(tables, dict)
    return tables[TOGS]  # type: ignore[no-any-return]


@pytest.fixture
def holder(seeded: Settings) -> Iterator[subprocess.Popen[str]]:
    wh = shared_warehouse()
    days = sorted(wh.schedule(dt.date(2021, 11, 1), dt.date(2021, 11, 7)))
    assert run_chunk(wh, TOGS, days, RetrySettings(max_attempts=1)).ok
    close_shared()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    yield proc
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)


def test_plan_and_status_read_a_copy_while_a_run_writes(
    holder: subprocess.Popen[str], seeded: Settings, tmp_path: Path
) -> None:
    res = runner.invoke(app, ["plan", *RANGE, "--tables", "team_offense_game_summary", "--json"])
    assert res.exit_code == 0, res.output
    togs = togs_plan(res.output)
    # The writer's committed delete is seen (it is in the WAL the copy replays).
    assert togs["missing"] == [DELETED.isoformat()]
    assert togs["complete_dates"] == 6

    res = runner.invoke(app, ["status", "--json"])
    assert res.exit_code == 0, res.output
    (togs_status,) = [t for t in json.loads(res.output)[0]["tables"] if t["table"] == TOGS]
    # 11-02..11-07 filled (11-01 is a bootstrap day, not counted), less the deleted date
    assert togs_status["covered_dates"] == 5
    assert holder.poll() is None  # the run kept its lock throughout
    # The copies are gone once the commands closed them.
    assert not list(Path(duck_adapter.tempfile.gettempdir()).glob("nba-backfill-snapshot-*"))


def test_no_consistent_copy_is_one_line_naming_the_holder(
    holder: subprocess.Popen[str], seeded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every copy torn (a writer checkpointing as it is read): one line, exit 2."""

    def torn(src: Path, dst: Path) -> None:
        dst.write_bytes(src.read_bytes()[:4096])

    monkeypatch.setattr(duck_adapter, "_copy_file", torn)
    monkeypatch.setattr(duck_adapter, "SNAPSHOT_RETRY_SECONDS", 0)
    for command in (["plan", *RANGE], ["status"]):
        res = runner.invoke(app, command)
        assert res.exit_code == 2, res.output
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and "Traceback" not in res.output, res.output
        assert f"process {holder.pid} " in lines[0] and "retry" in lines[0], lines[0]


def test_run_is_still_refused_while_another_run_writes(
    holder: subprocess.Popen[str], seeded: Settings
) -> None:
    """``run`` writes: it is refused in one line before it plans, never fed a copy."""
    res = runner.invoke(app, ["run", *RANGE, "--tables", "team_offense_game_summary"])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "is another nba-backfill process using it?" in lines[0]
