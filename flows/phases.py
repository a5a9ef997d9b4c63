"""Phase 3 and the Phase 4 groups run in this process: each phase is a subflow whose chunks
are concurrent tasks on a thread pool, submitted in dependency order.

:class:`InProcess` is how a backfill runs its phases by default; ``flows/fanout.py`` holds the
other way (one deployment run per table), and the children it starts run these same subflows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from prefect import flow
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from nba_backfill.catalog import PHASE4_GROUPS
from nba_backfill.errors import DatesFailed
from nba_backfill.params import RunParams
from nba_backfill.planner import Chunk, Plan, Selection, hold_back
from nba_backfill.producers import stop_all as stop_producers
from nba_backfill.readiness import ScheduleReads
from nba_backfill.rerun import chunk_run_name
from nba_backfill.runner import chunk_span, launch_stopped
from nba_backfill.summary import ChunkOutcome, RunSummary
from tasks.chunks import fill_chunk
from tasks.cost import add_estimate
from tasks.planning import plan_backfill


def error_class(state: State[Any], fut: PrefectFuture[Any]) -> str | None:
    """The class name of the exception a failed run raised; the state's name when there is
    none to read (a crash)."""
    try:
        exc = fut.result(raise_on_failure=False)
    except Exception:  # a crashed task may not have a result to read
        return state.name
    return type(exc).__name__ if isinstance(exc, BaseException) else state.name


def narrowed_report(fut: PrefectFuture[Any]) -> dict[str, Any] | None:
    """The chunk report of a chunk narrowed to its bad dates (``DatesFailed``): its good
    dates were filled and count as such. None for a chunk that failed whole."""
    try:
        exc = fut.result(raise_on_failure=False)
    except Exception:
        return None
    return dict(exc.report) if isinstance(exc, DatesFailed) else None


def run_chunks(
    plan: Plan, chunks: list[Chunk], phase: int, progress_key: str, fail_fast: bool = False
) -> list[ChunkOutcome]:
    """Submit every chunk (upstream chunks first via ``wait_for``), let them run concurrently
    under the flow's task runner, and resolve every future: a failed chunk never stops the
    others, and nothing is left unresolved. Each chunk task run is named by its phase, table
    and dates (``nba_backfill.rerun.chunk_run_name``): that is how a rerun finds it. It has no
    tags: Prefect would take a tag-concurrency lease for it before it runs (see there).
    ``fail_fast``: the first permanent failure stops the chunks not yet started
    (``tasks.chunks.fill_chunk``)."""
    futures: dict[str, PrefectFuture[Any]] = {}
    by_future: dict[Any, Chunk] = {}
    for chunk in chunks:  # planner order = dependency order
        ups = [futures[u] for u in plan.upstream.get(chunk.id, []) if u in futures]
        # The plan's schedule reads, this chunk's slice: two jobs fewer per chunk.
        reads = plan.reads.sliced(*chunk_span(chunk.table, chunk.dates)) if plan.reads else None
        fut = fill_chunk.with_options(
            task_run_name=chunk_run_name(phase, chunk.table, chunk.start, chunk.end),
        ).submit(  # type: ignore[call-overload]
            chunk.table,
            list(chunk.dates),
            fail_fast=fail_fast,
            reads=reads,
            # The inputs no chunk of this plan writes, as the plan read them: one profile
            # read fewer per chunk (a Phase 4 chunk's inputs are Phase 3's or an earlier
            # group's).
            settled=plan.settled_for(chunk.table, chunk.dates) or None,
            wait_for=ups,
        )
        futures[chunk.id] = fut
        by_future[fut.task_run_id] = chunk
    progress_id = create_progress_artifact(
        progress=0.0, key=progress_key, description=f"Phase {phase} chunks finished (%)"
    )
    outcomes: list[ChunkOutcome] = []
    try:
        _outcomes(futures, by_future, phase, progress_id, outcomes)
    except BaseException:
        # Interrupted (Ctrl-C, a termination signal) while chunks run: the task runner's exit
        # waits for its threads, and one waiting on an external processor would wait for its
        # timeout. The processors stop first, with their process groups.
        stop_producers()
        _interrupted.setdefault(str(flow_run.root_flow_run_id), []).extend(
            cut_short(futures, by_future, phase, outcomes)
        )
        raise
    return outcomes


# Root flow run id -> the outcomes of the chunks of a phase that was interrupted (a cancel, a
# termination signal): its subflow never returns them, the parent reads them here
# (:func:`interrupted_outcomes`) so its summary says what was filled and what was not.
_interrupted: dict[str, list[ChunkOutcome]] = {}


def interrupted_outcomes(root_flow_run_id: str) -> list[ChunkOutcome]:
    """The chunk outcomes the run's interrupted phases left (and forget them)."""
    return _interrupted.pop(root_flow_run_id, [])


