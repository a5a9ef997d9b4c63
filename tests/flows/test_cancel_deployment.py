"""A backfill deployment run cancelled through the Prefect API while its Phase 3 chunks write
(issue 17, item 3), end to end: the backfill flow deployed to a ``process`` work pool of the
test server, a real worker running it on a seeded DuckDB, two chunks paused mid-write (the
delay fault: after the DELETE, before the COMMIT) while the run's other chunks complete, then
``Cancelling`` set through the API as the UI and ``prefect flow-run cancel`` do.

The run must end Cancelled with nothing of it left Running or Pending, hold no concurrency
slot and no run lock afterwards, have written whole dates only (the paused writes roll back),
and say how many dates it filled and how many it left; a second run then fills exactly the
dates the first left."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nba_backfill.catalog import TABLES, TDGS, TOGS
from nba_backfill.planner import Planner
from nba_backfill.readiness import complete_dates, is_complete
from nba_backfill.settings import Settings
from nba_backfill.validation import validate
from nba_backfill.warehouse import close_shared, shared_warehouse
from tasks.runlock import lock_name
from tests.flows.test_interrupt import _runs_under
from tests.worker import deploy_backfill, start_worker, stop_worker, wait_final

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(900)]

START, END = dt.date(2021, 10, 19), dt.date(2021, 10, 24)
PAUSED = dt.date(2021, 10, 23)  # in each table's last chunk (2-day chunks from the 19th)
FILLED = (START, PAUSED - dt.timedelta(days=1))  # the chunks that complete before the cancel
LEFT = (PAUSED, END)
PARAMS = {
    "start": START.isoformat(),
    "end": END.isoformat(),
    "tables": [TOGS, TDGS],
    "chunk_days": 2,
    "skip_phase4": True,
}


@pytest.fixture
def worker_home(seeded: Settings) -> Iterator[Settings]:
    close_shared()  # the flow run's process takes the warehouse file
    yield seeded
    close_shared()


def _chunks(run_id: Any) -> list[Any]:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        _, tasks = _runs_under(client, run_id)
    return [t for t in tasks if t.name.startswith("phase3 · ")]


def _paused_while_the_rest_completed(run_id: Any) -> bool:
    """Both tables' last chunks are Running (paused mid-write), every other chunk Completed."""
    chunks = _chunks(run_id)
    last = [t for t in chunks if str(PAUSED) in t.name]
    rest = [t for t in chunks if t not in last]
    return (
        len(last) == 2
        and len(rest) == 4
        and all(t.state is not None and t.state.is_running() for t in last)
        and all(t.state is not None and t.state.is_completed() for t in rest)
    )


