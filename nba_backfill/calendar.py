"""Season calendar: season years, openers and bootstrap days (SPEC §2).

Nothing here is hard-coded: expected game dates *and* season openers come from the schedule
(``Warehouse.schedule`` / ``Warehouse.season_openers``). A season's opener is its first
regular-season game date; its bootstrap days are opener + 0..13, when Phase 4 writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from nba_backfill.errors import UsageError

BOOTSTRAP_DAYS = 14


def season_year(day: dt.date) -> int:
    """The opener's year: Oct-Dec dates are in their calendar year, Jan-Sep in the year before."""
    return day.year if day.month >= 10 else day.year - 1


@dataclass(frozen=True)
class Openers:
    """The season openers of one schedule (season_year -> first regular-season game date)."""

    by_season: Mapping[int, dt.date] = field(default_factory=dict)

    def opener(self, day: dt.date) -> dt.date | None:
        return self.by_season.get(season_year(day))

    def is_bootstrap(self, day: dt.date) -> bool:
        """True on a season's first 14 days (opener + 0..13), when Phase 4 writes nothing."""
        opener = self.opener(day)
        return opener is not None and 0 <= (day - opener).days < BOOTSTRAP_DAYS

    def bootstrap_days(self) -> set[dt.date]:
        return {
            o + dt.timedelta(days=i) for o in self.by_season.values() for i in range(BOOTSTRAP_DAYS)
        }


def daterange(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def check_order(
    start: dt.date, end: dt.date, first: str = "start date", last: str = "end date"
) -> None:
    """The one check that a date range is not reversed (run parameters, the planner's and
    validation's range, the settings' defaults); ``first`` / ``last`` name the two ends in
    the message. Raises UsageError."""
    if end < start:
        raise UsageError(f"{last} {end} is before {first} {start}")