def cut_short(
    futures: dict[str, PrefectFuture[Any]],
    by_future: dict[Any, Chunk],
    phase: int,
    outcomes: list[ChunkOutcome],
) -> list[ChunkOutcome]:
    """The account of an interrupted phase: the outcomes collected so far, a chunk that
    completed meanwhile with its report, and every other chunk not run (a chunk cut off
    mid-write rolled back: its write is one atomic replace)."""
    seen = {o.chunk.id for o in outcomes}
    out = list(outcomes)
    for fut in futures.values():
        chunk = by_future[fut.task_run_id]
        if chunk.id in seen:
            continue
        if fut.state.is_completed():  # the local state: no API call while interrupted
            try:
                out.append(ChunkOutcome(chunk, phase, "completed", report=fut.result()))
                continue
            except Exception:
                pass
        out.append(ChunkOutcome(chunk, phase, "not_run", error="not run: the run was interrupted"))
    return out


def _outcomes(
    futures: dict[str, PrefectFuture[Any]],
    by_future: dict[Any, Chunk],
    phase: int,
    progress_id: Any,
    outcomes: list[ChunkOutcome],
) -> None:
    """Collect each chunk's outcome into ``outcomes`` as it finishes (in place: an interrupted
    phase still has those collected so far)."""
    for n, fut in enumerate(as_completed(list(futures.values())), start=1):
        chunk = by_future[fut.task_run_id]
        state = fut.state
        if state.name != "NotReady":  # as_completed can yield before the final state lands
            fut.wait()
            state = fut.state
        if state.is_completed():
            outcomes.append(ChunkOutcome(chunk, phase, "completed", report=fut.result()))
        elif state.is_failed() or state.is_crashed():
            msg = str(state.message or state.name)
            klass = error_class(state, fut)
            # A chunk the run's byte budget did not let start (nba_backfill/budget.py) never ran.
            status = "not_run" if klass == "OverBudget" else "failed"
            outcomes.append(
                ChunkOutcome(
                    chunk,
                    phase,
                    status,
                    report=narrowed_report(fut) if status == "failed" else None,
                    error=msg,
                    error_class=klass,
                )
            )
        elif state.is_cancelled() and str(state.message or "").startswith("not run:"):
            outcomes.append(ChunkOutcome(chunk, phase, "not_run", error=state.message))
        else:  # an upstream chunk failed, so this one never started
            outcomes.append(
                ChunkOutcome(chunk, phase, "not_run", error="not run: an upstream chunk failed")
            )
        if progress_id is not None and progress_due(n, len(futures)):
            update_progress_artifact(progress_id, 100.0 * n / max(1, len(futures)))


PROGRESS_STEPS = 10


