"""One backfill at a time per warehouse: the run lock.

Two runs writing the same warehouse at once would still leave correct data (every chunk is an
atomic replace of its window), but they would plan the same work twice, fight over BigQuery's
per-table DML budget, and report each other's progress as their own. So the ``backfill`` and
``rerun-failed-dates`` flows hold a **run lock** for the whole run: a Prefect global
concurrency limit of 1 slot, ``nba-backfill-run:<warehouse>`` (created on first use), taken
with a lease that a background thread renews. It spans every process, machine and Cloud Run
container that talks to the same Prefect server, and both backends (on DuckDB it also covers
the gaps between a fanned-out run's children, when no process holds the file).

A run that finds the lock held waits up to ``NBA_BACKFILL_RUN__LOCK_WAIT_SECONDS`` (default 0:
refuse at once) and then fails with :class:`RunLocked`, naming the holder — its flow run,
host and process — from the lock's holder record (a Prefect variable written next to it).

A holder that died without releasing (SIGKILL, out of memory, a lost container) needs no
clean-up: its lease runs out after ``NBA_BACKFILL_RUN__LOCK_LEASE_SECONDS`` at most; sooner,
the next run releases it when the holder record shows it is gone — its flow run ended (a
worker reports a lost container as Crashed), or its process no longer exists on this machine
(same host, boot and PID namespace: a PID is only compared where it means the same process).
A holder found dead while its flow run still says Running is marked Crashed, so the run history
and ``rerun-failed-dates`` see it as what it was.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    VariableCreate,
    VariableUpdate,
)
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound, PrefectHTTPStatusError
from prefect.states import Crashed

from nba_backfill.errors import RunLocked
from nba_backfill.settings import Settings
from tasks.common import close_descendants

log = logging.getLogger("nba_backfill")

LOCK_PREFIX = "nba-backfill-run"
_POLL_SECONDS = 2.0
RENEW_FRACTION = 1 / 3  # of the lease: two renewals may fail before it lapses


def warehouse_identity(settings: Settings) -> str:
    """What the lock protects, in words: the BigQuery project and Phase 3 dataset, or the
    DuckDB file."""
    wh = settings.warehouse
    if wh.backend == "bigquery":
        where = f"{wh.project}.{wh.datasets.nba_analytics}"
        return f"bigquery {where}" + (" (emulator)" if wh.emulator_endpoint else "")
    return f"duckdb {wh.duckdb_path.resolve()}"


def lock_name(settings: Settings) -> str:
    """``nba-backfill-run:<project>.<dataset>`` on BigQuery; on DuckDB the file's name and a
    hash of its path (limit names cannot hold ``/``)."""
    wh = settings.warehouse
    if wh.backend == "bigquery":
        return f"{LOCK_PREFIX}:{wh.project}.{wh.datasets.nba_analytics}"
    path = str(wh.duckdb_path.resolve())
    digest = hashlib.sha1(path.encode()).hexdigest()[:10]
    return f"{LOCK_PREFIX}:duckdb-{wh.duckdb_path.name}-{digest}"


def warehouse_tag(settings: Settings) -> str:
    """The tag a run that took this warehouse's lock carries (``warehouse:<lock suffix>``):
    what a rerun matches failed runs by, so one Prefect server can serve several warehouses
    (dev and prod datasets, DuckDB files) without a rerun refilling another's failed dates."""
    return "warehouse:" + lock_name(settings).split(":", 1)[1]


def _tag_run(client: Any, run_id: Any, tag: str) -> None:
    """Add ``tag`` to flow run ``run_id`` (tags are set when a run is created; the warehouse is
    known only here). Bookkeeping: a failure is logged, never raised."""
    try:
        run = client.read_flow_run(run_id)
        if tag not in run.tags:
            client.update_flow_run(run_id, tags=[*run.tags, tag])
    except (ObjectNotFound, PrefectHTTPStatusError) as exc:
        log.warning("flow run %s not tagged %s: %s", run_id, tag, exc)


def _record_name(name: str) -> str:
    """The holder record's variable name (lowercase letters, digits, ``_`` and ``-`` only)."""
    return "nba_backfill_run_lock_" + hashlib.sha1(name.encode()).hexdigest()[:12]


