"""Prefect's fixed cost per run, cut where it buys nothing (issue 17 item 6): the phase
subflows send no heartbeat of their own (their parent's says the process lives), a phase with
no chunks starts no subflow, and the progress artifact is updated per tenth, not per chunk."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from prefect import flow, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from prefect.settings import get_current_settings

from flows.phases import InProcess, progress_due, with_runner
from nba_backfill.planner import Plan
from nba_backfill.settings import Settings
from nba_backfill.summary import RunSummary

server = pytest.mark.usefixtures("prefect_server")

DAY = dt.date(2021, 10, 19)


def children(flow_run_id: Any) -> list[str]:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])
            )
        )
    return sorted(r.name for r in runs)


@flow(name="heartbeat-probe")
def probe() -> int | None:
    return get_current_settings().flows.heartbeat_frequency


@flow(name="heartbeat-parent")
def parent() -> tuple[int | None, int | None]:
    params = SimpleNamespace(max_concurrency=2)
    return get_current_settings().flows.heartbeat_frequency, with_runner(probe, params)()


@server
@pytest.mark.timeout(900)
def test_a_phase_subflow_has_no_heartbeat_of_its_own_but_its_parent_keeps_one():
    own, sub = parent()
    assert own == get_current_settings().flows.heartbeat_frequency == 180  # Prefect's default
    assert sub is None
    assert get_current_settings().flows.heartbeat_frequency == 180  # restored after it


@flow(name="empty-phase3-parent")
def empty_phase3() -> int:
    params = SimpleNamespace(max_concurrency=2)
    summary = RunSummary(DAY, DAY)
    InProcess(params).phase3(Plan(DAY, DAY, 7, {}), summary)  # type: ignore[arg-type]
    return len(summary.outcomes)


@server
@pytest.mark.timeout(900)
def test_a_phase_with_no_chunks_starts_no_subflow():
    state = empty_phase3(return_state=True)
    assert state.result() == 0
    assert children(state.state_details.flow_run_id) == []


@server
@pytest.mark.timeout(900)
def test_a_rerun_with_nothing_to_fill_starts_no_phase3_subflow(seeded: Settings):
    from flows.backfill import backfill

    end = DAY + dt.timedelta(days=1)
    first = backfill(DAY, end, skip_phase4=True, return_state=True)
    assert first.is_completed(), first.message
    assert [n for n in children(first.state_details.flow_run_id) if n.startswith("phase3")]
    again = backfill(DAY, end, skip_phase4=True, return_state=True)
    assert again.is_completed(), again.message
    assert all(r["filled"] == 0 for r in again.result()["tables"])
    assert children(again.state_details.flow_run_id) == []


@pytest.mark.parametrize(
    ("total", "updates"),
    [(1, [1]), (3, [1, 2, 3]), (25, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25])],
)
def test_progress_is_updated_per_tenth_and_at_the_end(total: int, updates: list[int]):
    assert [n for n in range(1, total + 1) if progress_due(n, total)] == updates


def test_a_long_run_updates_its_progress_about_ten_times():
    assert sum(progress_due(n, 150) for n in range(1, 151)) == 10
