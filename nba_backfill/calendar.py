"""Season calendar: openers, season years and bootstrap days (SPEC §2).

Expected *game dates* always come from the schedule table; this module only knows the facts that
the schedule cannot tell (which day a season opened, and therefore its bootstrap window).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

SEASON_OPENERS: dict[int, dt.date] = {
    2021: dt.date(2021, 10, 19),
    2022: dt.date(2022, 10, 18),
    2023: dt.date(2023, 10, 24),
    2024: dt.date(2024, 10, 22),
    2025: dt.date(2025, 10, 21),
}
BOOTSTRAP_DAYS = 14


def season_year(day: dt.date) -> int:
    """The opener's year: Oct-Dec dates are in their calendar year, Jan-Sep in the year before."""
    return day.year if day.month >= 10 else day.year - 1


def season_opener(day: dt.date) -> dt.date | None:
    return SEASON_OPENERS.get(season_year(day))


def is_bootstrap(day: dt.date) -> bool:
    """True on a season's first 14 days (opener + 0..13), when Phase 4 writes nothing."""
    opener = season_opener(day)
    return opener is not None and 0 <= (day - opener).days < BOOTSTRAP_DAYS


def daterange(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)
