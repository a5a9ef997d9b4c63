"""Secrets stay secret: the Slack webhook URL and a service-account key go through settings
(SecretStr), `nba-backfill setup` and Prefect blocks, runs that succeed, fail and fail to reach
Slack happen — and then every log line on the Prefect server, every artifact, flow-run state and
parameter, work-pool template, variable, Slack message and line printed is scanned for them.

Identifiers and values: table names come only from the catalog (a name carrying SQL is refused
before any query), dataset names from validated settings, and the window dates of every write
are query parameters (checked here on both adapters' write statements). The image's non-root
user is checked in tests/deployments/test_setup_files.py."""

from __future__ import annotations

import datetime as dt
import json
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nba_backfill.catalog import TABLES, TDGS, TOGS
from nba_backfill.errors import UsageError
from nba_backfill.settings import Settings, load_settings
from nba_backfill.warehouse import close_shared
from tests.conftest import SLICE_START
from tests.slack_sink import SlackSink, slack_sink

__all__ = ["slack_sink"]
END = dt.date(2021, 11, 10)
FAULT_DAY = dt.date(2021, 10, 28)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _service_account_key(path: Path, key_id: str) -> str:
    """A real (useless) service-account key file; returns a slice of its private key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "nba-props-platform",
                "private_key_id": key_id,
                "private_key": pem,
                "client_email": "nba-backfill@nba-props-platform.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return pem.splitlines()[5]  # 64 characters from the middle of the key


def _everything_prefect_kept() -> list[str]:
    """Every log line, artifact, flow run (name, parameters, state message), work pool
    template, variable and block-free object on the server, as text."""
    from prefect import get_client
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # logs are sent in batches: send what is queued first
    texts: list[str] = []
    with get_client(sync_client=True) as client:
        offset = 0
        while batch := client.read_logs(limit=200, offset=offset):
            texts += [f"{log.name} {log.message}" for log in batch]
            offset += len(batch)
        texts += [
            json.dumps({"key": a.key, "data": a.data, "description": a.description}, default=str)
            for a in client.read_artifacts()
        ]
        for run in client.read_flow_runs(limit=200):
            texts.append(f"{run.name} {json.dumps(run.parameters, default=str)}")
            texts.append(str(run.state.message if run.state else ""))
        for pool in client.read_work_pools():
            texts.append(json.dumps(pool.base_job_template, default=str))
        texts += [json.dumps(v.value, default=str) for v in client.read_variables()]
    return texts


@pytest.mark.usefixtures("prefect_server")
def test_secrets_never_reach_logs_artifacts_slack_or_output(
    seeded: Settings,
    slack_sink: SlackSink,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from prefect.settings import PREFECT_API_URL
    from prefect_slack import SlackWebhook

    from cli.app import app
    from flows.backfill import backfill
    from flows.validate import validate

    token, dead_token, key_id = (f"secret{uuid.uuid4().hex}" for _ in range(3))
    port = slack_sink.server.server_port
    webhook = f"http://127.0.0.1:{port}/services/T0/B0/{token}"
    dead_webhook = f"http://127.0.0.1:{_closed_port()}/services/T0/B0/{dead_token}"
    key_slice = _service_account_key(tmp_path / "key.json", key_id)
    secrets = [token, dead_token, key_id, key_slice]
    slack_name, gcp_name = f"sec-slack-{uuid.uuid4().hex[:6]}", f"sec-gcp-{uuid.uuid4().hex[:6]}"
    for key, value in {
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "NBA_BACKFILL_SLACK_WEBHOOK_URL": webhook,
        "NBA_BACKFILL_PREFECT__SLACK_BLOCK": slack_name,
        "NBA_BACKFILL_WAREHOUSE__GCP_CREDENTIALS_BLOCK": gcp_name,
        "NBA_BACKFILL_DEPLOY__GCP_SERVICE_ACCOUNT_FILE": str(tmp_path / "key.json"),
    }.items():
        monkeypatch.setenv(key, value)
    close_shared()
    printed: list[str] = []

    # Settings hold the webhook as a SecretStr: not in repr, dump or JSON.
    s = load_settings()
    assert s.slack_webhook_url is not None and s.slack_webhook_url.get_secret_value() == webhook
    printed += [repr(s), str(s.model_dump()), s.model_dump_json()]

    # setup stores both secrets in blocks and prints what it did.
    res = CliRunner().invoke(app, ["setup", "--target", "all", "--no-deploy"])
    assert res.exit_code == 0, res.output
    printed.append(res.output)
    assert SlackWebhook.load(slack_name).url.get_secret_value() == webhook  # really in play

    # A run that fails (a permanent fault), one that completes: both notify Slack.
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__PERMANENT", f"{TDGS}:{FAULT_DAY}")
    close_shared()
    failed = backfill(SLICE_START, END, [TDGS], chunk_days=7, skip_phase4=True, return_state=True)
    assert failed.is_failed()
    monkeypatch.delenv("NBA_BACKFILL_FAULTS__PERMANENT")
    close_shared()
    done = backfill(SLICE_START, END, [TOGS], skip_phase4=True, return_state=True)
    assert done.is_completed(), done.message
    slack_sink.wait_for(lambda p: "failed" in p["text"])
    slack_sink.wait_for(lambda p: "completed" in p["text"])

    # Slack unreachable: the error text holds the URL; the hook must log its class only.
    SlackWebhook(url=dead_webhook).save(slack_name + "-dead", overwrite=True)
    monkeypatch.setenv("NBA_BACKFILL_PREFECT__SLACK_BLOCK", slack_name + "-dead")
    close_shared()
    gate = validate(3, SLICE_START, END, return_state=True)
    assert gate.is_failed()

    captured = capfd.readouterr()
    printed += [captured.out, captured.err]
    payloads = [json.dumps(p) for p in slack_sink.payloads]
    kept = _everything_prefect_kept()
    assert len(payloads) >= 2 and len(kept) > 50  # there was plenty to leak into
    assert any("Slack: sending through block" in t for t in kept)  # the failed delivery
    for secret in secrets:
        for where, texts in (("printed", printed), ("Slack", payloads), ("Prefect", kept)):
            leaks = [t for t in texts if secret in t]
            assert not leaks, f"secret found in {where}: {leaks[0][:300]}"


@pytest.mark.parametrize(
    "name",
    [
        "nba_analytics.team_offense_game_summary; DROP TABLE nba_raw.nbac_schedule",
        "nba_analytics.team_offense_game_summary --",
        "`nba_analytics`.`x`",
        "nba_analytics.TEAM_OFFENSE_GAME_SUMMARY OR 1=1",
        "../../etc/passwd",
    ],
)
def test_table_names_come_only_from_the_catalog(name: str) -> None:
    from nba_backfill.catalog import get_table

    with pytest.raises(UsageError, match="unknown table"):
        get_table(name)


def test_write_windows_are_parameters_on_both_adapters(seeded: Settings) -> None:
    """Every statement of a chunk write binds its window ($start_date / @start_date), never
    embeds it; and the only tables it names are the catalog's, in the configured datasets
    (the production BigQuery script's full text is checked in tests/warehouse/test_bigquery.py)."""
    import sqlglot
    from sqlglot import exp

    from nba_backfill.phase2 import RAW_TABLES
    from nba_backfill.warehouse.bigquery import BigQueryWarehouse
    from nba_backfill.warehouse.duckdb import DuckDBWarehouse

    start, end = dt.date(2021, 11, 1), dt.date(2021, 11, 3)
    known = {t.name for t in RAW_TABLES} | set(TABLES)

    duck = DuckDBWarehouse(seeded)
    statements: list[str] = []
    real_cursor = duck._cursor
    duck._cursor = lambda: _Recording(real_cursor(), statements)  # type: ignore[method-assign]
    try:
        result = duck.replace_range(TABLES[TOGS], start, end)
    finally:
        duck.close()
    assert result.rows_written > 0 and len(statements) == 2
    for statement in statements:
        assert "$start_date" in statement and "2021-11-0" not in statement

    bq = BigQueryWarehouse(load_settings(warehouse={"backend": "bigquery"}))
    bq._columns = lambda table: ("game_date", "team_abbr")  # type: ignore[method-assign]
    for statement in bq._replace_statements(TABLES[TOGS], start, end):
        assert "@start_date" in statement and "2021-11-0" not in statement
        for ref in sqlglot.parse_one(statement, read="bigquery").find_all(exp.Table):
            if ref.args.get("db") is not None:
                assert ref.catalog == bq.project and f"{ref.db}.{ref.name}" in known, ref.sql()


class _Recording:
    """A DuckDB cursor that records the statements it runs."""

    def __init__(self, cursor: Any, out: list[str]) -> None:
        self._cursor, self._out = cursor, out

    def execute(self, sql: str, *args: Any) -> Any:
        self._out.append(sql)
        return self._cursor.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)