def _limits() -> dict[str, int]:
    """Every global concurrency limit on the server: name -> slots held."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return {g.name: g.active_slots for g in client.read_global_concurrency_limits(limit=200)}


def _days(lo: dt.date, hi: dt.date, schedule: dict[dt.date, int]) -> set[dt.date]:
    return {d for d, games in schedule.items() if lo <= d <= hi and games > 0}


def test_a_backfill_cancelled_through_the_api_mid_phase3(worker_home: Settings, tmp_path: Path):
    from prefect import get_client
    from prefect.deployments import run_deployment
    from prefect.states import Cancelling

    from deployments.setup import ensure_write_limits

    with get_client(sync_client=True) as client:
        list(ensure_write_limits(client, worker_home))  # as `nba-backfill setup` leaves them
    pause = {
        "NBA_BACKFILL_FAULTS__DELAY": f"{TOGS}:{PAUSED},{TDGS}:{PAUSED}",
        "NBA_BACKFILL_FAULTS__DELAY_SECONDS": "600",
        # A paused write holds its DuckDB write slot: two paused, one for the rest to complete.
        "NBA_BACKFILL_WAREHOUSE__DUCKDB_WRITE_SLOTS": "3",
    }
    pool = deploy_backfill(worker_home, pause, prefix="cancel")
    run = run_deployment(f"backfill/{pool}", parameters=PARAMS, timeout=0)
    log = tmp_path / "worker.log"
    worker = start_worker(pool, log, run_once=False)
    try:
        deadline = time.monotonic() + 600
        while not _paused_while_the_rest_completed(run.id):
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        assert _limits()[lock_name(worker_home)] == 1  # the run holds its lock
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run.id, Cancelling(), force=True)
        state = wait_final(run.id, 300, log)
    finally:
        stop_worker(worker)
    shown = f"{state}\n{log.read_text(errors='replace')[-4000:]}"

    # 1. Cancelled, and everything under it final: the paused chunks Cancelled, none Running.
    assert state.is_cancelled(), shown
    with get_client(sync_client=True) as client:
        subflows, tasks = _runs_under(client, run.id)
    assert [s.name for s in subflows] == [f"phase3 · {START}..{END}"]
    unfinished = [(r.name, r.state and r.state.name) for r in [*subflows, *tasks]]
    assert all(r.state is not None and r.state.is_final() for r in [*subflows, *tasks]), unfinished
    assert subflows[0].state.is_cancelled(), unfinished
    chunks = {t.name: t.state.name for t in tasks if t.name.startswith("phase3 · ")}
    paused = sorted(n for n, s in chunks.items() if s == "Cancelled")
    assert len(chunks) == 6 and sorted(chunks.values()).count("Completed") == 4, chunks
    assert paused == [
        f"phase3 · {TDGS.split('.')[1]} · {PAUSED}..{END}",
        f"phase3 · {TOGS.split('.')[1]} · {PAUSED}..{END}",
    ], unfinished

    # 2. No slot held: the run lock and every per-table write limit are free.
    limits = _limits()
    assert lock_name(worker_home) in limits and f"nba-backfill-writes:{TOGS}" in limits
    assert {n: s for n, s in limits.items() if s} == {}

    # 3. Whole dates only: the paused writes rolled back; every date holding rows is complete.
    close_shared()
    wh = shared_warehouse()
    schedule = wh.schedule(START, END)
    for table in (TOGS, TDGS):
        spec = TABLES[table]
        assert complete_dates(wh, spec, schedule, START, END) == _days(*FILLED, schedule), table
        profile = wh.date_profile(spec, START, END)
        assert all(is_complete(spec, p, schedule.get(d, 0)) for d, p in profile.items()), table
        assert not set(profile) & _days(*LEFT, schedule), table
    filled, left = len(_days(*FILLED, schedule)), len(_days(*LEFT, schedule))
    assert filled and left
    # ... and the run says so, in its summary artifacts: per table, and in its reason.
    summary = _artifact(run.id, "backfill-summary")
    assert summary.description == f"Backfill {START}..{END}: Cancelled"
    rows = json.loads(summary.data) if isinstance(summary.data, str) else summary.data
    assert {r["table"]: (r["filled"], r["failed"]) for r in rows} == {
        TOGS: (filled, left),
        TDGS: (filled, left),
    }
    report = _artifact(run.id, "backfill-report").data
    assert f"cancelled: {2 * filled} table-date(s) filled, {2 * left} not filled" in report

    # The next run takes the lock and fills exactly what the cancelled one left.
    plan = Planner(wh).plan(START, END, [TOGS, TDGS], 2, phases=(3,))
    assert {t: set(p.to_fill) for t, p in plan.tables.items()} == {
        TOGS: _days(*LEFT, schedule),
        TDGS: _days(*LEFT, schedule),
    }
    from flows.backfill import backfill

    second = backfill(**PARAMS, return_state=True)  # type: ignore[arg-type]
    assert second.is_completed(), second.message
    assert {r["table"]: r["filled"] for r in second.result()["tables"]} == {
        TOGS: left,
        TDGS: left,
    }
    assert validate(shared_warehouse(), 3, START, END, [TOGS, TDGS]).ok
    assert {n: s for n, s in _limits().items() if s} == {}


def _artifact(run_id: Any, key: str) -> Any:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    [art] = [a for a in arts if a.key == key]
    return art
