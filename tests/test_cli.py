"""The CLI on a seeded slice: plan / validate / status output, and bad input (one line, exit 2,
nothing written)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from nba_backfill.settings import Settings

runner = CliRunner()
SLICE = ["--start", "2021-10-19", "--end", "2021-12-05"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_plan_json_lists_missing_dates_and_chunks(seeded: Settings):
    res = runner.invoke(app, ["plan", *SLICE, "--chunk-days", "10", "--json"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)
    togs = plan["tables"]["nba_analytics.team_offense_game_summary"]
    assert len(togs["missing"]) == 47 and togs["complete_dates"] == 0
    assert all(c["dates"] <= 10 for c in togs["chunks"])
    assert sum(c["dates"] for c in togs["chunks"]) == 47
    pdc = plan["tables"]["nba_precompute.player_daily_cache"]
    assert len(pdc["skipped"]) == 14 and len(pdc["missing"]) == 33  # bootstrap days skipped


def test_validate_fails_on_empty_phase3_and_lists_dates(seeded: Settings):
    res = runner.invoke(app, ["validate", "--phase", "3", *SLICE, "--json", "--verbose"])
    assert res.exit_code == 1
    report = json.loads(res.output)
    assert not report["ok"]
    assert all(t["coverage"] == 0 for t in report["tables"])
    assert len(report["tables"][0]["missing"]) == 33


BAD = [
    (["plan", "--start", "2021-13-01"], "not a date"),
    (["plan", "--start", "yesterday"], "not a date"),
    (["plan", "--start", "2022-01-10", "--end", "2022-01-01"], "before start"),
    (["plan", "--tables", "no_such_table"], "unknown table"),
    (["plan", "--tables", "nba_analytics.x;DROP TABLE y"], "unknown table"),
    (["plan", "--tables", ","], "empty"),
    (["plan", "--chunk-days", "0"], "chunk size"),
    (["plan", "--chunk-days", "-5"], "chunk size"),
    (["plan", "--start", "2030-01-01", "--end", "2030-02-01"], "outside the schedule"),
    (["run", "--start", "2030-01-01", "--end", "2030-02-01"], "outside the schedule"),
    (["run", "--end", "2021-01-01"], "before start"),
    (["run", "--tables", "bogus"], "unknown table"),
    (["run", "--chunk-days", "0"], "chunk size"),
    (["run", "--max-concurrency", "0"], "concurrency"),
    (["validate", "--phase", "5"], "phase must be 3 or 4"),
    (["seed", "--state", "half"], "unknown state"),
    (["run", "--start", "2021-10-19", "--end", "2021-10-31", "--tables", ""], "empty"),
    (["run", "--start", "2021-02-30"], "not a date"),
    (["run", "--chunk-days", "-1", "--skip-phase4"], "chunk size"),
    (["run", "--tables", "team_offense_game_summary' OR '1'='1"], "unknown table"),
    (["validate", "--start", "2021-12-05", "--end", "2021-10-19"], "before start"),
    (["plan", "--tables", "[bold]x"], "unknown table '[bold]x'"),  # text, not markup
]


@pytest.mark.parametrize(("args", "needle"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_nothing_written(seeded: Settings, args, needle):
    db = Path(seeded.warehouse.duckdb_path)
    before = digest(db)
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], res.output
    assert digest(db) == before


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Settings that are wrong or point nowhere: the same one line and exit 2, nothing written.
# The BigQuery cases name no real project: they must fail before any request leaves.
BIGQUERY = {"NBA_BACKFILL_WAREHOUSE__BACKEND": "bigquery"}
BAD_ENV = [
    ({"NBA_BACKFILL_WAREHOUSE__BACKEND": "oracle"}, ["plan"], "NBA_BACKFILL_WAREHOUSE__BACKEND"),
    (
        {**BIGQUERY, "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"},
        ["plan", "--no-estimate"],
        "no Google credentials for BigQuery",
    ),
    (
        {**BIGQUERY, "NBA_BACKFILL_WAREHOUSE__EMULATOR_ENDPOINT": "http://127.0.0.1:{port}"},
        ["status"],
        "cannot reach the BigQuery emulator",
    ),
    ({"NBA_BACKFILL_SLACK_WEBHOOK_URL": "hooks.slack.com/services/T0/B0/x"}, ["plan"], "https"),
    ({"NBA_BACKFILL_WAREHOUSE__PROJECT": "p; DROP TABLE x"}, ["plan"], "warehouse.project"),
    ({"NBA_BACKFILL_RUN__MAX_CONCURRENCY": "0"}, ["run"], "run.max_concurrency"),
    ({"NBA_BACKFILL_RUN__END_DATE": "2021-01-01"}, ["status"], "before start_date"),
    ({"NBA_BACKFILL_RUN__LOCK_WAIT_SECONDS": "-5"}, ["run"], "run.lock_wait_seconds"),
]


@pytest.mark.parametrize(
    ("env", "args", "needle"), BAD_ENV, ids=[" ".join(e) for e, _, _ in BAD_ENV]
)
def test_bad_settings_are_one_line_exit_2_nothing_written(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch, env, args, needle
):
    from nba_backfill.warehouse import close_shared

    db = Path(seeded.warehouse.duckdb_path)
    before = digest(db)
    port = _closed_port()
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(port=port))
    close_shared()  # settings are read once per process
    started = time.monotonic()
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], res.output
    assert time.monotonic() - started < 15  # no retrying a warehouse that is not there
    assert digest(db) == before
    if "NBA_BACKFILL_SLACK_WEBHOOK_URL" in env:  # a secret, even when malformed
        assert env["NBA_BACKFILL_SLACK_WEBHOOK_URL"] not in res.output


def test_unseeded_warehouse_is_reported_not_created(local_settings: Settings):
    db = Path(local_settings.warehouse.duckdb_path)
    res = runner.invoke(app, ["status"])
    assert res.exit_code == 2 and "seed" in res.output
    assert not db.exists()


def test_invalid_setting_exits_2_with_one_line(tmp_path: Path):
    env = {**os.environ, "NBA_BACKFILL_RUN__CHUNK_DAYS": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "status"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and "NBA_BACKFILL_RUN__CHUNK_DAYS" in err[0]
