"""Typed errors of nba-backfill, and the one classifier that decides what is worth retrying."""

from __future__ import annotations

import concurrent.futures
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class BackfillError(Exception):
    """Base of every error nba-backfill raises on purpose."""


class UsageError(BackfillError):
    """Bad input from a person (CLI, flow parameter, setting): exit code 2, nothing written."""

    exit_code = 2


class WarehouseError(BackfillError):
    """A warehouse call failed; ``transient`` says whether a retry may succeed."""

    def __init__(self, message: str, *, transient: bool = False, reason: str = "error") -> None:
        super().__init__(message)
        self.transient = transient
        self.reason = reason


class TransientWarehouseError(WarehouseError):
    def __init__(self, message: str, *, reason: str = "transient") -> None:
        super().__init__(message, transient=True, reason=reason)


class WarehouseUnavailable(WarehouseError):
    """The warehouse cannot be opened at all (locked file, unreachable endpoint, no credentials).
    Never retried: the message says which setting or process to check."""


class RunLocked(BackfillError):
    """Another backfill is writing to the same warehouse (the run lock is held); nothing was
    written. The message names the holder when it is known."""


class UpstreamNotReady(BackfillError):
    """A chunk's inputs are not complete; the production processors refuse to run then."""

    def __init__(self, table: str, dates: Sequence[object], reason: str) -> None:
        shown = ", ".join(str(d) for d in list(dates)[:5])
        more = f" (+{len(dates) - 5} more)" if len(dates) > 5 else ""
        super().__init__(f"{table}: upstream not ready on {shown}{more}: {reason}")
        self.table = table
        self.dates = list(dates)
        self.reason = reason


