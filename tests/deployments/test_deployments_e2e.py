"""Run it as operators will, on this machine: a real `prefect server start` on a free port,
`nba-backfill setup` (work pools, blocks, concurrency limits, `prefect deploy` of both
variants), a real process worker, `prefect deployment run …`, then the server's history.

Also the issue's "done" drill: a permanent fault injected into one chunk (through the run's
job variables) fails the run naming the chunk, Slack (a local HTTP sink) hears about it, and
the scheduled rerun deployment — without the fault — fills exactly the failed dates.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.checksum import checksum
from cli.local_server import healthy
from nba_backfill.catalog import PHASE3, PHASE4, TABLES, TDGS, TOGS
from nba_backfill.readiness import is_complete
from nba_backfill.settings import Settings, load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from tests.slack_sink import SlackSink, text_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]
FIRST = (dt.date(2021, 10, 19), dt.date(2021, 11, 5))  # Phase 3 + Phase 4 (4 non-bootstrap days)
FANNED = (dt.date(2021, 11, 6), dt.date(2021, 11, 12))  # two tables, each its own run
FAULTY = (dt.date(2021, 11, 13), dt.date(2021, 11, 26))  # one table, a fault in one chunk
FAULT_DAY = dt.date(2021, 11, 16)
WHOLE = (dt.date(2021, 10, 19), dt.date(2021, 12, 8))
SLACK_BLOCK = "nba-backfill-slack"
GCP_BLOCK = "nba-backfill-gcp"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _tail(path: Path, n: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else ""


def _service_account_key(path: Path) -> None:
    """A syntactically real (and useless) service-account key, so the GcpCredentials block
    validates offline."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "nba-props-platform",
        "private_key_id": "e2e-test",
        "private_key": pem,
        "client_email": "nba-backfill@nba-props-platform.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info))


