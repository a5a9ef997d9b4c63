"""The per-table DML limiter of this process: BigQuery's limits on mutating statements, and an
AIMD-style backoff when BigQuery says the table is too busy.

BigQuery runs 2 mutating statements per table and queues 20 more, allows 25 DML statements per
10 s per table, and answers "too many DML statements outstanding" or "Could not serialize access
… due to concurrent update" past that. So each write of a table here

* waits for one of the table's in-flight slots (``DmlSettings.max_in_flight``, lowered after
  a conflict) and for room in its rate window (``rate_statements`` per
  ``rate_window_seconds``, a sliding window of the statements it started);
* on a *conflict* (:func:`nba_backfill.errors.is_conflict`) gives its slot back, halves the
  table's in-flight limit for ``cooldown_seconds`` (multiplicative decrease: the other writers
  of this process back off too), waits a delay that doubles with each conflict in a row, plus
  jitter, and tries again, at most ``max_conflict_retries`` times before the error goes to the
  retry policy;
* after a success once the cooldown is over, raises the limit by one slot (additive increase)
  up to ``max_in_flight``.

Across processes and containers the Prefect global concurrency limits bound the same things
(``tasks/chunks.py``); this limiter is what one process does with BigQuery's answers. Everything
it decided is recorded (:attr:`DmlLimiter.events`) so tests and the summary read attempts and
delays, not wall-clock time.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from nba_backfill.errors import classify, is_conflict
from nba_backfill.settings import DmlSettings

T = TypeVar("T")


@dataclass(frozen=True)
class LimiterEvent:
    table: str
    kind: str  # "conflict" (backed off), "rate" (waited for the rate window), "raise" (+1 slot)
    limit: int  # the table's in-flight limit after the event
    wait_seconds: float = 0.0
    error: str = ""
    reason: str = ""  # a conflict's retry class (errors.classify): quota or serialization


@dataclass
class _Table:
    limit: int
    in_flight: int = 0
    streak: int = 0  # conflicts in a row
    lowered_until: float = 0.0
    started: deque[float] = field(default_factory=deque)


class DmlLimiter:
    def __init__(
        self,
        settings: DmlSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self._cond = threading.Condition()
        self._tables: dict[str, _Table] = {}
        self.events: list[LimiterEvent] = []
        self.peak_in_flight: dict[str, int] = {}

    # --- state ------------------------------------------------------------------------------
    def _table(self, table: str) -> _Table:
        t = self._tables.get(table)
        if t is None:
            t = self._tables[table] = _Table(self.settings.max_in_flight)
        return t

    def limit(self, table: str) -> int:
        with self._cond:
            return self._table(table).limit

    def conflicts(self, table: str | None = None) -> int:
        with self._cond:
            return sum(1 for e in self.events if e.kind == "conflict" and table in (None, e.table))

    # --- slots ------------------------------------------------------------------------------
    def _rate_wait(self, t: _Table, now: float) -> float:
        window = self.settings.rate_window_seconds
        while t.started and t.started[0] <= now - window:
            t.started.popleft()
        if len(t.started) < self.settings.rate_statements:
            return 0.0
        return t.started[0] + window - now

    def _acquire(self, table: str) -> None:
        with self._cond:
            t = self._table(table)
            while True:
                while t.in_flight >= t.limit:
                    self._cond.wait(timeout=1.0)
                wait = self._rate_wait(t, self.clock())
                if wait <= 0:
                    break
                self.events.append(LimiterEvent(table, "rate", t.limit, wait))
                # The wait happens outside the lock: other tables go on meanwhile.
                self._cond.release()
                try:
                    self.sleep(wait)
                finally:
                    self._cond.acquire()
            t.in_flight += 1
            t.started.append(self.clock())
            self.peak_in_flight[table] = max(self.peak_in_flight.get(table, 0), t.in_flight)

    def _release(self, table: str, *, conflict: BaseException | None) -> float:
        """Give the slot back; after a conflict lower the limit and return the wait."""
        s = self.settings
        with self._cond:
            t = self._table(table)
            t.in_flight -= 1
            now = self.clock()
            wait = 0.0
            if conflict is not None:
                t.streak += 1
                t.limit = max(1, t.limit // 2)
                t.lowered_until = now + s.cooldown_seconds
                base = min(
                    s.conflict_max_wait_seconds,
                    s.conflict_initial_wait_seconds * 2 ** (t.streak - 1),
                )
                wait = base * (1 + self.rng.uniform(0, s.conflict_jitter))
                error = str(conflict).splitlines()[0] if str(conflict) else type(conflict).__name__
                self.events.append(
                    LimiterEvent(
                        table, "conflict", t.limit, wait, error, classify(conflict) or "conflict"
                    )
                )
            else:
                t.streak = 0
                if t.limit < s.max_in_flight and now >= t.lowered_until:
                    t.limit += 1
                    t.lowered_until = now + s.cooldown_seconds
                    self.events.append(LimiterEvent(table, "raise", t.limit))
            self._cond.notify_all()
            return wait

    # --- the call ---------------------------------------------------------------------------
    def call(
        self,
        table: str,
        fn: Callable[[], T],
        *,
        on_conflict: Callable[[LimiterEvent, int], None] | None = None,
    ) -> T:
        """Run one mutating statement of ``table`` under the limiter; conflicts are waited out
        here (``on_conflict(event, attempt)`` told of each), any other error propagates."""
        attempt = 0
        while True:
            attempt += 1
            self._acquire(table)
            try:
                result = fn()
            except Exception as exc:
                if not is_conflict(exc) or attempt > self.settings.max_conflict_retries:
                    self._release(table, conflict=None if not is_conflict(exc) else exc)
                    raise
                wait = self._release(table, conflict=exc)
                if on_conflict is not None:
                    on_conflict(self.events[-1], attempt)
                self.sleep(wait)
                continue
            self._release(table, conflict=None)
            return result


_shared: list[tuple[DmlSettings, DmlLimiter]] = []
_shared_lock = threading.Lock()


def shared_limiter(settings: DmlSettings) -> DmlLimiter:
    """The one limiter of this process for these settings: every chunk writing a table in this
    process shares its slots and its backoff."""
    with _shared_lock:
        for known, limiter in _shared:
            if known == settings:
                return limiter
        limiter = DmlLimiter(settings.model_copy())
        _shared.append((limiter.settings, limiter))
        return limiter


__all__ = ["DmlLimiter", "LimiterEvent", "shared_limiter"]
