"""Readiness: is one date of a table complete, and are a date's inputs ready to write it.

The one home of these decisions: the planner (what to plan, what to skip), the runner (what
to write now) and validation (why a Phase 4 date is missing) all ask here, so a date is
blocked for the same reason, in the same words, wherever it is looked at.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from nba_backfill.calendar import Openers
from nba_backfill.catalog import TABLES, Completeness, Dependency, TableSpec
from nba_backfill.fingerprints import Recorded, inputs_of
from nba_backfill.warehouse.base import DateProfile, MissingGame, Warehouse

ONE_DAY = dt.timedelta(days=1)


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def expired_through(wh: Warehouse, spec: TableSpec, today: dt.date) -> dt.date | None:
    """The last date whose partition ``spec``'s table would drop on arrival, or None when the
    table keeps its partitions. BigQuery drops partition D once D's end boundary plus
    ``partition_expiration_days`` has passed, i.e. during day D + 1 + N; skipping D = today - N
    too keeps a one-day margin (a date written now would be gone by tomorrow). The setting is
    the live table's on BigQuery, the contract's on DuckDB (production's DDL: 30 days for
    player_daily_cache, 90 for the zone tables)."""
    days = wh.partition_expiration_days(spec)
    if not days:
        return None
    return today - dt.timedelta(days=math.ceil(days))


def expiry_reason(wh: Warehouse, spec: TableSpec) -> str:
    """Why a date of ``spec`` is skipped when its table drops it on arrival."""
    days = wh.partition_expiration_days(spec)
    return f"expires on arrival (the table drops partitions after {days:g} days)"


def is_complete(spec: TableSpec, profile: DateProfile | None, games: int, skipped: int = 0) -> bool:
    """Whether one date of ``spec`` holds complete rows for the schedule's ``games`` that day.

    "The date has rows" is not enough (SPEC §6): a run that saved 2 of 16 teams, or an upcoming
    table holding one player, must count as incomplete. Nor are rows the key audits find (a
    NULL key column, a duplicated key): the date is re-planned, and replacing it repairs it
    once its inputs are fixed. At the table's grain (its catalog ``expected_set``), every
    entity the inputs hold needs its row — a crash that saved 1 of a team's players still
    counts that team — and no row may name an entity the inputs do not hold (an orphan):
    replacing the date writes the one and drops the other."""
    if games <= 0:
        # Every game of the date lacks its results (``counted_games``): nothing to write; the
        # date is reported as skipped (inputs missing), never claimed complete.
        return True
    if profile is None or profile.rows == 0:
        return False
    if profile.null_keys or profile.duplicate_keys:
        return False
    if profile.missing_entities or profile.surplus_entities:
        return False
    if spec.completeness is Completeness.TWO_TEAMS_PER_GAME:
        # ``skipped`` games lack part of their inputs: the table may hold their rows (box
        # scores arrived, the gamebook did not) or not; never more teams than that.
        return profile.rows == profile.teams and 2 * games <= profile.teams <= 2 * (games + skipped)
    if spec.completeness is Completeness.EVERY_TEAM:
        return profile.teams >= 2 * games
    return True


INPUTS_MISSING = "skipped: inputs missing"


def counted_games(
    spec: TableSpec, schedule: Mapping[dt.date, int], missing: Iterable[MissingGame]
) -> dict[dt.date, int]:
    """Date -> the games of ``schedule`` a date of ``spec`` must hold rows for: every expected
    game, less the ``missing`` ones (final games whose box scores or gamebook never arrived)
    when the table's rows come from a game's results (``TableSpec.from_game_results``). Such
    a date is not re-planned while the inputs are missing (rewriting it changes nothing), and
    counts every game again once they arrive."""
    counted = dict(schedule)
    if spec.from_game_results:
        for game in missing:
            if game.game_date in counted:
                counted[game.game_date] -= 1
    return counted


def skipped_games(spec: TableSpec, missing: Iterable[MissingGame]) -> dict[dt.date, int]:
    """Date -> how many ``missing`` games :func:`counted_games` counts out for ``spec``."""
    out: dict[dt.date, int] = {}
    if spec.from_game_results:
        for game in missing:
            out[game.game_date] = out.get(game.game_date, 0) + 1
    return out


def games_by_date(games: Iterable[MissingGame]) -> dict[dt.date, list[MissingGame]]:
    out: dict[dt.date, list[MissingGame]] = {}
    for game in games:
        out.setdefault(game.game_date, []).append(game)
    return out


def inputs_missing(
    spec: TableSpec, dates: Iterable[dt.date], missing: Iterable[MissingGame]
) -> dict[dt.date, str]:
    """The dates of ``dates`` where ``spec`` skips games whose inputs never arrived, each with
    the games named (``skipped: inputs missing: <id> <away>@<home> <date>``); empty for a
    table written from the schedule alone."""
    if not spec.from_game_results:
        return {}
    by_date = games_by_date(missing)
    return {
        d: f"{INPUTS_MISSING}: " + ", ".join(g.label for g in by_date[d])
        for d in sorted(set(dates))
        if d in by_date
    }


def required_dates(
    day: dt.date, lookback_days: int, same_date: bool, expected: Sequence[dt.date]
) -> list[dt.date]:
    """The dates of ``expected`` an input must hold for ``day``: ``[day - lookback_days, day]``,
    ``day`` itself left out when the window is strictly before the date."""
    lo = day - dt.timedelta(days=lookback_days)
    hi = day if same_date else day - ONE_DAY
    return [d for d in expected if lo <= d <= hi]


def short_inputs(
    spec: TableSpec,
    dates: Iterable[dt.date],
    expected: Sequence[dt.date],
    complete: Mapping[str, Collection[dt.date]],
    expired: Mapping[str, dt.date | None],
    upcoming: Mapping[str, Collection[dt.date]] | None = None,
) -> dict[dt.date, str]:
    """The dates of ``dates`` that ``spec`` must not be written on yet, each with its reason
    (``input <table> incomplete on <date>``, ``(+N more)`` when several input dates are short).

    A date is blocked when a *required* input (catalog order: the first short one names the
    reason) is not complete on every date of its window, out of ``expected`` (the schedule's
    dates, covering the look-back). ``complete`` maps each required input table to its
    complete dates; ``expired`` an input table to the last date it drops on arrival (None:
    keeps all) — such a date never blocks: it can never be there, and the models fall back as
    for any absent row. ``upcoming`` (the planner's) maps an input table to the dates the same
    run will fill before this table: they count as ready. Raises KeyError when ``complete``
    lacks a required input."""
    later = upcoming or {}
    blocked: dict[dt.date, str] = {}
    for day in dates:
        for dep in spec.depends_on:
            if not dep.required:
                continue
            up = TABLES[dep.table]
            done, planned, gone = complete[up.name], later.get(up.name, ()), expired.get(up.name)
            need = required_dates(day, dep.lookback_days, dep.same_date, expected)
            short = [
                d for d in need if d not in done and d not in planned and (gone is None or d > gone)
            ]
            if short:
                more = f" (+{len(short) - 1} more)" if len(short) > 1 else ""
                blocked[day] = f"input {up.table} incomplete on {short[0]}{more}"
                break
    return blocked


def complete_dates(
    wh: Warehouse,
    spec: TableSpec,
    schedule: Mapping[dt.date, int],
    lo: dt.date,
    hi: dt.date,
    missing: Iterable[MissingGame] = (),
) -> set[dt.date]:
    """The dates of ``schedule`` (date -> final games) on ``[lo, hi]`` whose rows of ``spec``
    are complete now (one ``date_profile`` read: rows, teams and key audits per date), the
    ``missing`` games (inputs never arrived) counted out (:func:`counted_games`)."""
    return judged_complete(spec, wh.date_profile(spec, lo, hi), schedule, lo, hi, missing)


def judged_complete(
    spec: TableSpec,
    prof: Mapping[dt.date, DateProfile],
    schedule: Mapping[dt.date, int],
    lo: dt.date,
    hi: dt.date,
    missing: Iterable[MissingGame] = (),
) -> set[dt.date]:
    """:func:`complete_dates` on a profile already read (``prof``, covering ``[lo, hi]``)."""
    skipped = skipped_games(spec, missing)
    return {
        d
        for d, games in counted_games(spec, schedule, missing).items()
        if lo <= d <= hi and is_complete(spec, prof.get(d), games, skipped.get(d, 0))
    }


def inputs_lookback(spec: TableSpec) -> int:
    """How many days before its first date a chunk of ``spec`` reads its required inputs."""
    return max((d.lookback_days for d in spec.depends_on if d.required), default=0)


def blocked_by_inputs(
    wh: Warehouse,
    spec: TableSpec,
    dates: Sequence[dt.date],
    schedule: Mapping[dt.date, int],
    today: dt.date | None = None,
    missing: Sequence[MissingGame] | None = None,
    settled: Mapping[str, Collection[dt.date]] | None = None,
) -> dict[dt.date, str]:
    """:func:`short_inputs` of ``dates`` against what the warehouse holds now: reads each
    required input's completeness over its windows and its expiry as of ``today`` (default
    UTC today). ``schedule`` (date -> final games) must cover the longest look-back;
    ``missing``, when given, the games missing inputs over the same span
    (:func:`inputs_lookback`), read by the caller (the runner reads them once per chunk).
    ``settled`` (input table -> complete dates over its window, ``Plan.settled_for``) stands
    for the read of those inputs: the run's plan read them, and nothing writes them since."""
    if not dates:
        return {}
    first, last = min(dates), max(dates)
    when = today or utc_today()
    complete: dict[str, set[dt.date]] = {}
    expired: dict[str, dt.date | None] = {}
    required = [d for d in spec.depends_on if d.required]
    if missing is None:
        lookback = inputs_lookback(spec)
        missing = (
            wh.games_missing_inputs(first - dt.timedelta(days=lookback), last) if required else []
        )
    # Every required input's profile over its window in one query job (a job each costs a
    # BigQuery job start per input per chunk); each judged as ``complete_dates`` judges it.
    given = settled or {}
    asks = [
        (TABLES[dep.table], first - dt.timedelta(days=dep.lookback_days), last)
        for dep in required
        if dep.table not in given
    ]
    profiles = wh.date_profiles(asks) if asks else {}
    for up, lo, hi in asks:
        complete.setdefault(up.name, set()).update(
            judged_complete(up, profiles[up.name], schedule, lo, hi, missing)
        )
    for dep in required:
        if dep.table in given:
            complete.setdefault(dep.table, set()).update(given[dep.table])
        expired[dep.table] = expired_through(wh, TABLES[dep.table], when)
    return short_inputs(spec, dates, sorted(schedule), complete, expired)


