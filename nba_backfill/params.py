"""Run parameters: defaults from settings, validated once (CLI, flow parameters and
deployments all go through here), so bad input fails with one line before anything runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from nba_backfill.catalog import resolve_tables
from nba_backfill.errors import UsageError
from nba_backfill.settings import Settings


@dataclass(frozen=True)
class RunParams:
    start: dt.date
    end: dt.date
    tables: list[str] | None  # None = every table
    chunk_days: int
    max_concurrency: int
    skip_phase4: bool = False

    def phase_tables(self, phase: int) -> list[str]:
        return [t.name for t in resolve_tables(self.tables) if t.phase == phase]


def parse_date(value: dt.date | str | None, what: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise UsageError(f"{what} {value!r} is not a date (expected YYYY-MM-DD)") from None


def resolve_params(
    settings: Settings,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    tables: list[str] | None = None,
    chunk_days: int | None = None,
    max_concurrency: int | None = None,
    skip_phase4: bool = False,
) -> RunParams:
    s = parse_date(start, "start date") or settings.run.start_date
    e = parse_date(end, "end date") or settings.run.end_date
    if e < s:
        raise UsageError(f"end date {e} is before start date {s}")
    if tables is not None:
        tables = [t.name for t in resolve_tables(tables)]
    chunk = settings.run.chunk_days if chunk_days is None else chunk_days
    if chunk < 1:
        raise UsageError(f"chunk size must be at least 1 day, got {chunk}")
    conc = settings.run.max_concurrency if max_concurrency is None else max_concurrency
    if conc < 1:
        raise UsageError(f"max concurrency must be at least 1, got {conc}")
    return RunParams(s, e, tables, chunk, conc, skip_phase4)
