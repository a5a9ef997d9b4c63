"""Run parameters: one typed model, validated once when it is built — by the CLI, by a flow's
entry (its JSON parameters), by a deployment run's hooks — so bad input fails with one line
(a UsageError) before anything is read or written."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from nba_backfill.calendar import check_order
from nba_backfill.catalog import resolve_tables, with_readers
from nba_backfill.errors import UsageError
from nba_backfill.producers import check_producers
from nba_backfill.settings import CHUNK_DAYS_BOUNDS, MAX_CONCURRENCY_BOUNDS, Settings

# Reprocess modes: which dates a run writes (docs/operating.md, "Reprocess modes").
# missing: dates missing or incomplete, and complete dates made stale by a refilled input;
# failed: the dates failed runs left unfilled; all: every expected date, rewritten;
# dates: the dates listed (``--dates``); stale: the dates whose inputs or model changed since
# they were written (their write fingerprints, readiness.fingerprint_stale).
MODES = ("missing", "failed", "all", "dates", "stale")


def check_chunk_days(days: int) -> int:
    """``days`` when it is a valid chunk size (calendar days, within the settings' bounds);
    else a UsageError. The one chunk-size rule: run parameters and ``planner.chunk_dates``
    (the function every chunking goes through) call it."""
    lo, hi = CHUNK_DAYS_BOUNDS
    if days < lo:
        raise UsageError(f"chunk size must be at least {lo} day, got {days}")
    if days > hi:
        raise UsageError(f"chunk size must be at most {hi} days, got {days}")
    return days


def check_concurrency(tasks: int) -> int:
    """``tasks`` (chunk tasks at once) when within the settings' bounds; else a UsageError."""
    lo, hi = MAX_CONCURRENCY_BOUNDS
    if tasks < lo:
        raise UsageError(f"max concurrency must be at least {lo}, got {tasks}")
    if tasks > hi:
        raise UsageError(f"max concurrency must be at most {hi}, got {tasks}")
    return tasks


@dataclass(frozen=True)
class RunParams:
    """A backfill's parameters, valid by construction: ``start`` <= ``end``, ``chunk_days`` and
    ``max_concurrency`` within the settings' bounds, ``tables`` resolved to catalog names
    (``dataset.table``, catalog order; None = every table). Building one with anything else
    raises UsageError. :func:`resolve_params` builds one from raw values and defaults."""

    start: dt.date
    end: dt.date
    tables: list[str] | None  # None = every table
    chunk_days: int
    max_concurrency: int
    skip_phase4: bool = False
    mode: str = "missing"  # one of MODES
    dates: tuple[dt.date, ...] | None = None  # mode "dates": the dates asked for, sorted
    downstream: bool = True  # modes other than missing: also the windows reading them
    fail_fast: bool = False  # stop launching chunks at the first permanent chunk failure

    def __post_init__(self) -> None:
        check_order(self.start, self.end)
        check_chunk_days(self.chunk_days)
        check_concurrency(self.max_concurrency)
        if self.tables is not None:
            names = [t.name for t in resolve_tables(list(self.tables))]
            object.__setattr__(self, "tables", names)
        check_mode(self.mode, self.dates)
        if self.dates is not None:
            outside = [d for d in self.dates if not self.start <= d <= self.end]
            if outside:
                raise UsageError(f"date {outside[0]} is outside the range {self.start}..{self.end}")
            object.__setattr__(self, "dates", tuple(sorted(set(self.dates))))

    @property
    def run_tables(self) -> list[str] | None:
        """The tables the run writes: ``tables``, and with a reprocess mode other than
        missing and ``downstream``, every table reading one of them (transitively)."""
        if self.tables is None or self.mode == "missing" or not self.downstream:
            return self.tables
        return with_readers(self.tables)

    def phase_tables(self, phase: int) -> list[str]:
        return [t.name for t in resolve_tables(self.run_tables) if t.phase == phase]

    @property
    def to_phase4(self) -> bool:
        """Whether the run goes on to Phase 4: Phase 4 tables asked for and not skipped."""
        return not self.skip_phase4 and bool(self.phase_tables(4))

    def gate_tables(self) -> list[str] | None:
        """The Phase 3 tables whose checks decide the run: every one (None) when Phase 4
        follows — it reads them all — else only the Phase 3 tables the run fills (a run of
        two tables does not fail because a third is incomplete)."""
        return None if self.to_phase4 else self.phase_tables(3)


def parse_date(value: object, what: str) -> dt.date | None:
    """A date from a ``date`` (a datetime loses its time), an ISO ``YYYY-MM-DD`` string, or
    None; anything else is a UsageError naming ``what``."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        if not isinstance(value, str):
            raise ValueError
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"{what} {value!r} is not a date (expected YYYY-MM-DD)") from None


def check_mode(mode: str, dates: object) -> None:
    """A UsageError unless ``mode`` is one of :data:`MODES` and ``dates`` are given exactly
    when the mode is ``dates``."""
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    if mode == "dates" and not dates:
        raise UsageError("mode dates needs a list of dates (--dates 2021-11-20,2021-11-21)")
    if mode != "dates" and dates:
        raise UsageError(f"dates are listed only with mode dates, not with mode {mode}")


def parse_mode(value: object) -> str:
    if value is None:
        return "missing"
    if not isinstance(value, str) or value.strip().lower() not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}; got {value!r}")
    return value.strip().lower()


def parse_dates(value: object) -> tuple[dt.date, ...] | None:
    """Dates from a list, or a comma-separated string of ISO dates; None when not given.
    An empty list, or anything not a date, is a UsageError naming the first bad one."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise UsageError(f"dates {value!r} is not a list of dates (expected YYYY-MM-DD,...)")
    out = [parse_date(v, "date") for v in items if not (isinstance(v, str) and not v.strip())]
    if not out:
        raise UsageError("the date list is empty")
    return tuple(sorted({d for d in out if d is not None}))


def parse_int(value: object, what: str) -> int | None:
    """A whole number from an int or a string of digits, or None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise UsageError(f"{what} {value!r} is not a whole number")


def parse_phase(value: object) -> int:
    """A phase to validate: 3 (the gate) or 4 (after Phase 4), as an int or a string."""
    phase = parse_int(value, "phase")
    if phase is None or phase not in (3, 4):
        raise UsageError(f"phase must be 3 or 4, got {value}")
    return phase


def parse_tables(value: object) -> list[str] | None:
    """Table names from a list, or a comma-separated string (as typed on a command line or
    in a deployment run's parameters); None means every table."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
        raise UsageError(f"tables {value!r} is not a list of table names")
    return [t.strip() for t in value if t.strip()]


def parse_bool(value: object, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise UsageError(f"{what} {value!r} is not true or false")


def resolve_params(
    settings: Settings,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    tables: list[str] | str | None = None,
    chunk_days: int | str | None = None,
    max_concurrency: int | str | None = None,
    skip_phase4: bool | str = False,
    mode: str | None = None,
    dates: list[str] | list[dt.date] | str | None = None,
    downstream: bool | str = True,
    fail_fast: bool | str = False,
) -> RunParams:
    """Validate run parameters as they come — typed from the CLI, or as JSON values (strings
    for dates) from a deployment run or a flow call — and fill in the settings' defaults.
    The flows skip Prefect's own parameter validation so that :class:`RunParams` is the only
    one: bad input fails with one line naming the problem, before anything is read or written.
    ``dates`` without a mode means mode ``dates``; without ``start`` the range starts at the
    first date listed and, without ``end``, ends at the last one or, ``downstream``, at the
    settings' end (the windows reading a date come after it)."""
    days = parse_dates(dates)
    how = parse_mode(mode) if mode is not None or days is None else "dates"
    down = parse_bool(downstream, "downstream")
    last = settings.run.end_date
    if days:
        last = max(days[-1], last) if down else days[-1]
    params = RunParams(
        parse_date(start, "start date") or (days[0] if days else settings.run.start_date),
        parse_date(end, "end date") or last,
        parse_tables(tables),
        *_chunking(settings, chunk_days, max_concurrency),
        skip_phase4=parse_bool(skip_phase4, "skip_phase4"),
        mode=how,
        dates=days,
        downstream=down,
        fail_fast=parse_bool(fail_fast, "fail_fast"),
    )
    # An external producer that cannot start is bad input like a bad date: one line, before
    # anything is read or written (run, plan and the flows all come through here).
    check_producers(settings, params.run_tables)
    return params


def _chunking(
    settings: Settings, chunk_days: int | str | None, max_concurrency: int | str | None
) -> tuple[int, int]:
    """Chunk size and concurrency as given (parsed) or the settings' defaults, unchecked."""
    chunk = parse_int(chunk_days, "chunk size")
    conc = parse_int(max_concurrency, "max concurrency")
    return (
        settings.run.chunk_days if chunk is None else chunk,
        settings.run.max_concurrency if conc is None else conc,
    )


@dataclass(frozen=True)
class RerunParams:
    """``rerun-failed-dates``' parameters, valid by construction like :class:`RunParams`."""

    lookback_days: int
    chunk_days: int
    max_concurrency: int
    since: dt.datetime | None  # None: ``lookback_days`` before now
    downstream: bool = False  # also the dates whose windows read the dates it refills

    def __post_init__(self) -> None:
        if self.lookback_days < 1:
            raise UsageError(f"lookback days must be at least 1, got {self.lookback_days}")
        check_chunk_days(self.chunk_days)
        check_concurrency(self.max_concurrency)


def resolve_rerun_params(
    settings: Settings,
    lookback_days: int | str | None = None,
    chunk_days: int | str | None = None,
    max_concurrency: int | str | None = None,
    since: dt.datetime | str | None = None,
    downstream: bool | str = False,
) -> RerunParams:
    """``rerun-failed-dates``' parameters, validated like :func:`resolve_params` (one line)."""
    days = parse_int(lookback_days, "lookback days")
    days = settings.prefect.rerun_lookback_days if days is None else days
    chunk, conc = _chunking(settings, chunk_days, max_concurrency)
    when: dt.datetime | None
    if since is None or isinstance(since, dt.datetime):
        when = since
    else:
        try:
            if not isinstance(since, str):
                raise ValueError
            when = dt.datetime.fromisoformat(since.strip())
        except ValueError:
            raise UsageError(
                f"since {since!r} is not a date-time (expected YYYY-MM-DDTHH:MM[:SS][+00:00])"
            ) from None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    if when is not None and when > dt.datetime.now(dt.UTC):
        raise UsageError(f"since {when.isoformat()} is in the future")
    check_producers(settings)
    return RerunParams(days, chunk, conc, when, parse_bool(downstream, "downstream"))
