"""The latency model's numbers, the runbook's calibration, and a discrete-event simulation of
each strategy's schedule under the model (used for the sweep and the 3× / 10× sensitivity, and
checked against the scaled real runs).

Every number here is an assumption stated once; the report prints them all.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.latency import LatencyModel
from bench.strategies import WorkList, runbook_stages
from nba_backfill.catalog import PCF, PHASE4_GROUPS, TABLES
from nba_backfill.planner import Plan
from nba_backfill.runner import chunk_jobs
from nba_backfill.settings import RetrySettings

_RETRY = RetrySettings()

# --- BigQuery costs (production seconds) ----------------------------------------------------------
JOB_START_SECONDS = 1.5  # submit → running → done for a small query job (typically 1–2 s)
COMMIT_SECONDS = 1.5  # a DML / BEGIN…COMMIT script commits in ~1–2 s more
METADATA_SECONDS = 0.2  # tables.get: an API call, not a job
MAX_WRITES_PER_TABLE = 2  # BigQuery runs 2 mutating DML per table at once, queues the rest
MAX_CONCURRENT_JOBS = 100  # interactive query jobs at once per project (never reached here)
MAX_QUEUED_PER_TABLE = 20  # mutating DML statements queued per table; one more is rejected
DML_PER_WINDOW, DML_WINDOW_SECONDS = 25, 10.0  # DML statements per table per 10 s
WRITE_STRATEGIES = ("merge", "transaction")  # settings.warehouse.write_strategy

# --- the runbook's measured times (SPEC §7, issue 6), for the seeds state's work --------------
RUNBOOK_PHASE3_HOURS = 4.5  # "Phase 3 4–6 h": the three gap tables side by side
RUNBOOK_PHASE4_HOURS = 10.0  # "Phase 4 9–11 h": G1 ∥ → G2 → G3, one date at a time
RUNBOOK_PCF_SECONDS_PER_DATE = 33.5  # "PCF ≈ 30–37 s per date sequentially"

# --- Prefect's own time per chunk task, on the task's worker thread (SPEC §9: 15–30 ms) ---------
TASK_OVERHEAD_SECONDS = 0.05


def base_model(**overrides: Any) -> LatencyModel:
    values: dict[str, Any] = {
        "job_start_seconds": JOB_START_SECONDS,
        "commit_seconds": COMMIT_SECONDS,
        "metadata_seconds": METADATA_SECONDS,
        "max_writes_per_table": MAX_WRITES_PER_TABLE,
        "max_concurrent_jobs": MAX_CONCURRENT_JOBS,
        "max_queued_per_table": MAX_QUEUED_PER_TABLE,
        "dml_per_window": DML_PER_WINDOW,
        "dml_window_seconds": DML_WINDOW_SECONDS,
        # the runner's backoff between attempts: the retry settings' defaults
        "retry_initial_seconds": _RETRY.initial_wait_seconds,
        "retry_max_seconds": _RETRY.max_wait_seconds,
        "retry_jitter_seconds": _RETRY.jitter_seconds,
        "max_attempts": _RETRY.max_attempts,
    }
    values.update(overrides)
    return LatencyModel(**values)


# --- calibration --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """The runbook's per-(table, date) job cost, fixed start included, in production seconds."""

    per_job_seconds: dict[str, float]
    phase3_seconds: float
    phase4_seconds: float
    note: str

    def model(self, time_factor: float) -> LatencyModel:
        fixed = JOB_START_SECONDS + COMMIT_SECONDS
        return base_model(
            time_factor=time_factor,
            per_date_seconds={t: max(0.0, c - fixed) for t, c in self.per_job_seconds.items()},
            execute_writes=False,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "per_job_seconds": {k: round(v, 2) for k, v in self.per_job_seconds.items()},
            "phase3_hours": round(self.phase3_seconds / 3600, 2),
            "phase4_hours": round(self.phase4_seconds / 3600, 2),
            "note": self.note,
        }