# --- who holds it -----------------------------------------------------------------------------
def _read_text(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), and
    None when it does not exist or is a zombie (killed, not yet reaped)."""
    stat = _read_text(f"/proc/{pid}/stat")
    if stat is None:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return fields[19] if len(fields) > 19 else None


@dataclass(frozen=True)
class Holder:
    """The lock holder's record: enough to name it, and to tell on this machine whether its
    process still exists."""

    lock: str
    lease_id: str
    flow_run_id: str | None
    flow_run_name: str | None
    what: str
    host: str
    pid: int
    process_start: str | None
    boot_id: str | None
    pid_namespace: str | None
    since: str

    @classmethod
    def me(cls, lock: str, lease_id: UUID, what: str) -> Holder:
        from prefect.runtime import flow_run

        pid = os.getpid()
        return cls(
            lock=lock,
            lease_id=str(lease_id),
            flow_run_id=str(flow_run.id) if flow_run.id else None,
            flow_run_name=flow_run.name if flow_run.id else None,
            what=what,
            host=socket.gethostname(),
            pid=pid,
            process_start=_process_start(pid),
            boot_id=_read_text("/proc/sys/kernel/random/boot_id"),
            pid_namespace=_pid_namespace(),
            since=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )

    @classmethod
    def parse(cls, value: Any) -> Holder | None:
        if not isinstance(value, dict):
            return None
        fields: dict[str, Any] = {k: value.get(k) for k in cls.__dataclass_fields__}
        if not fields["lock"] or not fields["lease_id"] or not isinstance(fields["pid"], int):
            return None
        return cls(**fields)

    def describe(self) -> str:
        run = f"flow run {self.flow_run_name!r} ({self.flow_run_id})" if self.flow_run_id else ""
        return f"{run or self.what} on host {self.host}, pid {self.pid}, since {self.since}"

    def process_gone(self) -> bool:
        """True only when the holder ran on this machine, in this PID namespace, and its
        process no longer exists (or the PID now belongs to a younger process)."""
        if not (self.boot_id and self.pid_namespace):
            return False
        here = (
            socket.gethostname(),
            _read_text("/proc/sys/kernel/random/boot_id"),
            _pid_namespace(),
        )
        if (self.host, self.boot_id, self.pid_namespace) != here:
            return False
        if self.pid == os.getpid():
            return False
        start = _process_start(self.pid)
        return start is None or (self.process_start is not None and start != self.process_start)


# --- the lock ---------------------------------------------------------------------------------
def _ensure_limit(client: Any, name: str) -> None:
    """The lock's limit exists, is active, and has exactly one slot."""
    try:
        limit = client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        with contextlib.suppress(ObjectAlreadyExists):  # another run created it meanwhile
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=1, active=True)
            )
        return
    if limit.limit != 1 or not limit.active:
        log.warning("run lock %s: limit %s, active %s; setting 1", name, limit.limit, limit.active)
        client.update_global_concurrency_limit(
            name, GlobalConcurrencyLimitUpdate(limit=1, active=True)
        )


def _try_acquire(
    client: Any, name: str, lease_seconds: float, holder_id: str | None
) -> UUID | None:
    """The lease id when the slot was free, None when it is held."""
    holder = ConcurrencyLeaseHolder(type="flow_run", id=UUID(holder_id)) if holder_id else None
    try:
        response = client.increment_concurrency_slots_with_lease(
            names=[name], slots=1, mode="concurrency", lease_duration=lease_seconds, holder=holder
        )
    except PrefectHTTPStatusError as exc:
        if exc.response.status_code == 423:
            return None
        raise
    body = response.json()
    if not body.get("limits"):
        raise RunLocked(f"run lock {name} does not exist on the Prefect server")
    return UUID(body["lease_id"])


def _read_holder(client: Any, name: str) -> Holder | None:
    variable = client.read_variable_by_name(_record_name(name))
    return Holder.parse(variable.value) if variable is not None else None


def _write_holder(client: Any, holder: Holder) -> None:
    record = _record_name(holder.lock)
    value = {k: v for k, v in asdict(holder).items() if v is not None}
    try:
        client.create_variable(VariableCreate(name=record, value=value, tags=["nba-backfill"]))
    except ObjectAlreadyExists:
        client.update_variable(VariableUpdate(name=record, value=value))


def _release_if_dead(client: Any, holder: Holder) -> str | None:
    """Release the holder's lease when it is gone; say why (None: it may be alive)."""
    why = None
    state = None
    if holder.flow_run_id:
        try:
            run = client.read_flow_run(UUID(holder.flow_run_id))
            state = run.state
        except ObjectNotFound:
            why = "its flow run no longer exists"
    if why is None and state is not None and state.is_final():
        why = f"its flow run ended {state.name}"
    if why is None and holder.process_gone():
        why = f"its process {holder.pid} on {holder.host} no longer exists"
        if holder.flow_run_id and state is not None and not state.is_final():
            client.set_flow_run_state(
                UUID(holder.flow_run_id),
                Crashed(
                    message=f"process {holder.pid} on {holder.host} died without reporting "
                    "(found by the next run taking the run lock)"
                ),
                force=True,
            )
    if why is None:
        return None
    if holder.flow_run_id and state is not None and not state.is_completed():
        # Its process died before its on_crashed hook could close what it had started (a
        # double Ctrl-C, a kill): do it now, so no subflow of it stays Pending or Running.
        with contextlib.suppress(Exception):
            close_descendants(UUID(holder.flow_run_id), f"its parent run {why}")
    with contextlib.suppress(ObjectNotFound, PrefectHTTPStatusError):  # it lapsed already
        client.release_concurrency_slots_with_lease(UUID(holder.lease_id))
    return why