@dataclass
class Stack:
    api: str
    env: dict[str, str]
    tmp: Path
    warehouse: Path
    sink: SlackSink
    settings: Settings

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def deployment_run(self, name: str, *options: str) -> tuple[int, str, str]:
        """``prefect deployment run NAME … --watch``: (exit code, flow run id, output)."""
        proc = self.run(
            sys.executable,
            "-m",
            "prefect",
            "deployment",
            "run",
            name,
            *options,
            "--watch",
            "--watch-interval",
            "1",
            "--watch-timeout",
            "240",
        )
        output = proc.stdout + proc.stderr
        found = re.search(r"UUID: ([0-9a-f-]{36})", output)
        assert found, output
        return proc.returncode, found.group(1), output

    @contextmanager
    def client(self) -> Iterator[Any]:
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with (
            temporary_settings(updates={PREFECT_API_URL: self.api}),
            get_client(sync_client=True) as client,
        ):
            yield client

    @contextmanager
    def read_warehouse(self) -> Iterator[DuckDBWarehouse]:
        wh = DuckDBWarehouse(
            load_settings(warehouse={"duckdb_path": str(self.warehouse)}), read_only=True
        )
        try:
            yield wh
        finally:
            wh.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, phase2_template: Path) -> Iterator[Stack]:
    """A Prefect server on a free port with its own PREFECT_HOME, and the environment the
    commands, the worker and its flow runs share (a seeded DuckDB copy, Slack → the sink)."""
    tmp = tmp_path_factory.mktemp("e2e")
    warehouse = tmp / "warehouse.duckdb"
    shutil.copy(phase2_template, warehouse)
    key = tmp / "sa-key.json"
    _service_account_key(key)
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    sink = SlackSink()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NBA_BACKFILL_"))}
    server_env = {
        **base,
        "PREFECT_HOME": str(tmp / "server-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": api,
    }
    env = {
        **base,
        "PREFECT_API_URL": api,
        "PREFECT_HOME": str(tmp / "client-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_EXTRA_LOGGERS": "nba_backfill",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
        "NBA_BACKFILL_HOME": str(tmp / "home"),
        "NBA_BACKFILL_WAREHOUSE__DUCKDB_PATH": str(warehouse),
        "NBA_BACKFILL_WAREHOUSE__GCP_CREDENTIALS_BLOCK": GCP_BLOCK,
        "NBA_BACKFILL_DEPLOY__GCP_SERVICE_ACCOUNT_FILE": str(key),
        "NBA_BACKFILL_PREFECT__SLACK_BLOCK": SLACK_BLOCK,
        "NBA_BACKFILL_SLACK_WEBHOOK_URL": sink.url,
        "NBA_BACKFILL_RETRY__INITIAL_WAIT_SECONDS": "0.01",
        "NBA_BACKFILL_RETRY__JITTER_SECONDS": "0",
        # As every test warehouse (tests/conftest.py): production's partition expiration
        # lifted, so the synthetic history of the expiring tables is written.
        "NBA_BACKFILL_WAREHOUSE__DUCKDB_PARTITION_EXPIRATION": "none",
    }
    settings = load_settings(
        warehouse={"gcp_credentials_block": GCP_BLOCK},
        prefect={"slack_block": SLACK_BLOCK},
    )
    log = tmp / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while not healthy(api):
            assert server.poll() is None, f"server exited:\n{_tail(log)}"
            assert time.monotonic() < deadline, f"server not healthy in 120s:\n{_tail(log)}"
            time.sleep(0.5)
        yield Stack(api, env, tmp, warehouse, sink, settings)
    finally:
        sink.close()
        _stop(server, 20)


@pytest.fixture(scope="module")
def deployed(stack: Stack) -> dict[str, Any]:
    """`nba-backfill setup` once: pools, blocks, limits, deployments of both variants."""
    from deployments.setup import snapshot

    proc = stack.run(sys.executable, "-m", "cli", "setup")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with stack.client():
        return snapshot(stack.settings)


def _pause_schedules(stack: Stack, name: str) -> None:
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    with stack.client() as client:
        dep = client.read_deployment_by_name(name)
        for schedule in dep.schedules:
            client.update_deployment_schedule(dep.id, schedule.id, active=False)
        scheduled = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
        )
        for run in scheduled:
            client.delete_flow_run(run.id)


@pytest.fixture(scope="module")
def worker(stack: Stack, deployed: dict[str, Any]) -> Iterator[None]:
    """A process worker on the local pool (stopped before the server). The daily rerun's
    schedule is switched off first, so a 05:30 New York run cannot join the test's runs."""
    _pause_schedules(stack, "rerun-failed-dates/local")
    log, pool = stack.tmp / "worker.log", stack.settings.prefect.local_work_pool
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*PREFECT, "worker", "start", "--type", "process", "--pool", pool],
            cwd=REPO,
            env=stack.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        yield
    finally:
        _stop(proc, 10)


def test_setup_creates_everything_and_a_second_run_changes_nothing(
    stack: Stack, deployed: dict[str, Any]
):
    from deployments.setup import snapshot

    pools = deployed["pools"]
    assert pools["nba-backfill-cloud-run"]["type"] == "cloud-run-v2"
    assert pools["nba-backfill-local"]["type"] == "process"
    gcp = deployed["blocks"][f"gcp-credentials/{GCP_BLOCK}"]
    assert deployed["blocks"][f"slack-incoming-webhook/{SLACK_BLOCK}"]["data"]["url"] == (
        stack.sink.url
    )
    # The credentials stay a reference in the pool, and no key reaches a deployment.
    props = pools["nba-backfill-cloud-run"]["template"]["variables"]["properties"]
    assert props["credentials"]["default"] == {"$ref": {"block_document_id": gcp["id"]}}
    assert props["region"]["default"] == "us-west2"
    assert "private_key" not in json.dumps(deployed["deployments"])
    assert len(deployed["limits"]) == len(TABLES)
    assert all(v == {"limit": 2, "active": True} for v in deployed["limits"].values())

    deps = deployed["deployments"]
    assert set(deps) == {
        f"{flow}/{variant}"
        for flow in ("backfill", "rerun-failed-dates", "validate", "backfill-table")
        for variant in ("cloud-run", "local")
    }
    prod = deps["backfill/cloud-run"]
    assert prod["work_pool"] == "nba-backfill-cloud-run"
    jv = prod["job_variables"]
    assert jv["image"] == stack.settings.deploy.image
    assert (jv["region"], jv["cpu"], jv["memory"], jv["timeout"]) == (
        "us-west2",
        "2000m",
        "4Gi",
        86400,
    )
    assert jv["service_account_name"] == "nba-backfill@nba-props-platform.iam.gserviceaccount.com"
    assert prod["pull_steps"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "/opt/nba-backfill"}}
    ]
    assert set(prod["parameter_schema"]["properties"]) >= {
        "start",
        "end",
        "tables",
        "chunk_days",
        "max_concurrency",
        "skip_phase4",
        "fan_out",
    }
    local = deps["backfill/local"]
    assert local["work_pool"] == "nba-backfill-local"
    assert local["pull_steps"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
    ]
    for variant in ("cloud-run", "local"):
        [(schedule, active)] = deps[f"rerun-failed-dates/{variant}"]["schedules"]
        assert json.loads(schedule)["cron"] == "30 5 * * *"
        assert json.loads(schedule)["timezone"] == "America/New_York" and active

    again = stack.run(sys.executable, "-m", "cli", "setup")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing changed" in again.stdout
    with stack.client():
        assert snapshot(stack.settings) == deployed