@dataclass(frozen=True)
class ScheduleReads:
    """The schedule (date -> final games) and the games missing inputs over ``[lo, hi]``, as a
    plan read them, with the schedule's first and last dates (``bounds``) and its season
    openers: a run's chunks take their slices (:meth:`covers`, :meth:`schedule_on`,
    :meth:`missing_on`) instead of reading both again per chunk, and the run's later plans
    and validations take them whole (:meth:`serves`). None of them is written by a backfill
    (Phase 2 and the schedule come from the scrapers); a game arriving during a run is seen
    by the next run's plan, which re-judges every date."""

    lo: dt.date
    hi: dt.date
    schedule: Mapping[dt.date, int]
    missing: tuple[MissingGame, ...] = ()
    bounds: tuple[dt.date, dt.date] | None = None  # Warehouse.schedule_bounds(), when read
    openers: Openers | None = None  # Warehouse.season_openers(), when read

    def serves(self, lo: dt.date, hi: dt.date) -> bool:
        """Whether a whole plan or validation reading ``[lo, hi]`` can take these reads
        instead of its own: they cover the span and hold the bounds and openers too."""
        return self.bounds is not None and self.openers is not None and self.covers(lo, hi)

    def covers(self, lo: dt.date, hi: dt.date) -> bool:
        """Whether ``[lo, hi]`` was read whole: a slice of a shorter read would leave out
        look-back dates, and a date whose input window is not in the schedule is never
        blocked, so the caller reads for itself instead."""
        return self.lo <= lo and hi <= self.hi

    def schedule_on(self, lo: dt.date, hi: dt.date) -> dict[dt.date, int]:
        return {d: g for d, g in self.schedule.items() if lo <= d <= hi}

    def missing_on(self, lo: dt.date, hi: dt.date) -> list[MissingGame]:
        return [g for g in self.missing if lo <= g.game_date <= hi]

    def sliced(self, lo: dt.date, hi: dt.date) -> ScheduleReads:
        """The part on ``[lo, hi]`` (what one chunk needs; None-free: ``lo``/``hi`` clipped to
        what was read, so :meth:`covers` still says the truth)."""
        a, b = max(lo, self.lo), min(hi, self.hi)
        return ScheduleReads(a, b, self.schedule_on(a, b), tuple(self.missing_on(a, b)))