class _Renewer:
    """Renews the lease every ``RENEW_FRACTION`` of its duration until stopped. A failed
    renewal is logged, never fatal: the lock saves work, the atomic writes keep the data
    correct. The thread runs in a copy of the caller's context (Prefect's settings live
    there: the API it talks to)."""

    def __init__(self, lease_id: UUID, lease_seconds: float, name: str) -> None:
        self.lease_id, self.lease_seconds, self.name = lease_id, lease_seconds, name
        self.renewals = 0
        self.stop = threading.Event()
        context = contextvars.copy_context()
        self.thread = threading.Thread(
            target=context.run, args=(self._run,), name=f"renew {name}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        with get_client(sync_client=True) as client:
            while not self.stop.wait(self.lease_seconds * RENEW_FRACTION):
                try:
                    client.renew_concurrency_lease(self.lease_id, self.lease_seconds)
                    self.renewals += 1
                except Exception as exc:
                    log.warning("run lock %s: renewing the lease failed (%s)", self.name, exc)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def release_lock_of(flow_run_id: Any) -> str | None:
    """Release the run lock ``flow_run_id`` still holds, found by the run's warehouse tag (the
    process running a hook may not share the run's settings) and its holder record: a run
    cancelled or crashed whose process was killed before it left :func:`run_lock`. A lock
    another run has taken since names that run: left alone. Returns the lock's name when a
    lease was released."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(str(flow_run_id)))
        for tag in run.tags:
            if not tag.startswith("warehouse:"):
                continue
            name = f"{LOCK_PREFIX}:{tag.split(':', 1)[1]}"
            holder = _read_holder(client, name)
            if holder is None or holder.flow_run_id != str(flow_run_id):
                continue
            try:
                client.release_concurrency_slots_with_lease(UUID(holder.lease_id))
            except (ObjectNotFound, PrefectHTTPStatusError):  # released already, or lapsed
                continue
            return name
    return None


_renewers: dict[str, _Renewer] = {}  # the locks this process holds (for tests)


@contextmanager
def run_lock(settings: Settings, what: str) -> Iterator[None]:
    """Hold the warehouse's run lock around a run; raise :class:`RunLocked` (nothing written)
    when another run holds it for longer than ``settings.run.lock_wait_seconds``."""
    from prefect.runtime import flow_run

    name = lock_name(settings)
    wait = settings.run.lock_wait_seconds
    lease_seconds = settings.run.lock_lease_seconds
    deadline = time.monotonic() + wait
    waited_for: Holder | None = None
    released: set[str] = set()  # leases released here: their record is no longer current
    with get_client(sync_client=True) as client:
        _ensure_limit(client, name)
        while True:
            # Read before trying: a held lock is seen with a read, which a busy server answers
            # at once, where a refused increment is a write that may queue behind others.
            if client.read_global_concurrency_limit_by_name(name).active_slots < 1:
                lease_id = _try_acquire(
                    client, name, lease_seconds, str(flow_run.id) if flow_run.id else None
                )
                if lease_id is not None:
                    break
            holder = _read_holder(client, name)
            if holder is not None and holder.lease_id in released:
                holder = None  # the new holder has not written its record yet
            if holder is not None and (why := _release_if_dead(client, holder)):
                released.add(holder.lease_id)
                log.warning(
                    "run lock %s: released the lock of %s: %s", name, holder.describe(), why
                )
                continue
            if time.monotonic() >= deadline:
                by = holder.describe() if holder else "a run whose record is not readable"
                raise RunLocked(
                    f"another backfill is writing to {warehouse_identity(settings)}: {by} holds "
                    f"the run lock {name!r}; waited {wait:.0f}s "
                    "(NBA_BACKFILL_RUN__LOCK_WAIT_SECONDS). Nothing was written; start again "
                    f"when it ends (its lease lapses within {lease_seconds:.0f}s if it died)"
                )
            if holder is not None and holder != waited_for:
                log.warning(
                    "run lock %s is held by %s; waiting up to %.0fs",
                    name,
                    holder.describe(),
                    deadline - time.monotonic(),
                )
                waited_for = holder
            time.sleep(min(_POLL_SECONDS, max(0.1, deadline - time.monotonic())))
        me = Holder.me(name, lease_id, what)
        _write_holder(client, me)
        if flow_run.id:
            _tag_run(client, flow_run.id, warehouse_tag(settings))
    log.info("run lock %s taken for %s", name, what)
    renewer = _Renewer(lease_id, lease_seconds, name)
    _renewers[name] = renewer
    try:
        yield
    finally:
        renewer.close()
        _renewers.pop(name, None)
        with get_client(sync_client=True) as client:
            try:
                client.release_concurrency_slots_with_lease(lease_id)
            except Exception as exc:  # the lease lapses by itself
                log.warning("run lock %s: releasing failed (%s); it lapses by itself", name, exc)


__all__ = [
    "LOCK_PREFIX",
    "Holder",
    "lock_name",
    "release_lock_of",
    "run_lock",
    "warehouse_identity",
]
