"""Every default local path derives from NBA_BACKFILL_HOME: the DuckDB warehouse, the Prefect
server's home, the chaos figures and the test tools; an explicit path still wins."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli import local_server
from nba_backfill.settings import load_settings

REPO = Path(__file__).resolve().parents[1]


def test_home_alone_places_the_warehouse_and_the_prefect_home(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("NBA_BACKFILL_WAREHOUSE__DUCKDB_PATH", raising=False)
    monkeypatch.setenv("NBA_BACKFILL_HOME", "/x")
    s = load_settings()
    assert s.warehouse.duckdb_path == Path("/x/warehouse.duckdb")
    assert local_server.prefect_home(s.home) == Path("/x/prefect")
    assert local_server.base_env(s.home)["PREFECT_HOME"] == "/x/prefect"
    # Other warehouse settings given in code keep the derived path.
    other = load_settings(warehouse={"duckdb_threads": 3})
    assert other.warehouse.duckdb_path == Path("/x/warehouse.duckdb")


def test_an_explicit_warehouse_path_wins(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NBA_BACKFILL_HOME", "/x")
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__DUCKDB_PATH", "/y/w.duckdb")
    assert load_settings().warehouse.duckdb_path == Path("/y/w.duckdb")
    monkeypatch.delenv("NBA_BACKFILL_WAREHOUSE__DUCKDB_PATH")
    given = load_settings(warehouse={"duckdb_path": "/z/w.duckdb"})
    assert given.warehouse.duckdb_path == Path("/z/w.duckdb")


def test_defaults_without_a_home_are_unchanged(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("NBA_BACKFILL_HOME", raising=False)
    monkeypatch.delenv("NBA_BACKFILL_WAREHOUSE__DUCKDB_PATH", raising=False)
    s = load_settings()
    assert s.home == Path(".nba-backfill")
    assert s.warehouse.duckdb_path == Path(".nba-backfill/warehouse.duckdb")


def _bare_env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NBA_BACKFILL_"))}
    return {**base, **extra}


def test_the_cli_reads_the_warehouse_under_home(tmp_path: Path, phase2_template: Path):
    """Only NBA_BACKFILL_HOME set, run from another folder: `plan` reads <home>/warehouse.duckdb
    (before, it looked for ./.nba-backfill/warehouse.duckdb and asked to seed)."""
    home = tmp_path / "x"
    home.mkdir()
    shutil.copy(phase2_template, home / "warehouse.duckdb")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "plan", "--start", "2021-11-01", "--end", "2021-11-03"],
        env=_bare_env(NBA_BACKFILL_HOME=str(home), PYTHONPATH=str(REPO)),
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Plan 2021-11-01..2021-11-03" in proc.stdout
    assert not (elsewhere / ".nba-backfill").exists()


def test_chaos_figures_and_test_tools_live_under_home(tmp_path: Path):
    code = (
        "import tests.chaos.conftest as chaos, tests.emulator as emulator; "
        "print(chaos.FIGURES_DIR); print(emulator.TOOLS_DIR)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=_bare_env(NBA_BACKFILL_HOME=str(tmp_path / "x")),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(tmp_path / "x" / "chaos"), str(tmp_path / "x" / "tools")]