def calibrate_runbook(work: WorkList) -> Calibration:
    """Per-date job costs that make the runbook's schedule of ``work`` (the seeds state: the
    runbook's real starting point) take the measured times: every Phase 3 table the same cost,
    Phase 3 = 4.5 h; PCF 33.5 s per date; the other Phase 4 tables one shared cost such that
    Phase 4 = 10 h."""
    stages = runbook_stages(work)
    n = {t: len(d) for t, d in work.dates.items()}
    p3_units = sum(max(n[t] for t in st) for st in stages if TABLES[st[0]].phase == 3)
    c3 = RUNBOOK_PHASE3_HOURS * 3600 / max(1, p3_units)
    # Phase 4 = Σ over groups of max(n_t · c_t): PCF fixed, the others x.
    target4 = RUNBOOK_PHASE4_HOURS * 3600
    pcf = n.get(PCF, 0) * RUNBOOK_PCF_SECONDS_PER_DATE
    units = sum(
        max((n.get(t.name, 0) for t in group if t.name != PCF), default=0)
        for group in PHASE4_GROUPS
    )
    x = max(0.0, target4 - pcf) / max(1, units)
    costs = {t: (c3 if spec.phase == 3 else x) for t, spec in TABLES.items()}
    costs[PCF] = RUNBOOK_PCF_SECONDS_PER_DATE
    note = (
        f"Phase 3 tables {c3:.1f} s per (table, date) job, PCF {RUNBOOK_PCF_SECONDS_PER_DATE} s, "
        f"other Phase 4 tables {x:.2f} s; fixed start {JOB_START_SECONDS + COMMIT_SECONDS:.1f} s "
        "of each included"
    )
    return Calibration(costs, c3 * p3_units, target4, note)


def set_based_per_date(measured: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Seconds per game date of a set-based chunk write, per table, pooled over the embedded
    runs' write statistics (``CallStats.tables``: jobs, dates, inner_seconds)."""
    secs: dict[str, float] = {}
    dates: dict[str, int] = {}
    for tables in measured:
        for name, t in tables.items():
            secs[name] = secs.get(name, 0.0) + float(t["inner_seconds"])
            dates[name] = dates.get(name, 0) + int(t["dates"])
    return {name: secs[name] / dates[name] for name in secs if dates[name]}


# --- simulation -----------------------------------------------------------------------------------
PHASE3_TABLES = tuple(t for t in TABLES.values() if t.phase == 3)


@dataclass
class SimChunk:
    id: str
    table: str
    dates: int
    reads_before: int  # jobs before the write (``runner.chunk_jobs``)
    reads_after: int  # jobs after it: the fingerprint ledger, the verification profile
    upstream: list[str] = field(default_factory=list)


def chunk_reads(table: str, written: Collection[str]) -> tuple[int, int]:
    """Jobs ``runner.run_chunk`` runs around its write (``runner.chunk_jobs``, counted on the
    real code by tests/test_chunk_jobs.py) in a pool whose chunks write ``written``: its plan
    settles every other required input (``Plan.settled``), whose profile is then not read."""
    settled = [d.table for d in TABLES[table].depends_on if d.required and d.table not in written]
    return chunk_jobs(table, settled=settled)


def flow_pools(plan: Plan) -> list[list[SimChunk]]:
    """The flow's pools of concurrent chunks: Phase 3, then each Phase 4 group (planned alone,
    so without edges to other phases)."""
    pools: list[list[SimChunk]] = []
    groups: list[set[str]] = [{t.name for t in PHASE3_TABLES}] + [
        {t.name for t in g} for g in PHASE4_GROUPS
    ]
    for names in groups:
        ids = {c.id for c in plan.chunks if c.table in names}
        written = {c.table for c in plan.chunks if c.table in names}
        pool = []
        for c in plan.chunks:
            if c.table in names:
                before, after = chunk_reads(c.table, written)
                ups = [u for u in plan.upstream.get(c.id, []) if u in ids]
                pool.append(SimChunk(c.id, c.table, len(c.dates), before, after, ups))
        pools.append(pool)
    return pools


@dataclass
class SimResult:
    seconds: float
    phases: dict[str, float]
    jobs: int
    retries: int = 0  # writes BigQuery cancelled (transaction) or rejected (queue full)
    failed: int = 0  # chunks whose write ran out of attempts

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "phases": {k: round(v, 1) for k, v in self.phases.items()},
            "jobs": self.jobs,
            "retries": self.retries,
            "failed": self.failed,
        }


@dataclass
class PoolResult:
    seconds: float
    retries: int = 0
    failed: int = 0


