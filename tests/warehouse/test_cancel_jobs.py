"""Cancel reaches BigQuery: every job a run starts carries its flow run id as a label, and a
cancelled (or crashed) run cancels its jobs still pending or running, and only those.

The emulator runs each job to its end before answering ``jobs.insert`` (it has no running
jobs, and its ``jobs.cancel`` returns the job as it is), so ``list_jobs(state_filter=…)``
would always be empty there; and it keeps no job labels (``jobs.list`` answers
``labels: {}``). :class:`RecordingClient` — a real ``google.cloud.bigquery.Client`` on the
emulator — fills in those two gaps only: it remembers the labels each job was submitted with
(the job configuration the adapter built) and gives them back on the listed jobs, lists the
project's jobs whatever their state (as if the run's jobs were still running), and records
the list and cancel calls; the jobs, the listing and the cancel calls are the emulator's.
The hook is run by a real flow on the Prefect test server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from nba_backfill.settings import Settings
from nba_backfill.warehouse import close_shared, shared_warehouse
from nba_backfill.warehouse.base import run_labels, set_run_labels
from nba_backfill.warehouse.bigquery import BigQueryWarehouse
from nba_backfill.warehouse.wrapper import innermost
from tests.emulator import PROJECT, emulator_settings
from tests.flows.test_backfill_bigquery import _bigquery_env


class RecordingClient(bigquery.Client):
    def __init__(self, endpoint: str) -> None:
        super().__init__(
            project=PROJECT,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=endpoint.rstrip("/")),
        )
        self.listed: list[str | None] = []
        self.cancelled: list[str] = []
        self.sent_labels: dict[str, dict[str, str]] = {}

    def query(self, query: str, job_config: Any = None, *args: Any, **kwargs: Any) -> Any:
        job = super().query(query, job_config, *args, **kwargs)
        self.sent_labels[job.job_id] = dict(getattr(job_config, "labels", None) or {})
        return job

    def jobs(self) -> list[Any]:
        """The emulator's jobs of the project, each with the labels it was submitted with."""
        out = []
        for job in super().list_jobs():
            job._properties.setdefault("configuration", {})["labels"] = self.sent_labels.get(
                job.job_id, {}
            )
            out.append(job)
        return out

    def list_jobs(self, *args: Any, state_filter: str | None = None, **kwargs: Any) -> Any:
        self.listed.append(state_filter)
        # The emulator's jobs are all done: list them all, as if still running.
        return self.jobs()

    def cancel_job(self, job_id: Any, *args: Any, **kwargs: Any) -> Any:
        self.cancelled.append(job_id)
        return super().cancel_job(job_id, *args, **kwargs)


@pytest.fixture
def labels_reset() -> Iterator[None]:
    before = run_labels()
    yield
    set_run_labels(before)


def test_jobs_carry_the_run_label_and_only_that_runs_jobs_are_cancelled(
    bq_emulator: str, labels_reset: None
) -> None:
    client = RecordingClient(bq_emulator)
    wh = BigQueryWarehouse(emulator_settings(bq_emulator, "c" + uuid.uuid4().hex[:6]), client)
    ours, theirs = "run-" + uuid.uuid4().hex[:8], "run-" + uuid.uuid4().hex[:8]
    set_run_labels({"backfill_run_id": ours})
    wh.fetch("SELECT 1 AS x")
    wh.fetch("SELECT 2 AS x", labels={"table": "nba_analytics.team_offense_game_summary"})
    set_run_labels({"backfill_run_id": theirs})
    wh.fetch("SELECT 3 AS x")

    jobs = {j.job_id: j.labels for j in client.jobs()}
    mine = sorted(j for j, labels in jobs.items() if labels.get("backfill_run_id") == ours)
    other = [j for j, labels in jobs.items() if labels.get("backfill_run_id") == theirs]
    assert len(mine) == 2 and len(other) == 1
    assert all(jobs[j]["app"] == "nba-backfill" for j in mine)

    cancelled = wh.cancel_jobs({"backfill_run_id": ours})

    assert sorted(cancelled) == mine == sorted(client.cancelled)
    assert client.listed == ["running", "pending"]
    assert other[0] not in cancelled


@pytest.mark.timeout(600)
@pytest.mark.usefixtures("prefect_server")
def test_a_cancelled_run_cancels_its_bigquery_jobs(
    bq_emulator: str, monkeypatch: pytest.MonkeyPatch, labels_reset: None
) -> None:
    from prefect import flow, get_client
    from prefect.states import Cancelled

    from flows import hooks
    from tasks import common

    _bigquery_env(monkeypatch, bq_emulator, "k" + uuid.uuid4().hex[:6])
    client = RecordingClient(bq_emulator)
    bq = innermost(shared_warehouse())
    assert isinstance(bq, BigQueryWarehouse)
    bq._client = client

    @flow(name="cancel-probe")
    def probe() -> str:
        from prefect.runtime import flow_run

        common.label_jobs()
        common.warehouse().fetch("SELECT 1 AS x")  # a job of this run, "still running"
        return str(flow_run.id)

    try:
        other = "run-" + uuid.uuid4().hex[:8]
        set_run_labels({"backfill_run_id": other})
        bq.fetch("SELECT 2 AS x")  # another run's job: left alone
        run_id = probe()
        # Prefect runs on_cancellation hooks where it cancels a run (a runner or worker);
        # the hook is called here as they call it, with the run as the server has it.
        with get_client(sync_client=True) as api:
            flow_run = api.read_flow_run(UUID(run_id))
        hooks.close_children(probe, flow_run, Cancelled(message="cancelled from the UI"))

        jobs = {j.job_id: j.labels for j in client.jobs()}
        mine = sorted(j for j, lab in jobs.items() if lab.get("backfill_run_id") == run_id)
        assert len(mine) == 1
        assert sorted(client.cancelled) == mine
        assert client.listed == ["running", "pending"]
    finally:
        close_shared()


def test_duckdb_has_no_jobs_to_cancel(seeded: Settings) -> None:
    assert shared_warehouse().cancel_jobs({"backfill_run_id": "x"}) == []
