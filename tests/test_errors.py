"""errors.classify: which failures are worth retrying, with the exception objects the BigQuery
client really raises (google.api_core), the transport's, and the standard library's."""

from __future__ import annotations

import concurrent.futures

import pytest
import requests
from google.api_core import exceptions as gexc

from nba_backfill.errors import (
    TransientWarehouseError,
    UsageError,
    WarehouseError,
    classify,
    is_transient,
)


def _reason(reason: str, message: str = "") -> list[dict[str, str]]:
    return [{"reason": reason, "message": message, "domain": "global"}]


T = "nba-props-platform:nba_analytics.team_offense_game_summary"

CASES: list[tuple[str, BaseException, str | None]] = [
    # --- quota and rate limits (SPEC §7: production waits up to 600 s) ---
    ("403 quotaExceeded", gexc.Forbidden(
        "Quota exceeded: Your project exceeded quota for concurrent queries",
        errors=_reason("quotaExceeded")), "quota"),
    ("403 rateLimitExceeded", gexc.Forbidden(
        "Exceeded rate limits: too many table update operations for this table",
        errors=_reason("rateLimitExceeded")), "quota"),
    ("403 rate limit by text only", gexc.Forbidden(
        "Exceeded rate limits: too many api requests per user per method"), "quota"),
    ("400 rateLimitExceeded", gexc.BadRequest(
        "Exceeded rate limits: too many concurrent queries",
        errors=_reason("rateLimitExceeded")), "quota"),
    ("429", gexc.TooManyRequests("Too many requests"), "quota"),
    ("400 too many DML statements", gexc.BadRequest(
        f"Resources exceeded during query execution: Too many DML statements outstanding "
        f"against table {T}, limit is 20."), "quota"),
    ("400 too many DML statements, invalidQuery", gexc.BadRequest(
        f"Too many DML statements outstanding against table {T}, limit is 20.",
        errors=_reason("invalidQuery")), "quota"),
    # --- concurrent-update serialization (production waits up to 120 s) ---
    ("400 serialization", gexc.BadRequest(
        f"Could not serialize access to table {T} due to concurrent update"), "serialization"),
    # The reason BigQuery attaches is invalidQuery; a script's EXCEPTION handler re-raising
    # with RAISE USING MESSAGE = @@error.message keeps the text, not the original reason.
    ("400 serialization, invalidQuery", gexc.BadRequest(
        f"Could not serialize access to table {T} due to concurrent update",
        errors=_reason("invalidQuery")), "serialization"),
    ("400 transaction conflict", gexc.BadRequest(
        "Transaction is aborted due to concurrent update against table"), "serialization"),
    # --- server side ---
    ("500", gexc.InternalServerError("An internal error occurred",
                                     errors=_reason("internalError")), "server"),
    ("500 backendError", gexc.InternalServerError("Backend error", errors=_reason("backendError")),
     "server"),
    ("502", gexc.BadGateway("Bad gateway"), "server"),
    ("503", gexc.ServiceUnavailable("Service unavailable"), "server"),
    ("504", gexc.GatewayTimeout("Gateway timeout"), "server"),
    # --- timeouts and connections ---
    ("DeadlineExceeded", gexc.DeadlineExceeded("Deadline of 600.0s exceeded"), "timeout"),
    ("requests Timeout", requests.exceptions.ReadTimeout("read timed out"), "timeout"),
    ("requests ConnectTimeout", requests.exceptions.ConnectTimeout("connect timed out"),
     "timeout"),
    ("requests ConnectionError", requests.exceptions.ConnectionError("connection reset"),
     "connection"),
    ("TimeoutError", TimeoutError("timed out"), "timeout"),
    ("futures TimeoutError", concurrent.futures.TimeoutError(), "timeout"),
    ("ConnectionResetError", ConnectionResetError(104, "Connection reset by peer"), "connection"),
    # The client's own HTTP retries gave up: what matters is what kept failing.
    ("RetryError of a connection error", gexc.RetryError(
        "Timeout of 120.0s exceeded", requests.exceptions.ConnectionError("refused")),
     "connection"),
    ("RetryError of a 503", gexc.RetryError(
        "Timeout of 120.0s exceeded", gexc.ServiceUnavailable("unavailable")), "server"),
    # --- never retried: the same request would fail again ---
    ("400 syntax", gexc.BadRequest(
        'Syntax error: Unexpected identifier "selec" at [1:1]',
        errors=_reason("invalidQuery")), None),
    ("400 invalid", gexc.BadRequest("Invalid value for field", errors=_reason("invalid")), None),
    ("400 no reason", gexc.BadRequest("Unrecognized name: possesions at [3:5]"), None),
    ("404", gexc.NotFound(f"Not found: Table {T} was not found in location us-west2",
                          errors=_reason("notFound")), None),
    ("403 accessDenied", gexc.Forbidden(
        "Access Denied: Table nba-props-platform:nba_raw.nbac_team_boxscore: User does not "
        "have permission to query table", errors=_reason("accessDenied")), None),
    ("403 billingNotEnabled", gexc.Forbidden("Billing has not been enabled for this project",
                                             errors=_reason("billingNotEnabled")), None),
    ("401", gexc.Unauthorized("Request had invalid authentication credentials"), None),
    ("RetryError of a 400", gexc.RetryError("gave up", gexc.BadRequest("Syntax error")), None),
    ("RetryError without a cause", gexc.RetryError("gave up", None), None),
    ("ValueError", ValueError("bad value"), None),
    ("KeyError", KeyError("column"), None),
    ("UsageError", UsageError("unknown table 'x'"), None),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classify(exc: BaseException, expected: str | None) -> None:
    assert classify(exc) == expected
    assert is_transient(exc) is (expected is not None)


@pytest.mark.parametrize(("exc", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_warehouse_error_classifies_by_its_cause(exc: BaseException, expected: str | None) -> None:
    """An adapter translates once at the boundary (``raise WarehouseError(...) from exc``);
    the retry decision still sees the vendor error through ``__cause__``."""
    try:
        try:
            raise exc
        except BaseException as inner:
            raise WarehouseError(f"replacing {T} 2024-01-01..2024-01-31: {inner}") from inner
    except WarehouseError as wrapped:
        assert wrapped.__cause__ is exc
        assert classify(wrapped) == expected


def test_transient_warehouse_error_keeps_its_reason() -> None:
    err = TransientWarehouseError("locked", reason="serialization")
    assert classify(err) == "serialization" and is_transient(err)
    assert classify(WarehouseError("plain, no cause")) is None


def test_transient_flag_wins_over_a_permanent_cause() -> None:
    try:
        raise TransientWarehouseError("retry me", reason="quota") from ValueError("x")
    except TransientWarehouseError as err:
        assert classify(err) == "quota"
