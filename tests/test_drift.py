"""Drift between production's contract and the live tables: `nba-backfill contract` reports
it (exit 1), and a run refuses to start on it (one line, exit 2, nothing written)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cli.app import app
from nba_backfill.catalog import PGS, TABLES
from nba_backfill.drift import table_drift
from nba_backfill.settings import Settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

runner = CliRunner()
SLICE = ["--start", "2021-10-19", "--end", "2021-12-05"]


def _alter(path: Path, *statements: str) -> None:
    con = duckdb.connect(str(path))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()


def test_contract_reports_roles_and_no_drift_on_fresh_tables(seeded: Settings) -> None:
    res = runner.invoke(app, ["contract", "--json"])
    assert res.exit_code == 0, res.output
    tables = {t["table"]: t for t in json.loads(res.output)}
    assert set(tables) == set(TABLES)
    assert all(t["ok"] and t["exists"] and not t["extra"] for t in tables.values())
    total = sum(
        len(t["computed"]) + len(t["tracked"]) + len(t["not_derived"]) for t in tables.values()
    )
    assert total == 943
    assert "usage_rate" in tables[PGS]["computed"]
    assert "processed_at" in tables[PGS]["tracked"]
    reason = tables[PGS]["not_derived"]["shot_zones_estimated"]
    assert reason.startswith("always NULL in production")


def test_contract_reports_a_deliberately_altered_table(seeded: Settings) -> None:
    _alter(
        seeded.warehouse.duckdb_path,
        f"ALTER TABLE {PGS} DROP COLUMN usage_rate",
        f"ALTER TABLE {PGS} ALTER COLUMN points TYPE DOUBLE",
        f"ALTER TABLE {PGS} ADD COLUMN legacy_flag BOOLEAN",
    )
    res = runner.invoke(app, ["contract"], env={"COLUMNS": "80"})
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())  # lines wrap at 80 columns
    assert f"{PGS}: missing usage_rate NUMERIC(6,2)" in text
    assert "mistyped points: live FLOAT64 NULLABLE, production INT64 NULLABLE" in text
    wh = DuckDBWarehouse(seeded)
    try:
        drift = table_drift(wh, TABLES[PGS])
    finally:
        wh.close()
    assert drift.extra == ["legacy_flag BOOL"] and not drift.blocking_extra


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        (f"ALTER TABLE {PGS} DROP COLUMN usage_rate", "missing usage_rate NUMERIC(6,2)"),
        (f"ALTER TABLE {PGS} ALTER COLUMN points TYPE DOUBLE", "mistyped points"),
        (f"ALTER TABLE {PGS} ADD COLUMN legacy_id BIGINT NOT NULL DEFAULT 0", "legacy_id"),
    ],
)
def test_run_refuses_a_target_a_write_would_fail_on(
    seeded: Settings, statement: str, named: str
) -> None:
    path = seeded.warehouse.duckdb_path
    _alter(path, statement)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    res = runner.invoke(app, ["run", *SLICE, "--skip-phase4"])
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and PGS in lines[0] and named in lines[0], res.output
    assert "nothing was written" in lines[0]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_run_refuses_an_absent_target_table(seeded: Settings) -> None:
    """A run never creates a table: planning a table that is not there is one line, exit 2."""
    path = seeded.warehouse.duckdb_path
    _alter(path, f"DROP TABLE {PGS}")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    res = runner.invoke(app, ["run", *SLICE, "--skip-phase4"])
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"{PGS}: the table does not exist" in lines[0], res.output
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
