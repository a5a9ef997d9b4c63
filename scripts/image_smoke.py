"""The host side of `make image`'s smoke run (scripts/image.sh), with the project's environment.

``seed PATH START END``      a DuckDB warehouse with synthetic Phase 2 through END and empty
                             Phase 3/4 tables (what the image's run fills);
``create-run DEPLOYMENT START END``
                             a flow run of the deployment, moved to Pending as the Cloud Run
                             worker does before it starts the job; prints the run's id;
``check RUN_ID``             the run ended Completed with Completed subflows, fill-chunk task
                             runs and the backfill's artifacts; one line either way, exit 1
                             when not.

The Prefect server is the one of PREFECT_API_URL. Failures are one line on stderr, exit 1.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from typing import Any
from uuid import UUID

# Artifacts every backfill run with Phase 4 writes (flows/backfill.py, tasks/validation.py).
ARTIFACTS = {"backfill-summary", "backfill-report", "phase3-gate", "phase4-gate"}


class SmokeFailure(Exception):
    pass


def seed(path: str, start: str, end: str) -> None:
    from devtools.synthetic import seed_phase2
    from nba_backfill.catalog import TABLES
    from nba_backfill.settings import load_settings
    from nba_backfill.warehouse.duckdb import DuckDBWarehouse

    wh = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": path}))
    try:
        rows = seed_phase2(wh, seed=7, final_through=dt.date.fromisoformat(end))
        wh.ensure_tables(list(TABLES.values()))
    finally:
        wh.close()
    print(f"seeded {sum(rows.values())} Phase 2 rows through {end} (run: {start}..{end})")


def create_run(deployment: str, start: str, end: str) -> None:
    from prefect import get_client
    from prefect.states import Pending

    with get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name(deployment)
        run = client.create_flow_run_from_deployment(
            dep.id, parameters={"start": start, "end": end}
        )
        result: Any = client.set_flow_run_state(run.id, Pending())
        if result.state is None or not result.state.is_pending():
            raise SmokeFailure(f"flow run {run.id} refused Pending: {result.details}")
    print(run.id)


def check(run_id: str) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterParentFlowRunId,
    )

    rid = UUID(run_id)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(rid)
        state = run.state
        if state is None or not state.is_completed():
            name = state.name if state else "no state"
            msg = (state.message or "").splitlines()[0] if state and state.message else ""
            raise SmokeFailure(f"flow run {run.name} ended {name}: {msg}".rstrip(": "))
        subflows = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[rid])
            )
        )
        if not subflows:
            raise SmokeFailure(f"flow run {run.name} has no subflow runs")
        unfinished = [f.name for f in subflows if not (f.state and f.state.is_completed())]
        if unfinished:
            raise SmokeFailure(f"subflow runs not Completed: {', '.join(unfinished)}")
        ids = [rid, *(f.id for f in subflows)]
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=200
        )
        # Chunk runs are named after their chunk (flows/phases.py); the key names the task.
        chunks = [t for t in tasks if t.task_key.startswith("fill_chunk-")]
        if not chunks:
            raise SmokeFailure(f"flow run {run.name} ran no fill-chunk task")
        failed = [t.name for t in chunks if not (t.state and t.state.is_completed())]
        if failed:
            raise SmokeFailure(f"chunk task runs not Completed: {', '.join(failed)}")
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids))
        )
        missing = ARTIFACTS - {a.key for a in arts if a.key}
        if missing:
            raise SmokeFailure(f"flow run {run.name} lacks artifacts {sorted(missing)}")
    print(
        f"flow run {run.name}: Completed, {len(subflows)} subflows, "
        f"{len(chunks)} chunk task runs, {len(arts)} artifacts"
    )


COMMANDS: dict[str, tuple[Callable[..., None], int]] = {
    "seed": (seed, 3),
    "create-run": (create_run, 3),
    "check": (check, 1),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS or len(argv) - 1 != COMMANDS[argv[0]][1]:
        print(f"usage: image_smoke.py {{{'|'.join(COMMANDS)}}} ARGS…", file=sys.stderr)
        return 2
    func, _ = COMMANDS[argv[0]]
    try:
        func(*argv[1:])
    except SmokeFailure as exc:
        print(f"image smoke: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