# --- stale dates: an input date rewritten after the date was written -------------------------
# (first, last) time a date's rows were written (``Warehouse.written_at``).
Written = tuple[dt.datetime, dt.datetime]


def window_of(day: dt.date, dep: Dependency) -> tuple[dt.date, dt.date]:
    """The input dates ``[lo, hi]`` the rows of ``day`` read through ``dep``."""
    hi = day if dep.same_date else day - ONE_DAY
    return day - dt.timedelta(days=dep.lookback_days), hi


def _dates_in(days: Sequence[dt.date], lo: dt.date, hi: dt.date) -> Sequence[dt.date]:
    """The dates of the sorted ``days`` on ``[lo, hi]``."""
    return days[bisect.bisect_left(days, lo) : bisect.bisect_right(days, hi)]


def _reason(table: str, dates: Sequence[dt.date], why: str) -> str:
    more = f" (+{len(dates) - 1} more)" if len(dates) > 1 else ""
    return f"stale: input {table.split('.')[1]} {dates[0]}{more} {why}"


def stale_dates(
    spec: TableSpec,
    dates: Iterable[dt.date],
    written: Mapping[dt.date, Written],
    inputs_written: Mapping[str, Mapping[dt.date, Written]],
) -> dict[dt.date, str]:
    """The dates of ``dates`` whose rows of ``spec`` were written before an input date their
    windows read (``TableSpec.input_windows``) was last written, each with its reason
    (``stale: input <table> <date> refilled after it``): they hold values computed without
    that refill. ``written`` is ``spec``'s (first, last) write times per date,
    ``inputs_written`` the same per input table (a table absent there is not looked at).
    The rule compares times only: an input rewritten with the same values still makes the
    date stale (fingerprints would tell, at a cost)."""
    out: dict[dt.date, str] = {}
    ups = [
        (dep, sorted(inputs_written[dep.table]), inputs_written[dep.table])
        for dep in spec.input_windows
        if inputs_written.get(dep.table)
    ]
    newest = {dep.table: max(last for _, last in w.values()) for dep, _, w in ups}
    for day in sorted(dates):
        if day not in written:
            continue
        first = written[day][0]
        for dep, days, times in ups:
            if newest[dep.table] <= first:  # nothing of this input was written after the date
                continue
            later = [d for d in _dates_in(days, *window_of(day, dep)) if times[d][1] > first]
            if later:
                out[day] = _reason(dep.table, later, "refilled after it")
                break
    return out