class BackfillFailed(BackfillError):
    """A run finished with chunks that failed (or a gate that blocked); ``summary`` is the run
    summary (``RunSummary.as_dict``), for the notifications that report it."""

    def __init__(self, message: str, summary: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.summary = dict(summary or {})


@dataclass
class GateFailed(BackfillError):
    """The validation gate did not pass; ``problems`` maps table -> what is wrong."""

    phase: int
    problems: Mapping[str, list[str]] = field(default_factory=dict)
    # The validation report behind the verdict (nba_backfill.validation.ValidationReport):
    # the per-date gate goes on from it.
    report: Any = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        parts = [f"{t}: {'; '.join(p)}" for t, p in self.problems.items()]
        return f"Phase {self.phase} gate failed: " + " | ".join(parts)


# --- retry classification -------------------------------------------------------------------

_QUOTA_REASONS = {"quotaExceeded", "rateLimitExceeded", "backendError", "internalError"}
_QUOTA_MESSAGES = (
    "exceeded rate limits",
    "quota exceeded",
    "too many dml statements",
    "rate limit",
)
_SERIALIZATION_MESSAGES = (
    "could not serialize access",
    "transaction conflict",
    "concurrent update",
    "write-write conflict",
)
_NEVER_RETRY_REASONS = {"accessDenied", "invalidQuery", "notFound", "invalid", "billingNotEnabled"}


def classify(exc: BaseException) -> str | None:
    """Return the retry class of ``exc`` ("quota", "serialization", "server", "timeout",
    "connection") or None when retrying cannot help (syntax, not found, access denied, ...)."""
    if isinstance(exc, WarehouseUnavailable):
        return None
    if isinstance(exc, WarehouseError):
        if exc.transient:
            return exc.reason
        cause = exc.__cause__
        return classify(cause) if cause is not None else None
    message = str(exc).lower()
    try:
        from google.api_core import exceptions as gexc
    except ImportError:  # pragma: no cover - google-api-core is a hard dependency
        gexc = None  # type: ignore[assignment]
    if gexc is not None and isinstance(exc, gexc.RetryError):
        # The client's own HTTP retries gave up: classify what kept failing.
        return classify(exc.cause) if exc.cause is not None else None
    if gexc is not None and isinstance(exc, gexc.GoogleAPICallError):
        reasons = {str(e.get("reason", "")) for e in (exc.errors or []) if isinstance(e, dict)}
        # The text decides before the reason: BigQuery reports concurrent-update conflicts and
        # "too many DML statements" as invalidQuery, and a script's EXCEPTION handler that
        # re-raises (RAISE USING MESSAGE = @@error.message) keeps only the text.
        if isinstance(exc, gexc.BadRequest):
            if any(m in message for m in _SERIALIZATION_MESSAGES):
                return "serialization"
            if any(m in message for m in _QUOTA_MESSAGES):
                return "quota"
        if reasons & _NEVER_RETRY_REASONS - {"invalid"} and not reasons & _QUOTA_REASONS:
            return None
        if isinstance(exc, gexc.TooManyRequests):
            return "quota"
        if isinstance(exc, gexc.Forbidden):
            if reasons & {"quotaExceeded", "rateLimitExceeded"} or any(
                m in message for m in _QUOTA_MESSAGES
            ):
                return "quota"
            return None
        if isinstance(exc, gexc.BadRequest):  # its transient texts were matched above
            return "quota" if reasons & {"quotaExceeded", "rateLimitExceeded"} else None
        if isinstance(exc, gexc.DeadlineExceeded):  # a GatewayTimeout subclass: test first
            return "timeout"
        if isinstance(
            exc,
            gexc.InternalServerError
            | gexc.BadGateway
            | gexc.ServiceUnavailable
            | gexc.GatewayTimeout,
        ):
            return "server"
        return None
    if isinstance(exc, TimeoutError | concurrent.futures.TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionError):
        return "connection"
    try:
        import requests

        if isinstance(exc, requests.exceptions.Timeout):
            return "timeout"
        if isinstance(exc, requests.exceptions.ConnectionError):
            return "connection"
    except ImportError:  # pragma: no cover
        pass
    try:
        import duckdb

        if isinstance(exc, duckdb.TransactionException) and any(
            m in message for m in _SERIALIZATION_MESSAGES
        ):
            return "serialization"
    except ImportError:  # pragma: no cover
        pass
    return None


# What an external processor's last stderr lines say when retrying may help: the warehouse's
# quota / rate-limit texts above, its 5xx answers, and timeouts (an HTTP client's or ours).
_TEXT_CLASSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("quota", (*_QUOTA_MESSAGES, "quotaexceeded", "ratelimitexceeded", "429 too many")),
    ("serialization", _SERIALIZATION_MESSAGES),
    (
        "server",
        (
            "500 internal",
            "502 bad gateway",
            "503 service unavailable",
            "504 gateway",
            "backenderror",
            "internalerror",
            "service unavailable",
        ),
    ),
    ("timeout", ("deadline exceeded", "timed out", "timeout")),
)


def classify_text(text: str) -> str | None:
    """The retry class an error *text* names (a processor's stderr), or None: the texts
    :func:`classify` matches on a warehouse error's message, for errors that reach us only as
    text."""
    lowered = text.lower()
    for reason, needles in _TEXT_CLASSES:
        if any(n in lowered for n in needles):
            return reason
    return None


class ProducerFailed(WarehouseError):
    """An external processor's attempt failed (non-zero exit or timeout); retried when its
    last stderr lines name a transient cause (:func:`classify_text`) or it timed out.
    ``stopped``: the run stopped it (an interrupt), which says nothing of its dates;
    ``stderr``: its last stderr lines, which say what kind of error it met."""

    def __init__(
        self, message: str, *, reason: str | None, stopped: bool = False, stderr: str = ""
    ) -> None:
        super().__init__(message, transient=reason is not None, reason=reason or "error")
        self.stopped = stopped
        self.stderr = stderr


class ProducerIncomplete(BackfillError):
    """An external processor exited 0 and yet the warehouse does not hold its dates complete
    (the platform's jobs exit 0 when dates failed): a failed chunk naming those dates. Not
    retried: a zero exit says nothing about why."""

    def __init__(self, table: str, start: object, end: object, dates: Sequence[object]) -> None:
        shown = ", ".join(str(d) for d in list(dates)[:5])
        more = f" (+{len(dates) - 5} more)" if len(dates) > 5 else ""
        super().__init__(
            f"{table} {start}..{end}: the processor exited 0 but {len(dates)} date(s) are not "
            f"complete in the warehouse: {shown}{more}"
        )
        self.table = table
        self.dates = list(dates)


