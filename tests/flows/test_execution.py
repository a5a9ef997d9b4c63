"""How a backfill runs its phases is chosen once, from ``fan_out`` (flows.backfill)."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill.errors import UsageError
from nba_backfill.params import RunParams

PARAMS = RunParams(dt.date(2021, 10, 19), dt.date(2021, 11, 30), None, 7, 2)


@pytest.mark.parametrize(
    ("fan_out", "kind"),
    [
        (False, "InProcess"),
        ("false", "InProcess"),
        ("0", "InProcess"),
        (True, "FanOut"),
        ("true", "FanOut"),
        (" 1 ", "FanOut"),
    ],
)
def test_fan_out_picks_the_execution(fan_out, kind):
    from flows.backfill import choose_execution

    execution = choose_execution(PARAMS, fan_out)
    assert type(execution).__name__ == kind
    assert execution.params == PARAMS  # type: ignore[attr-defined]


def test_a_fan_out_that_is_not_a_bool_is_a_usage_error():
    from flows.backfill import choose_execution

    with pytest.raises(UsageError, match="fan_out 'yes' is not true or false"):
        choose_execution(PARAMS, "yes")