def refilled_inputs(
    spec: TableSpec, dates: Iterable[dt.date], planned: Mapping[str, Collection[dt.date]]
) -> dict[dt.date, str]:
    """The dates of ``dates`` whose windows read an input date the same run writes first
    (``planned``: input table -> dates it fills), each with its reason: written before that
    input date is, they would hold values computed without it."""
    out: dict[dt.date, str] = {}
    ups = [
        (dep, sorted(planned[dep.table])) for dep in spec.input_windows if planned.get(dep.table)
    ]
    for day in sorted(dates):
        for dep, days in ups:
            hit = _dates_in(days, *window_of(day, dep))
            if hit:
                out[day] = _reason(dep.table, hit, "is refilled first, in the same run")
                break
    return out


def read_written(
    wh: Warehouse, specs: Iterable[TableSpec], start: dt.date, end: dt.date
) -> dict[str, dict[dt.date, Written]]:
    """``Warehouse.written_at`` of ``specs`` and of every table their windows read, each table
    once, from ``start`` less the longest window to ``end``: all in one query job
    (``Warehouse.written_at_many``)."""
    specs = list(specs)
    reach = max((d.lookback_days for s in specs for d in s.input_windows), default=0)
    lo = start - dt.timedelta(days=reach)
    names = {s.name for s in specs} | {d.table for s in specs for d in s.input_windows}
    return wh.written_at_many([(TABLES[n], lo, end) for n in TABLES if n in names])