def _flow_run(stack: Stack, run_id: str) -> Any:
    with stack.client() as client:
        return client.read_flow_run(run_id)


def _descendants(stack: Stack, run_id: str) -> tuple[list[Any], list[Any]]:
    """(subflow runs, task runs) under a flow run, three levels deep."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterParentFlowRunId,
    )

    with stack.client() as client:
        subflows, frontier = [], [run_id]
        for _ in range(3):
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=frontier)
                )
            )
            if not children:
                break
            subflows += children
            frontier = [c.id for c in children]
        ids = [run_id, *(s.id for s in subflows)]
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
    return subflows, tasks


def _artifacts(stack: Stack, run_id: str) -> dict[str, Any]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with stack.client() as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return {a.key: a for a in arts if a.key}


def _complete(wh: DuckDBWarehouse, table: str, start: dt.date, end: dt.date) -> set[dt.date]:
    spec = TABLES[table]
    prof = wh.date_profile(spec, start, end)
    return {d for d, g in wh.schedule(start, end).items() if is_complete(spec, prof.get(d), g)}


def test_backfill_deployment_run_completes_and_its_history_is_on_the_server(
    stack: Stack, worker: None
):
    start, end = FIRST
    code, run_id, output = stack.deployment_run(
        "backfill/local",
        "--param",
        f"start={start}",
        "--param",
        f"end={end}",
        "--param",
        "chunk_days=7",
    )
    assert code == 0, output + _tail(stack.tmp / "worker.log")
    run = _flow_run(stack, run_id)
    assert run.state.is_completed()
    subflows, tasks = _descendants(stack, run_id)
    names = sorted(s.name for s in subflows)
    assert names[0].startswith("phase3 · ") and sum(n.startswith("phase4 · g") for n in names) == 3
    assert all(s.state.is_completed() for s in subflows)
    chunks = [t for t in tasks if t.name.startswith(("phase3 · ", "phase4 · "))]
    tables_seen = {t.name.split(" · ")[1] for t in chunks}
    assert tables_seen == {s.table for s in [*PHASE3, *PHASE4]}
    assert all(t.state.is_completed() for t in chunks)
    arts = _artifacts(stack, run_id)
    assert {"backfill-summary", "backfill-report", "phase3-gate", "phase4-gate"} <= set(arts)
    with stack.read_warehouse() as wh:
        for spec in PHASE3:
            assert _complete(wh, spec.name, start, end) == set(wh.schedule(start, end)), spec.name
    # Slack: the finish message, with per-table coverage and a link to this run.
    payload = stack.sink.wait_for(lambda p: "completed" in p["text"] and str(start) in p["text"])
    shown = text_of(payload)
    assert f"{stack.api.removesuffix('/api')}/runs/flow-run/{run_id}" in shown
    assert "team_defense_game_summary" in shown and "table-dates filled" in shown


def test_fan_out_runs_each_table_as_its_own_deployment_run(stack: Stack, worker: None):
    start, end = FANNED
    code, run_id, output = stack.deployment_run(
        "backfill/local",
        "--param",
        f"start={start}",
        "--param",
        f"end={end}",
        "--param",
        f'tables=["{TOGS}", "{TDGS}"]',
        "--param",
        "skip_phase4=true",
        "--param",
        "fan_out=true",
    )
    assert code == 0, output + _tail(stack.tmp / "worker.log")
    subflows, tasks = _descendants(stack, run_id)
    children = [s for s in subflows if s.name.startswith("backfill-table · ")]
    assert sorted(c.name.split(" · ")[1] for c in children) == sorted([TOGS, TDGS])
    with stack.client() as client:
        deployment = client.read_deployment_by_name("backfill-table/local")
    assert all(c.deployment_id == deployment.id and c.state.is_completed() for c in children)
    assert {t.name.split(" · ")[1] for t in tasks if t.name.startswith("phase3 · ")} == {
        TABLES[TOGS].table,
        TABLES[TDGS].table,
    }
    with stack.read_warehouse() as wh:
        for table in (TOGS, TDGS):
            assert _complete(wh, table, start, end) == set(wh.schedule(start, end)), table


def test_permanent_fault_fails_the_run_and_the_rerun_fills_exactly_its_dates(
    stack: Stack, worker: None
):
    start, end = FAULTY
    fault = {"NBA_BACKFILL_FAULTS__PERMANENT": f"team_defense_game_summary:{FAULT_DAY}"}
    code, run_id, output = stack.deployment_run(
        "backfill/local",
        "--param",
        f"start={start}",
        "--param",
        f"end={end}",
        "--param",
        f'tables=["{TDGS}"]',
        "--param",
        "skip_phase4=true",
        "--param",
        "chunk_days=7",
        "--job-variable",
        f"env={json.dumps(fault)}",
    )
    assert code == 1, output + _tail(stack.tmp / "worker.log")
    run = _flow_run(stack, run_id)
    assert run.state.is_failed()
    label = f"phase3 · team_defense_game_summary · {start}..{start + dt.timedelta(days=6)}"
    assert label in run.state.message
    _, tasks = _descendants(stack, run_id)
    failed_tasks = [t.name for t in tasks if t.state.is_failed()]
    assert failed_tasks == [label]

    payload = stack.sink.wait_for(lambda p: "failed" in p["text"] and str(start) in p["text"])
    shown = text_of(payload)
    assert label in shown and "InjectedFault" in shown
    assert "prefect deployment run 'backfill/local' --param start=" in shown
    assert stack.sink.url not in json.dumps(payload)

    with stack.read_warehouse() as wh:
        failed = set(wh.schedule(start, start + dt.timedelta(days=6)))
        tdgs_before = _complete(wh, TDGS, *WHOLE)
        others = {s.name: checksum(wh, s, *WHOLE) for s in [*PHASE3, *PHASE4] if s.name != TDGS}
        untouched = [
            (WHOLE[0], start - dt.timedelta(days=1)),
            (start + dt.timedelta(days=7), WHOLE[1]),
        ]
        tdgs_untouched = [checksum(wh, TABLES[TDGS], lo, hi) for lo, hi in untouched]
    assert failed and not failed & tdgs_before and FAULT_DAY in failed

    code, rerun_id, output = stack.deployment_run("rerun-failed-dates/local")
    assert code == 0, output + _tail(stack.tmp / "worker.log")
    with stack.read_warehouse() as wh:
        assert _complete(wh, TDGS, *WHOLE) == tdgs_before | failed
        assert [checksum(wh, TABLES[TDGS], lo, hi) for lo, hi in untouched] == tdgs_untouched
        assert {
            s.name: checksum(wh, s, *WHOLE) for s in [*PHASE3, *PHASE4] if s.name != TDGS
        } == others
    report = _artifacts(stack, rerun_id)["rerun-report"].data
    assert "team_defense_game_summary" in report and "Completed" in report
    rerun_payload = stack.sink.wait_for(lambda p: p["text"].startswith("Rerun of failed dates"))
    assert f"{len(failed)} fixed, 0 still failing" in rerun_payload["text"]
