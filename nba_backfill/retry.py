"""The one tenacity policy every warehouse write uses (local and BigQuery alike)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from nba_backfill.errors import classify
from nba_backfill.settings import RetrySettings

log = logging.getLogger("nba_backfill")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryEvent:
    attempt: int  # the attempt that failed (1-based)
    reason: str  # retry class: quota, serialization, server, timeout, connection
    wait_seconds: float
    error: str


def _wait(policy: RetrySettings, rng: random.Random) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        reason = classify(exc) if exc else None
        ceiling = policy.quota_max_wait_seconds if reason == "quota" else policy.max_wait_seconds
        base = policy.initial_wait_seconds * 2 ** (state.attempt_number - 1)
        return min(ceiling, base) + rng.uniform(0, policy.jitter_seconds)

    return wait


def call_with_retries(
    fn: Callable[[], T],
    policy: RetrySettings,
    *,
    what: str,
    on_retry: Callable[[RetryEvent], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Call ``fn``; retry transient errors (``errors.classify``) with exponential backoff and
    jitter, a longer ceiling for quota errors, at most ``policy.max_attempts`` attempts.
    Permanent errors (syntax, not found, access denied) raise at once."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        event = RetryEvent(
            state.attempt_number,
            classify(exc) or "?" if exc else "?",
            float(wait),
            str(exc).splitlines()[0] if exc else "",
        )
        log.warning(
            "%s: attempt %d failed (%s), retrying in %.1fs: %s",
            what,
            event.attempt,
            event.reason,
            event.wait_seconds,
            event.error,
        )
        if on_retry is not None:
            on_retry(event)

    kwargs: dict[str, object] = {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    retrying = Retrying(
        stop=stop_after_attempt(policy.max_attempts),
        wait=_wait(policy, random.Random()),
        retry=retry_if_exception(lambda e: classify(e) is not None),
        before_sleep=before_sleep,
        reraise=True,
        **kwargs,  # type: ignore[arg-type]
    )
    return retrying(fn)