# BigQuery's answers that a table has too many mutations at once: not a fault of the statement,
# of the quota or of the service, but of the concurrency; the DML limiter (limiter.py) backs off
# and lowers this process's writers of the table when it sees one.
_CONFLICT_MESSAGES = ("too many dml statements outstanding", *_SERIALIZATION_MESSAGES)


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) is a DML *conflict*: "too many DML statements
    outstanding" or "Could not serialize access to table … due to concurrent update". Both are
    transient (:func:`classify` says "quota" and "serialization")."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if any(m in str(seen).lower() for m in _CONFLICT_MESSAGES) and classify(seen):
            return True
        seen = seen.__cause__
    return False


def is_transient(exc: BaseException) -> bool:
    return classify(exc) is not None


# What a write fails with when a value of the data it reads is bad (a cast, an overflow, a
# division, a scalar subquery or a MERGE with more than one row): BigQuery reports these as
# invalidQuery like a syntax error, so the text tells them apart.
_DATA_MESSAGES = (
    "bad bool value",
    "bad double value",
    "bad int64 value",
    "bad numeric value",
    "could not cast",
    "invalid numeric value",
    "invalid date",
    "invalid timestamp",
    "numeric overflow",
    "out of range",
    "overflow",
    "division by zero",
    "produced more than one element",
    "must match at most one source row",
)


def is_data_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a permanent error that the data of some dates may cause, so that a
    write of fewer dates may succeed (``runner`` narrows a failing chunk on these only). Never
    a transient error (the retry policy handles those), an injected fault or a syntax, access
    or not-found error (every date fails alike), a warehouse that cannot be opened, or an
    external processor's timeout or stop (a hang is not a date's doing)."""
    if is_transient(exc) or isinstance(exc, WarehouseUnavailable):
        return False
    if isinstance(exc, ProducerFailed):
        return not exc.stopped and _names_data_error(exc.stderr or str(exc))
    if isinstance(exc, WarehouseError):
        cause = exc.__cause__
        return cause is not None and is_data_error(cause)
    try:
        import duckdb

        if isinstance(exc, duckdb.DataError):  # conversion, out of range, ...
            return True
    except ImportError:  # pragma: no cover
        pass
    try:
        from google.api_core import exceptions as gexc
    except ImportError:  # pragma: no cover
        return False
    if isinstance(exc, gexc.BadRequest):
        reasons = {str(e.get("reason", "")) for e in (exc.errors or []) if isinstance(e, dict)}
        return not reasons & (_NEVER_RETRY_REASONS - {"invalid", "invalidQuery"}) and (
            _names_data_error(str(exc))
        )
    return False


def _names_data_error(text: str) -> bool:
    lowered = text.lower()
    return "syntax error" not in lowered and any(m in lowered for m in _DATA_MESSAGES)


@dataclass(frozen=True)
class DateError:
    """One date a narrowed chunk could not write, and why (the error's class and first line)."""

    date: object
    error_class: str
    error: str


class DatesFailed(BackfillError):
    """A chunk whose write failed with a data error on some dates: narrowed down to them, the
    other dates were written (``report``: the chunk's report, ``ChunkResult.as_dict``, with
    ``dates_failed``). A failed chunk all the same: the run must not end Completed."""

    def __init__(
        self,
        table: str,
        start: object,
        end: object,
        failed: Sequence[DateError],
        report: Mapping[str, Any],
    ) -> None:
        shown = "; ".join(f"{f.date}: {f.error}" for f in list(failed)[:3])
        more = f" (+{len(failed) - 3} more)" if len(failed) > 3 else ""
        super().__init__(f"{table} {start}..{end}: {len(failed)} date(s) failed: {shown}{more}")
        self.table = table
        self.failed = list(failed)
        self.report = dict(report)