def progress_due(finished: int, total: int) -> bool:
    """Whether the progress artifact is updated after the ``finished``-th of ``total`` chunks:
    at each tenth and at the end, not after every chunk — each update is an API call on the
    thread collecting outcomes, and a run of ~150 chunks made ~150 of them."""
    step = max(1, total // PROGRESS_STEPS)
    return finished == total or finished % step == 0


@flow(name="phase3", flow_run_name="phase3 · {params.start}..{params.end}")
def phase3(params: RunParams, plan: Plan) -> list[ChunkOutcome]:
    """Phase 3: per-table × per-chunk tasks, concurrent, dependency-ordered."""
    return run_chunks(plan, plan.phase_chunks(3), 3, "phase3-progress", params.fail_fast)


@flow(name="phase4-group", flow_run_name="phase4 · g{group} · {params.start}..{params.end}")
def phase4_group(
    params: RunParams,
    group: int,
    only: dict[str, list[dt.date]] | None = None,
    select: Selection | None = None,
    hold: dict[str, dict[dt.date, str]] | None = None,
    reads: ScheduleReads | None = None,
) -> tuple[Plan, list[ChunkOutcome]]:
    """One Phase 4 dependency group, planned when it starts (its inputs were just written).
    ``only`` (table -> dates) narrows it to those dates: a rerun of failed dates. ``select``
    (a reprocess mode) plans the run's selection, of this group's tables. ``hold`` (table ->
    date -> reason, the per-date gate's) takes those dates out of the plan
    (``planner.hold_back``): they stay skipped with their reason. ``reads``: the run's schedule
    reads, taken instead of reading them again (``planner.read_schedule``)."""
    run_tables = params.phase_tables(4)
    names = [
        t.name
        for t in PHASE4_GROUPS[group - 1]
        if t.name in run_tables and (only is None or t.name in only)
    ]
    if not names:
        return Plan(params.start, params.end, params.chunk_days, {}), []
    if select is not None:  # the selection is of the run's tables; the group keeps its own
        plan = plan_backfill(
            params.start,
            params.end,
            params.tables,
            params.chunk_days,
            phases=(4,),
            select=select,
            among=names,
            reads=reads,
        )
    else:
        plan = plan_backfill(
            params.start,
            params.end,
            names,
            params.chunk_days,
            phases=(4,),
            only=only,
            reads=reads,
        )
    if hold:
        hold_back(plan, hold)
    chunks = plan.phase_chunks(4)
    return plan, run_chunks(plan, chunks, 4, f"phase4-g{group}-progress", params.fail_fast)


def held_dates(plan: Plan, hold: dict[str, dict[dt.date, str]]) -> dict[str, dict[dt.date, str]]:
    """The dates of ``hold`` that ``plan`` skips for that reason: those held back."""
    out: dict[str, dict[dt.date, str]] = {}
    for name, tp in plan.tables.items():
        mine = hold.get(name, {})
        held = {d: r for d, r in tp.skipped.items() if mine.get(d) == r}
        if held:
            out[name] = held
    return out


class PhaseTaskRunner(ThreadPoolTaskRunner):
    """A phase's chunk threads. Interrupted (a cancel's termination signal, Ctrl-C), its exit
    does not wait for the chunks still running, as ThreadPoolTaskRunner's does: a chunk in a
    long statement (or paused mid-write) would hold the run there until its process is
    killed, before the run could publish its summary and release its run lock. Those writes
    are each one atomic replace: cut off by the process's end, they roll back."""

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if exc_type is not None and self._executor is not None:
            for event in self._cancel_events.values():
                event.set()
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        super().__exit__(exc_type, exc_value, traceback)


def with_runner(fn: Any, params: RunParams) -> Any:
    """``fn`` (a phase subflow) with its chunks on ``params.max_concurrency`` threads, and no
    flow-run heartbeat of its own: a subflow runs in its parent's process, whose heartbeat
    already tells whether that process lives, and Prefect joins a flow run's heartbeat thread
    when the run ends — up to 1 s per subflow, 4 per backfill (docs/benchmarks.md)."""
    sub = fn.with_options(task_runner=PhaseTaskRunner(max_workers=params.max_concurrency))

    def run(*args: Any, **kwargs: Any) -> Any:
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return sub(*args, **kwargs)

    return run


class Execution(Protocol):
    """How a backfill runs its phases; each step adds its plans and chunk outcomes to the
    run's summary as they come, so a step that stops midway leaves what it did on record."""

    def phase3(self, plan: Plan, summary: RunSummary) -> None:
        """Fill ``plan``'s Phase 3 chunks."""
        ...

    def phase4(
        self,
        summary: RunSummary,
        hold: dict[str, dict[dt.date, str]] | None = None,
        reads: ScheduleReads | None = None,
    ) -> ScheduleReads | None:
        """Plan and fill Phase 4, group after group (the Phase 3 gate has passed, or holds
        back the dates of ``hold``). ``reads``: the run's schedule reads so far, for its
        plans; returns those the next step may take (``planner.read_schedule``)."""
        ...


@dataclass(frozen=True)
class InProcess:
    """Phase 3, then each Phase 4 group, as subflows of the running flow."""

    params: RunParams
    select: Selection | None = None  # a reprocess mode other than missing

    def phase3(self, plan: Plan, summary: RunSummary) -> None:
        if not plan.phase_chunks(3):  # nothing to fill: no subflow run (Prefect's fixed cost)
            return
        summary.outcomes += with_runner(phase3, self.params)(self.params, plan)

    def phase4(
        self,
        summary: RunSummary,
        hold: dict[str, dict[dt.date, str]] | None = None,
        reads: ScheduleReads | None = None,
    ) -> ScheduleReads | None:
        for group in range(1, len(PHASE4_GROUPS) + 1):
            if self.params.fail_fast and launch_stopped(str(flow_run.root_flow_run_id)):
                return reads  # fail fast: no group starts after a permanent failure
            plan, outcomes = with_runner(phase4_group, self.params)(
                self.params, group, select=self.select, hold=hold or None, reads=reads
            )
            reads = plan.reads or reads
            summary.add_held_back(held_dates(plan, hold or {}))
            summary.add_plan(plan)
            add_estimate(summary, plan)
            summary.outcomes += outcomes
        return reads
