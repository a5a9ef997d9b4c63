"""The per-table DML limiter (nba_backfill/limiter.py): BigQuery's in-flight and rate bounds,
and the AIMD backoff on "too many DML statements outstanding" / concurrent-update conflicts.
Time is a fake clock and sleeps are recorded: the assertions are on attempts and delays."""

from __future__ import annotations

import contextlib
import random
import threading

import pytest
from google.api_core import exceptions as gexc

from nba_backfill.errors import TransientWarehouseError, classify, is_conflict
from nba_backfill.limiter import DmlLimiter, shared_limiter
from nba_backfill.settings import DmlSettings, load_settings
from nba_backfill.warehouse.faults import vendor_error

T = "nba_analytics.team_offense_game_summary"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _limiter(clock: Clock, **kw: object) -> DmlLimiter:
    base: dict[str, object] = {
        "conflict_initial_wait_seconds": 1.0,
        "conflict_max_wait_seconds": 5.0,
        "conflict_jitter": 0.0,
        "cooldown_seconds": 30.0,
    }
    return DmlLimiter(
        DmlSettings(**{**base, **kw}), clock=clock, sleep=clock.sleep, rng=random.Random(1)
    )


def _failing(errors: list[BaseException]):
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if errors:
            raise errors.pop(0)
        return "written"

    return fn, calls


def _wrapped(kind: str) -> TransientWarehouseError:
    """What the adapter raises: the vendor error translated, the original as its cause."""
    vendor = vendor_error(kind, T)
    err = TransientWarehouseError(f"replacing {T}: {vendor}", reason=classify(vendor) or "?")
    err.__cause__ = vendor
    return err


@pytest.mark.parametrize(
    ("exc", "conflict", "reason"),
    [
        (vendor_error("dml_outstanding", T), True, "quota"),
        (vendor_error("serialization", T), True, "serialization"),
        (_wrapped("dml_outstanding"), True, "quota"),
        (
            gexc.BadRequest("Transaction is aborted due to concurrent update against table"),
            True,
            "serialization",
        ),
        # Transient, but not a conflict of DML on the table: the retry policy's business.
        (vendor_error("quota", T), False, "quota"),
        (vendor_error("server", T), False, "server"),
    ],
)
def test_conflicts_are_transient_and_named(exc, conflict, reason):
    assert is_conflict(exc) is conflict
    assert classify(exc) == reason


def test_permanent_errors_are_never_conflicts():
    assert not is_conflict(gexc.NotFound("Not found: Table t was not found in location US"))
    assert not is_conflict(ValueError("too many dml statements outstanding"))


def test_conflicts_halve_the_limit_and_back_off_growing_then_the_write_lands():
    clock = Clock()
    lim = _limiter(clock)
    fn, calls = _failing([_wrapped("dml_outstanding"), _wrapped("serialization")])
    seen = []
    assert lim.call(T, fn, on_conflict=lambda e, a: seen.append((a, e.reason))) == "written"
    assert calls["n"] == 3
    assert seen == [(1, "quota"), (2, "serialization")]
    conflicts = [e for e in lim.events if e.kind == "conflict"]
    # Waits double per conflict in a row (1 s, 2 s), the limit halves (2 -> 1, never 0).
    assert [e.wait_seconds for e in conflicts] == [1.0, 2.0]
    assert [e.limit for e in conflicts] == [1, 1]
    assert clock.slept == [1.0, 2.0]
    assert lim.limit(T) == 1  # still lowered: the cooldown is not over
    # Another table is not slowed by this one's conflicts.
    assert lim.limit("nba_analytics.team_defense_game_summary") == 2


def test_the_limit_comes_back_one_slot_after_the_cooldown():
    clock = Clock()
    lim = _limiter(clock)
    lim.call(T, _failing([_wrapped("serialization")])[0])
    assert lim.limit(T) == 1
    clock.now += 10
    lim.call(T, _failing([])[0])
    assert lim.limit(T) == 1  # within the cooldown: no increase
    clock.now += 30
    lim.call(T, _failing([])[0])
    assert lim.limit(T) == 2 and lim.events[-1].kind == "raise"
    lim.call(T, _failing([])[0])
    assert lim.limit(T) == 2  # never above max_in_flight


def test_waits_are_jittered_and_capped():
    clock = Clock()
    lim = _limiter(
        clock, conflict_jitter=0.5, conflict_max_wait_seconds=3.0, max_conflict_retries=6
    )
    lim.call(T, _failing([_wrapped("serialization") for _ in range(5)])[0])
    waits = [e.wait_seconds for e in lim.events if e.kind == "conflict"]
    bases = [1.0, 2.0, 3.0, 3.0, 3.0]
    assert all(b <= w <= 1.5 * b for w, b in zip(waits, bases, strict=True))
    assert len(set(waits)) == 5  # jittered: no two writers retry in lockstep


def test_conflicts_past_the_budget_go_to_the_retry_policy():
    clock = Clock()
    lim = _limiter(clock, max_conflict_retries=2)
    fn, calls = _failing([_wrapped("serialization") for _ in range(5)])
    with pytest.raises(TransientWarehouseError):
        lim.call(T, fn)
    assert calls["n"] == 3 and len(clock.slept) == 2


def test_other_errors_propagate_at_once_without_backoff():
    clock = Clock()
    lim = _limiter(clock)
    fn, calls = _failing([_wrapped("server")])
    with pytest.raises(TransientWarehouseError):
        lim.call(T, fn)
    assert calls["n"] == 1 and clock.slept == [] and lim.limit(T) == 2


def test_rate_bound_per_table():
    clock = Clock()
    lim = _limiter(clock, rate_statements=3, rate_window_seconds=10)
    for _ in range(3):
        lim.call(T, _failing([])[0])
    assert clock.slept == []
    lim.call(T, _failing([])[0])  # the 4th statement within 10 s waits for the window
    assert clock.slept == [10.0]
    assert [e.kind for e in lim.events] == ["rate"]
    lim.call("nba_analytics.team_defense_game_summary", _failing([])[0])
    assert clock.slept == [10.0]  # another table has its own window


def test_at_most_two_statements_per_table_in_flight():
    lim = DmlLimiter(DmlSettings(rate_statements=25, rate_window_seconds=1))
    inside, peak, lock = [0], [0], threading.Lock()
    gate = threading.Barrier(2)

    def write() -> None:
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait(timeout=0.2)
        with lock:
            inside[0] -= 1

    threads = [threading.Thread(target=lim.call, args=(T, write)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert peak[0] == 2 == lim.peak_in_flight[T]


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("MAX_IN_FLIGHT", "3"),
        ("MAX_IN_FLIGHT", "0"),
        ("RATE_STATEMENTS", "26"),
        ("CONFLICT_JITTER", "2"),
    ],
)
def test_settings_are_bounded(monkeypatch, env, value):
    from nba_backfill.errors import UsageError

    monkeypatch.setenv(f"NBA_BACKFILL_DML__{env}", value)
    with pytest.raises(UsageError):
        load_settings()


def test_one_limiter_per_process_and_settings():
    a = shared_limiter(DmlSettings())
    assert shared_limiter(DmlSettings()) is a
    assert shared_limiter(DmlSettings(cooldown_seconds=1)) is not a