# --- stale dates by fingerprint: what a date read, or the model, changed since it was written --
def fingerprint_stale(
    spec: TableSpec,
    dates: Iterable[dt.date],
    recorded: Mapping[dt.date, Recorded],
    current: Mapping[dt.date, Mapping[str, str]],
    model: str,
) -> dict[dt.date, str]:
    """The dates of ``dates`` whose write recorded (``recorded``: the latest record per date,
    ``fingerprints.recorded``) another model than ``model`` or another fingerprint of an
    input than it has now (``current``: date -> input table -> fingerprint of what the date
    reads of it, ``fingerprints.InputReader``), each with its reason (``stale: input <table>
    <dates> changed since written``, ``stale: the model changed since written``): their rows
    hold values computed from what is no longer there. A date never recorded is not judged
    here (the time rule, :func:`stale_dates`, still is); an input the record lacks counts as
    changed. Staleness of the dates reading these is :func:`refilled_inputs`' (the cascade)."""
    inputs = {i.table: i for i in inputs_of(spec.name)}
    out: dict[dt.date, str] = {}
    for day in sorted(dates):
        rec = recorded.get(day)
        if rec is None or day not in current:
            continue
        if rec.model_sha != model:
            out[day] = "stale: the model changed since written"
            continue
        for table, now in current[day].items():
            if rec.inputs.get(table) != now:
                what = inputs[table].describe(day) if table in inputs else str(day)
                out[day] = f"stale: input {table} {what} changed since written"
                break
    return out


# --- the per-date gate: Phase 4 dates whose windows read a failing Phase 3 date ----------------
HELD_BACK = "held back"


def held_back(
    specs: Iterable[TableSpec],
    dates: Iterable[dt.date],
    failing: Mapping[str, Iterable[dt.date]],
) -> dict[str, dict[dt.date, str]]:
    """Table -> the dates of ``dates`` whose windows (``TableSpec.input_windows``, required
    or not) read a ``failing`` date (input table -> dates the gate found not complete), each
    with its reason (``held back: reads team_defense_game_summary 2021-12-01 (incomplete)``).
    ``specs`` are taken in catalog (dependency) order and a held-back date fails in turn for
    the tables reading it (``(held back)``): the per-date gate writes no date from an input
    date it knows is short, where the planner only refuses short *required* inputs."""
    days = sorted(set(dates))
    bad: dict[str, list[dt.date]] = {t: sorted(set(ds)) for t, ds in failing.items()}
    out: dict[str, dict[dt.date, str]] = {}
    order = {name: n for n, name in enumerate(TABLES)}
    for spec in sorted(specs, key=lambda s: order[s.name]):
        held: dict[dt.date, str] = {}
        for day in days:
            for dep in spec.input_windows:
                hit = _dates_in(bad.get(dep.table, []), *window_of(day, dep))
                if hit:
                    what = HELD_BACK if dep.table in out else "incomplete"
                    more = f" (+{len(hit) - 1} more)" if len(hit) > 1 else ""
                    name = dep.table.split(".")[1]
                    held[day] = f"{HELD_BACK}: reads {name} {hit[0]} ({what}){more}"
                    break
        out[spec.name] = held
        bad[spec.name] = sorted(set(bad.get(spec.name, [])) | set(held))
    return out