class _TableAdmission:
    """BigQuery's side of one table's writes (see :class:`LatencyModel`): which write runs,
    which waits in its queue, which is sent back (cancelled or rejected) to retry."""

    def __init__(self, model: LatencyModel) -> None:
        self.model = model
        self.running = 0
        self.queue: deque[tuple[SimChunk, int]] = deque()
        self.starts: deque[float] = deque()  # start times inside the DML rate window

    def rate_delay(self, at: float) -> float:
        """How long a statement starting at ``at`` waits for the per-table DML rate."""
        m = self.model
        while self.starts and self.starts[0] <= at - m.dml_window_seconds:
            self.starts.popleft()
        if len(self.starts) < m.dml_per_window:
            return 0.0
        return self.starts[-m.dml_per_window] + m.dml_window_seconds - at


def simulate_pool(
    chunks: Sequence[SimChunk],
    model: LatencyModel,
    max_concurrency: int,
    per_table_limit: int,
    task_overhead: float = TASK_OVERHEAD_SECONDS,
) -> float:
    """Makespan of one pool (:func:`simulate_pool_detail`)."""
    return simulate_pool_detail(
        chunks, model, max_concurrency, per_table_limit, task_overhead
    ).seconds


def simulate_pool_detail(
    chunks: Sequence[SimChunk],
    model: LatencyModel,
    max_concurrency: int,
    per_table_limit: int,
    task_overhead: float = TASK_OVERHEAD_SECONDS,
) -> PoolResult:
    """One pool: Prefect's ThreadPoolTaskRunner takes tasks in submission order; a task
    waiting for upstream chunks holds its worker thread; the runner lets ``per_table_limit``
    writes of a table go at once (a retry keeps its runner slot through its backoff), and
    BigQuery admits them by the model's write strategy: ``merge`` runs 2, queues 20, rejects
    the rest, bounded by the per-table DML rate; ``transaction`` runs 1 and cancels any other
    that starts meanwhile. Different tables never wait for each other."""
    read = model.read_seconds()
    running_cap = model.running_per_table or per_table_limit
    seq = itertools.count()
    events: list[tuple[float, int, str, SimChunk, int]] = []
    queue = deque(chunks)
    free_threads = max_concurrency
    done: dict[str, float] = {}
    waiting: dict[str, list[SimChunk]] = {}  # upstream id -> tasks holding a thread for it
    runner_free = {c.table: per_table_limit for c in chunks}
    runner_queue: dict[str, deque[SimChunk]] = {c.table: deque() for c in chunks}
    bq = {c.table: _TableAdmission(model) for c in chunks}
    result = PoolResult(0.0)
    now = 0.0

    def push(at: float, what: str, c: SimChunk, attempt: int = 1) -> None:
        heapq.heappush(events, (at, next(seq), what, c, attempt))

    def begin(c: SimChunk, at: float) -> None:
        push(at + task_overhead + c.reads_before * read, "want_write", c)

    def run(c: SimChunk, attempt: int, at: float) -> None:
        t = bq[c.table]
        delay = t.rate_delay(at)
        t.running += 1
        t.starts.append(at + delay)
        push(at + delay + model.write_seconds(c.table, c.dates), "wrote", c, attempt)

    def submit(c: SimChunk, attempt: int, at: float) -> None:
        """The write reaches BigQuery (its runner slot held)."""
        t = bq[c.table]
        if t.running < running_cap:
            run(c, attempt, at)
            return
        if model.write_strategy == "merge" and len(t.queue) < model.max_queued_per_table:
            t.queue.append((c, attempt))
            return
        # cancelled (a concurrent transaction) or rejected (the queue is full): the job's
        # start is spent, then the runner backs off and tries again, or gives up
        result.retries += 1
        if attempt >= model.max_attempts:
            result.failed += 1
            push(at + model.job_start_seconds, "gave_up", c, attempt)
        else:
            back = model.job_start_seconds + model.backoff_seconds(attempt)
            push(at + back, "retry", c, attempt + 1)

    def release_runner(c: SimChunk, at: float) -> None:
        if runner_queue[c.table]:
            submit(runner_queue[c.table].popleft(), 1, at)
        else:
            runner_free[c.table] += 1

    def start_next(at: float) -> None:
        nonlocal free_threads
        while free_threads and queue:
            c = queue.popleft()
            free_threads -= 1
            pending = [u for u in c.upstream if u not in done]
            if pending:
                waiting.setdefault(pending[0], []).append(c)
            else:
                begin(c, at)

    def finish(c: SimChunk, at: float) -> None:
        nonlocal free_threads
        done[c.id] = at
        free_threads += 1
        for w in waiting.pop(c.id, []):
            pending = [u for u in w.upstream if u not in done]
            if pending:
                waiting.setdefault(pending[0], []).append(w)
            else:
                begin(w, at)
        start_next(at)

    start_next(0.0)
    while events:
        now, _, what, c, attempt = heapq.heappop(events)
        if what == "want_write":
            if runner_free[c.table]:
                runner_free[c.table] -= 1
                submit(c, 1, now)
            else:
                runner_queue[c.table].append(c)
        elif what == "retry":
            submit(c, attempt, now)
        elif what == "wrote":
            t = bq[c.table]
            t.running -= 1
            if t.queue:
                run(*t.queue.popleft(), now)
            release_runner(c, now)
            push(now + c.reads_after * read, "finished", c)
        elif what == "gave_up":  # the chunk fails (counted: such a run is not a full one)
            release_runner(c, now)
            finish(c, now)
        else:  # finished
            finish(c, now)
    result.seconds = now
    return result


@dataclass(frozen=True)
class FlowReads:
    """Query jobs the parent flow runs outside its chunks, step by step (counted on the real
    planner and validation): plan Phase 3, the gate, plan each Phase 4 group, validate Phase 4."""

    plan3: int
    gate: int
    plan4: tuple[int, ...]
    validate4: int

    @property
    def total(self) -> int:
        return self.plan3 + self.gate + sum(self.plan4) + self.validate4

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan3": self.plan3,
            "gate": self.gate,
            "plan4": list(self.plan4),
            "validate4": self.validate4,
        }


def simulate_flow(
    plan: Plan,
    model: LatencyModel,
    *,
    max_concurrency: int,
    per_table_limit: int,
    reads: FlowReads,
    fixed_overhead: float,
    task_overhead: float = TASK_OVERHEAD_SECONDS,
) -> SimResult:
    """The parent flow: plan Phase 3, Phase 3's pool, the gate, each Phase 4 group's plan and
    pool, the Phase 4 validation, in sequence; plus Prefect's fixed cost (flow and subflow
    runs, artifacts) measured on a no-op run. Phases split as the real runs' are."""
    pools = flow_pools(plan)
    read = model.read_seconds()

    retries = failed = 0

    def pool(chunks: Sequence[SimChunk]) -> float:
        nonlocal retries, failed
        r = simulate_pool_detail(chunks, model, max_concurrency, per_table_limit, task_overhead)
        retries += r.retries
        failed += r.failed
        return r.seconds

    p3 = reads.plan3 * read + pool(pools[0])
    p4 = reads.gate * read + sum(
        n * read + pool(chunks) for n, chunks in zip(reads.plan4, pools[1:], strict=True)
    )
    other = reads.validate4 * read + fixed_overhead
    jobs = reads.total + sum(c.reads_before + 1 + c.reads_after for p in pools for c in p)
    phases = {"phase3": p3, "phase4": p4, "other": other}
    return SimResult(p3 + p4 + other, phases, jobs + retries, retries, failed)


def simulate_runbook(work: WorkList, model: LatencyModel) -> SimResult:
    """Each stage's tables side by side, one date after another: the stage lasts as long as
    its longest table."""
    p3 = p4 = 0.0
    for stage in runbook_stages(work):
        length = max(model.write_seconds(t, 1) * len(work.dates[t]) for t in stage)
        if TABLES[stage[0]].phase == 3:
            p3 += length
        else:
            p4 += length
    return SimResult(p3 + p4, {"phase3": p3, "phase4": p4, "other": 0.0}, work.pairs())


def simulate_lower_bound(
    work: WorkList, model: LatencyModel, game_dates: Sequence[dt.date]
) -> SimResult:
    """One statement per table over ``[first, last]`` of its dates, one after another."""
    p3 = p4 = 0.0
    ordered = sorted(game_dates)
    for name, dates in work.dates.items():
        n = sum(1 for d in ordered if dates[0] <= d <= dates[-1])
        secs = model.write_seconds(name, n)
        if TABLES[name].phase == 3:
            p3 += secs
        else:
            p4 += secs
    return SimResult(p3 + p4, {"phase3": p3, "phase4": p4, "other": 0.0}, len(work.dates))
