"""The planner: which (table, date) pairs are missing or incomplete, and in which chunks to fill
them. Plain functions of warehouse reads; no orchestration here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from nba_backfill import fingerprints
from nba_backfill.calendar import check_order
from nba_backfill.catalog import (
    LONGEST_LOOKBACK_DAYS,
    TABLES,
    TableSpec,
    resolve_tables,
    with_readers,
)
from nba_backfill.drift import require_writable
from nba_backfill.errors import UsageError
from nba_backfill.params import RunParams, check_chunk_days
from nba_backfill.readiness import (
    ONE_DAY,
    ScheduleReads,
    counted_games,
    expired_through,
    expiry_reason,
    fingerprint_stale,
    inputs_missing,
    is_complete,
    read_written,
    refilled_inputs,
    short_inputs,
    skipped_games,
    stale_dates,
    utc_today,
)
from nba_backfill.warehouse.base import DateProfile, Warehouse
from nba_backfill.warehouse.retrying import with_read_retries


@dataclass(frozen=True)
class Chunk:
    """One task's work: replace ``table``'s ``dates`` (expected dates, within ``[start,
    end]``; the expected dates between them not planned keep their rows)."""

    table: str
    start: dt.date
    end: dt.date
    dates: tuple[dt.date, ...]

    @property
    def id(self) -> str:
        return f"{self.table}:{self.start}..{self.end}"

    @property
    def label(self) -> str:
        return f"{self.table.split('.')[1]} · {self.start}..{self.end}"


@dataclass
class TablePlan:
    table: str
    phase: int
    expected: list[dt.date]  # expected dates the table must hold (bootstrap excluded in Phase 4)
    complete: set[dt.date]
    missing: list[dt.date]  # no rows at all
    incomplete: list[dt.date]  # rows, but not for every team / game
    skipped: dict[dt.date, str]  # not to be written, with the reason (bootstrap, inputs short)
    chunks: list[Chunk] = field(default_factory=list)
    # complete, but written before an input date its windows read is (re)written: planned
    # again, with the reason (readiness.stale_dates / refilled_inputs)
    stale: dict[dt.date, str] = field(default_factory=dict)
    # planned because the run asked for them (a Selection: "requested" or "failed"),
    # whatever their state
    requested: dict[dt.date, str] = field(default_factory=dict)
    # Expected dates holding final games whose box scores or gamebook never arrived: those
    # games are skipped (not rewritten every run), the date is not counted complete; the
    # reason names them (readiness.inputs_missing).
    games_skipped: dict[dt.date, str] = field(default_factory=dict)

    @property
    def complete_dates(self) -> set[dt.date]:
        """Expected dates whose rows are complete and hold every game of the schedule."""
        return (self.complete & set(self.expected)) - set(self.games_skipped)

    @property
    def to_fill(self) -> list[dt.date]:
        return sorted(
            set(self.missing) | set(self.incomplete) | set(self.stale) | set(self.requested)
        )

    def reasons(self) -> dict[dt.date, str]:
        """Why each date to fill is planned: what the run asked for first, then stale (with
        its input), then missing or incomplete."""
        return {
            d: self.requested.get(d)
            or self.stale.get(d)
            or ("missing" if d in self.missing else "incomplete")
            for d in self.to_fill
        }

    def as_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "phase": self.phase,
            "expected_dates": len(self.expected),
            "complete_dates": len(self.complete_dates),
            "missing": [d.isoformat() for d in self.missing],
            "incomplete": [d.isoformat() for d in self.incomplete],
            "skipped": {d.isoformat(): r for d, r in sorted(self.skipped.items())},
            "stale": {d.isoformat(): r for d, r in sorted(self.stale.items())},
            "requested": {d.isoformat(): r for d, r in sorted(self.requested.items())},
            "reasons": {d.isoformat(): r for d, r in self.reasons().items()},
            "games_skipped": {d.isoformat(): r for d, r in sorted(self.games_skipped.items())},
            "chunks": [
                {"start": c.start.isoformat(), "end": c.end.isoformat(), "dates": len(c.dates)}
                for c in self.chunks
            ],
        }


@dataclass
class Plan:
    start: dt.date
    end: dt.date
    chunk_days: int
    tables: dict[str, TablePlan]
    # chunk id -> ids of chunks that must finish first
    upstream: dict[str, list[str]] = field(default_factory=dict)
    # The final games of [start, end] whose inputs never arrived, each once (its label: NBA.com
    # id, teams, date), that some planned table skips.
    games_skipped: list[str] = field(default_factory=list)
    # The schedule and the games missing inputs this plan read (its look-back included): the
    # run's chunks take their slices instead of reading both again each.
    reads: ScheduleReads | None = field(default=None, compare=False, repr=False)
    # Required input table -> its complete dates as this plan read them, for each input no
    # table of this plan writes (an earlier phase's, or group's, or nobody's): nothing in the
    # run writes it while the plan's chunks run, so they take it instead of reading its
    # profile again (``settled_for``).
    settled: dict[str, frozenset[dt.date]] = field(default_factory=dict, compare=False, repr=False)

    def settled_for(self, table: str, dates: Sequence[dt.date]) -> dict[str, list[dt.date]]:
        """The settled inputs of a chunk of ``table`` on ``dates``: each required input of the
        table this plan settled, its complete dates over the input's look-back before the
        first date through the last (what ``runner.run_chunk`` would profile), sorted."""
        lo, hi = min(dates), max(dates)
        firsts: dict[str, dt.date] = {}
        for dep in TABLES[table].depends_on:
            if dep.required and dep.table in self.settled:
                first = lo - dt.timedelta(days=dep.lookback_days)
                firsts[dep.table] = min(first, firsts.get(dep.table, first))
        return {
            name: sorted(d for d in self.settled[name] if first <= d <= hi)
            for name, first in firsts.items()
        }

    @property
    def chunks(self) -> list[Chunk]:
        return [c for tp in self.tables.values() for c in tp.chunks]

    def phase_chunks(self, phase: int) -> list[Chunk]:
        return [c for tp in self.tables.values() if tp.phase == phase for c in tp.chunks]

    @property
    def empty(self) -> bool:
        return not self.chunks

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "chunk_days": self.chunk_days,
            "tables": {name: tp.as_dict() for name, tp in self.tables.items()},
            "games_skipped": self.games_skipped,
        }


def chunk_dates(
    table: str, to_fill: Iterable[dt.date], expected: Sequence[dt.date], chunk_days: int
) -> list[Chunk]:
    """Group the *expected* dates of ``to_fill`` into windows of at most ``chunk_days``
    calendar days, each starting at its first date: every planned date of a window is one
    chunk, scattered or not (complete dates between them stay out of it and are never
    rewritten; the write replaces just the chunk's dates, in one job). UsageError outside the
    bounds of ``params.check_chunk_days``."""
    check_chunk_days(chunk_days)
    fill = set(to_fill)
    chunks: list[Chunk] = []
    run: list[dt.date] = []
    for day in sorted(d for d in set(expected) if d in fill):
        if run and (day - run[0]).days >= chunk_days:
            chunks.append(Chunk(table, run[0], run[-1], tuple(run)))
            run = []
        run.append(day)
    if run:
        chunks.append(Chunk(table, run[0], run[-1], tuple(run)))
    return chunks


def check_range(start: dt.date, end: dt.date, bounds: tuple[dt.date, dt.date] | None) -> None:
    """Reject ranges that are reversed or fall outside the schedule the warehouse holds."""
    check_order(start, end)
    if bounds is None:
        raise UsageError("the warehouse has no schedule; run `nba-backfill seed` first")
    lo, hi = bounds
    if end < lo or start > hi:
        raise UsageError(f"range {start}..{end} is outside the schedule's final games ({lo}..{hi})")


def read_schedule(
    wh: Warehouse, start: dt.date, end: dt.date, given: ScheduleReads | None = None
) -> ScheduleReads:
    """What a plan or a validation of ``[start, end]`` reads before any table: the schedule's
    bounds (the range checked against them, :func:`check_range`), its season openers, and the
    schedule and the games missing inputs over ``[start - LONGEST_LOOKBACK_DAYS, end]`` (the
    longest look-back, so one read serves every phase). ``given`` (an earlier step's, e.g. a
    run's first plan's ``Plan.reads``) is taken instead when it serves that span: four query
    jobs a plan or validation, seven times a backfill, that BigQuery charges a job start each.

    Raises UsageError for a reversed range, an empty schedule, or a range outside it."""
    lo = start - dt.timedelta(days=LONGEST_LOOKBACK_DAYS)
    if given is not None and given.serves(lo, end):
        check_range(start, end, given.bounds)
        return given
    bounds = wh.schedule_bounds()
    check_range(start, end, bounds)
    schedule = wh.schedule(lo, end)
    openers = wh.season_openers()
    # Games missing inputs are expected games, so none precede the schedule's first date.
    missing = wh.games_missing_inputs(min(schedule, default=start), end)
    return ScheduleReads(lo, end, schedule, tuple(missing), bounds, openers)


@dataclass(frozen=True)
class Selection:
    """The dates a run rewrites whatever their state: the reprocess modes other than
    ``missing`` (``params.MODES``). ``all``: every expected date of the tables; ``dates``:
    ``dates`` of every table; ``failed``: ``failed`` (table -> dates) of those tables;
    ``resume``: ``failed`` (table -> dates) of whichever tables it names (a resume's own plan,
    downstream tables included: ``nba_backfill/resume.py``). With ``downstream``, the tables
    reading them are planned too, on the dates whose windows read a date planned upstream
    (``readiness.refilled_inputs``, the same-run stale rule)."""

    mode: str
    dates: tuple[dt.date, ...] = ()
    failed: Mapping[str, Sequence[dt.date]] = field(default_factory=dict)
    downstream: bool = True
    # mode stale: table -> its dates stale by fingerprint, with the reason; None: not read yet
    # (the planner reads them, ``stale_by_fingerprint``; ``fixed`` reads them once for a run)
    stale: Mapping[str, Mapping[dt.date, str]] | None = None

    @classmethod
    def of(
        cls, params: RunParams, failed: Mapping[str, Sequence[dt.date]] | None = None
    ) -> Selection | None:
        """The selection ``params`` ask for (``failed``: the dates failed runs left, mode
        failed); None for mode missing."""
        if params.mode == "missing":
            return None
        return cls(params.mode, params.dates or (), dict(failed or {}), params.downstream)

    def fixed(self, wh: Warehouse, params: RunParams) -> Selection:
        """This selection with mode stale's dates read now (``stale_by_fingerprint`` over
        ``params``' range, of the tables it looks at), so that a run's later plans (the
        Phase 4 groups, after Phase 3 rewrote their inputs) plan what its first plan saw, as
        ``plan`` lists it; any other mode as it is."""
        if self.mode != "stale" or self.stale is not None:
            return self
        names = self.tables(params.tables or list(TABLES))
        days = sorted(wh.schedule(params.start, params.end))
        specs = [s for s in TABLES.values() if s.name in names]
        found = stale_by_fingerprint(wh, specs, {s.name: days for s in specs})
        return replace(self, stale=found)

    @property
    def reason(self) -> str:
        return self.mode if self.mode in ("failed", "resume") else "requested"

    def asked(self, table: str, expected: Iterable[dt.date]) -> set[dt.date]:
        """The dates of ``expected`` the run asks ``table`` for (the table is selected)."""
        if self.mode == "all":
            return set(expected)
        if self.mode == "stale":
            return set(expected) & set((self.stale or {}).get(table, {}))
        days = self.dates if self.mode == "dates" else self.failed.get(table, ())
        return set(expected) & set(days)

    def why(self, table: str, day: dt.date) -> str:
        """The reason a date asked of ``table`` is planned (mode stale: what changed)."""
        return (self.stale or {}).get(table, {}).get(day) or self.reason

    def tables(self, selected: Sequence[str]) -> set[str]:
        """The tables a plan covers: ``selected`` (of ``failed``: those with failed dates)
        and, with ``downstream``, every catalog table reading one of them, transitively."""
        if self.mode == "resume":
            return {t for t, days in self.failed.items() if days}
        names = {t for t in selected if self.mode != "failed" or self.failed.get(t)}
        return set(with_readers(names)) if self.downstream else names


class Planner:
    """Computes a :class:`Plan` from what the warehouse holds now (reads retried on transient
    errors, like writes)."""

    def __init__(self, warehouse: Warehouse, *, today: dt.date | None = None) -> None:
        self.warehouse = with_read_retries(warehouse)
        self.today = today or utc_today()

    def plan(
        self,
        start: dt.date,
        end: dt.date,
        tables: Sequence[str] | None = None,
        chunk_days: int = 31,
        *,
        phases: Sequence[int] = (3, 4),
        only: Mapping[str, Iterable[dt.date]] | None = None,
        select: Selection | None = None,
        among: Collection[str] | None = None,
        reads: ScheduleReads | None = None,
    ) -> Plan:
        """Plan ``tables`` of ``phases`` on ``[start, end]``. With ``only`` (table -> dates), plan
        just those tables and, of their missing or incomplete dates, just those dates: a rerun
        of failed dates fills them and nothing else. With ``select`` (a reprocess mode), plan
        the dates it asks for, and those of the tables downstream, instead; ``among`` keeps
        only those tables in the plan (a Phase 4 group of a selection). ``reads`` (an earlier
        plan's ``Plan.reads`` in the same run) stands for the schedule reads
        (:func:`read_schedule`) when it covers them; the tables are always read afresh."""
        chosen = resolve_tables(list(tables) if tables is not None else None)
        # The tables looked at: a selection's downstream tables of every phase too (their
        # dates follow from the upstream ones), the plan keeps those of ``phases``.
        scope = [
            s
            for s in (
                [t for t in TABLES.values() if t.name in select.tables([c.name for c in chosen])]
                if select is not None
                else chosen
            )
            if (select is not None or s.phase in phases) and (only is None or s.name in only)
        ]
        specs = [s for s in scope if s.phase in phases and (among is None or s.name in among)]
        keep = {name: set(days) for name, days in (only or {}).items()}
        ground = read_schedule(self.warehouse, start, end, reads)
        require_writable(self.warehouse, specs)
        expired = {s.name: expired_through(self.warehouse, s, self.today) for s in TABLES.values()}
        # Dependencies look back up to 180 days: the schedule and profiles that far.
        lookback = max((d.lookback_days for s in scope for d in s.depends_on), default=0)
        schedule = ground.schedule_on(start - dt.timedelta(days=lookback), end)
        in_range = sorted(d for d in schedule if start <= d <= end)
        all_expected = sorted(schedule)
        openers = ground.openers
        assert openers is not None  # read_schedule reads them
        # Final games whose results never arrived: counted out of the tables they feed.
        missing_games = ground.missing_on(all_expected[0] if all_expected else start, end)

        plans: dict[str, TablePlan] = {}
        complete_cache: dict[str, set[dt.date]] = {}
        # One profile read per table over the whole look-back (each costs a few queries, the
        # grain's over four seasons of inputs): its dates serve both the completeness of an
        # input and the split of a planned table's own dates.
        profile_cache: dict[str, dict[dt.date, DateProfile]] = {}

        profile_lo = min(all_expected[0], start) if all_expected else start
        # Every table looked at and every required input of one, profiled in one query job
        # (a job each cost a BigQuery job start per table per plan; a run plans four times).
        wanted = {s.name: s for s in scope}
        for s in scope:
            for dep in s.depends_on:
                if dep.required:
                    wanted.setdefault(dep.table, TABLES[dep.table])
        profile_cache.update(
            self.warehouse.date_profiles([(s, profile_lo, end) for s in wanted.values()])
        )

        def profile_of(spec: TableSpec) -> dict[dt.date, DateProfile]:
            if spec.name not in profile_cache:
                profile_cache[spec.name] = self.warehouse.date_profile(spec, profile_lo, end)
            return profile_cache[spec.name]

        def complete_of(spec: TableSpec) -> set[dt.date]:
            if spec.name not in complete_cache:
                prof = profile_of(spec)
                games = counted_games(spec, schedule, missing_games)
                uncounted = skipped_games(spec, missing_games)
                complete_cache[spec.name] = {
                    d
                    for d in all_expected
                    if is_complete(spec, prof.get(d), games[d], uncounted.get(d, 0))
                }
            return complete_cache[spec.name]

        for spec in scope:
            complete = complete_of(spec)
            skipped: dict[dt.date, str] = {}
            expected: list[dt.date] = []
            cutoff = expired[spec.name]
            gone_reason = expiry_reason(self.warehouse, spec) if cutoff is not None else ""
            for d in in_range:
                if spec.skip_bootstrap and openers.is_bootstrap(d):
                    skipped[d] = "bootstrap day (season's first 14 days)"
                elif cutoff is not None and d <= cutoff:
                    skipped[d] = gone_reason
                else:
                    expected.append(d)
            prof = profile_of(spec)
            missing = [d for d in expected if d not in complete and d not in prof]
            incomplete = [d for d in expected if d not in complete and d in prof]
            if only is not None:
                missing = [d for d in missing if d in keep[spec.name]]
                incomplete = [d for d in incomplete if d in keep[spec.name]]
            plans[spec.name] = TablePlan(
                spec.name, spec.phase, expected, complete, missing, incomplete, skipped
            )
            plans[spec.name].games_skipped = inputs_missing(spec, expected, missing_games)

        if select is not None and select.mode == "stale" and select.stale is None:
            # Every table looked at, the readers too: once an input is rewritten (Phase 3
            # before a Phase 4 group is planned), its readers' dates are stale on their own.
            days = {s.name: plans[s.name].expected for s in scope}
            select = replace(select, stale=stale_by_fingerprint(self.warehouse, scope, days))
        if select is not None:
            _apply_selection(plans, scope, select, [c.name for c in chosen])
        elif only is None:
            # Dates written before one of their input dates was refilled (by an earlier run):
            # one written-time read per table over the range and the windows' reach, only
            # for tables holding complete dates that read inputs (and those inputs).
            fresh = {
                s.name: [d for d in plans[s.name].expected if d in plans[s.name].complete]
                for s in specs
                if s.input_windows
            }
            checked = [s for s in specs if fresh.get(s.name)]
            written = read_written(self.warehouse, checked, start, end)
            for spec in checked:
                plans[spec.name].stale = stale_dates(
                    spec, fresh[spec.name], written[spec.name], written
                )
        follow = only is None and select is None
        self._block_short_inputs(plans, scope, all_expected, complete_of, expired, follow)
        plans = {s.name: plans[s.name] for s in specs}
        for spec in specs:
            tp = plans[spec.name]
            tp.chunks = chunk_dates(spec.name, tp.to_fill, tp.expected, chunk_days)
        plan = Plan(start, end, chunk_days, plans)
        plan.reads = ground
        writes = {name for name, tp in plans.items() if tp.chunks}
        plan.settled = {
            dep.table: frozenset(complete_of(TABLES[dep.table]))
            for spec in specs
            for dep in spec.depends_on
            if dep.required and dep.table not in writes
        }
        plan.upstream = _chunk_edges(plan, specs)
        skipping = {d for tp in plans.values() for d in tp.games_skipped}
        plan.games_skipped = [g.label for g in missing_games if g.game_date in skipping]
        return plan

    def _block_short_inputs(
        self,
        plans: Mapping[str, TablePlan],
        specs: Sequence[TableSpec],
        all_expected: Sequence[dt.date],
        complete_of: Callable[[TableSpec], set[dt.date]],
        expired: Mapping[str, dt.date | None],
        follow_refills: bool = True,
    ) -> None:
        """Dates whose required inputs are neither complete nor planned are skipped with the
        reason (``readiness.short_inputs``), instead of being written from short inputs (the
        production processors refuse). Tables are taken in catalog (dependency) order, so an
        input's own skipped dates no longer count as planned. With ``follow_refills``, a
        complete date whose windows read an input date planned before it is planned too
        (``readiness.refilled_inputs``): written before that input, it would stay stale."""
        for spec in specs:
            tp = plans[spec.name]
            if follow_refills:
                planned = {
                    dep.table: plans[dep.table].to_fill
                    for dep in spec.input_windows
                    if dep.table in plans
                }
                fresh = [d for d in tp.expected if d in tp.complete and d not in tp.stale]
                tp.stale.update(refilled_inputs(spec, fresh, planned))
            ups = {d.table for d in spec.depends_on if d.required}
            complete = {up: complete_of(TABLES[up]) for up in ups}
            upcoming = {up: set(plans[up].to_fill) for up in ups if up in plans}
            blocked = short_inputs(spec, tp.to_fill, all_expected, complete, expired, upcoming)
            if blocked:
                tp.skipped.update(blocked)
                tp.missing = [d for d in tp.missing if d not in tp.skipped]
                tp.incomplete = [d for d in tp.incomplete if d not in tp.skipped]
                tp.stale = {d: r for d, r in tp.stale.items() if d not in tp.skipped}
                tp.requested = {d: r for d, r in tp.requested.items() if d not in tp.skipped}


def stale_by_fingerprint(
    wh: Warehouse, specs: Sequence[TableSpec], dates: Mapping[str, Sequence[dt.date]]
) -> dict[str, dict[dt.date, str]]:
    """Per table of ``specs``: its ``dates`` whose inputs or model changed since they were
    written (``readiness.fingerprint_stale``), each with its reason: one read of the records
    per table, one of each input table over the dates and their windows."""
    reader = fingerprints.InputReader(wh)
    out: dict[str, dict[dt.date, str]] = {}
    for spec in specs:
        asked = sorted(dates.get(spec.name, ()))
        if not asked:
            out[spec.name] = {}
            continue
        rec = fingerprints.recorded(wh, spec, asked[0], asked[-1])
        days = [d for d in asked if d in rec]
        now = reader.current(spec, days)
        model = fingerprints.model_sha(spec.name)
        out[spec.name] = fingerprint_stale(spec, days, rec, now, model)
    return out


def _apply_selection(
    plans: Mapping[str, TablePlan],
    scope: Sequence[TableSpec],
    select: Selection,
    selected: Sequence[str],
) -> None:
    """Narrow each plan of ``scope`` (catalog order) to what ``select`` asks: the dates asked
    of a selected table (mode stale: of every table of ``scope``), and with ``downstream``
    the dates whose windows read a date planned upstream (complete ones planned as stale,
    with that input in the reason)."""
    changed: dict[str, list[dt.date]] = {}
    for spec in scope:
        tp = plans[spec.name]
        picked = spec.name in selected or select.mode in ("stale", "resume")
        asked = select.asked(spec.name, tp.expected) if picked else set()
        down = refilled_inputs(spec, tp.expected, changed) if select.downstream else {}
        keep = asked | set(down)
        tp.missing = [d for d in tp.missing if d in keep]
        tp.incomplete = [d for d in tp.incomplete if d in keep]
        tp.requested = {d: select.why(spec.name, d) for d in sorted(asked)}
        tp.stale = {d: r for d, r in down.items() if d in tp.complete and d not in asked}
        changed[spec.name] = sorted(keep)


def _chunk_edges(plan: Plan, specs: Sequence[TableSpec]) -> dict[str, list[str]]:
    """For each planned chunk, the planned upstream chunks whose dates its inputs read."""
    edges: dict[str, list[str]] = {}
    for spec in specs:
        for chunk in plan.tables[spec.name].chunks:
            ups: list[str] = []
            for dep in spec.depends_on:
                up = plan.tables.get(dep.table)
                if up is None:
                    continue
                lo = chunk.start - dt.timedelta(days=dep.lookback_days)
                hi = chunk.end if dep.same_date else chunk.end - ONE_DAY
                ups += [c.id for c in up.chunks if c.start <= hi and c.end >= lo]
            edges[chunk.id] = ups
    return edges


def hold_back(
    plan: Plan, held: Mapping[str, Mapping[dt.date, str]]
) -> dict[str, dict[dt.date, str]]:
    """Take the ``held`` dates (table -> date -> reason, ``readiness.held_back``) out of
    ``plan``: an expected date not complete now (or planned again) is skipped with its
    held-back reason (also one the planner had skipped for a short required input: the
    held-back reason names the Phase 3 date behind it), and the chunks are cut again. Returns
    table -> the dates held back, for the run's summary."""
    out: dict[str, dict[dt.date, str]] = {}
    for name, tp in plan.tables.items():
        hold = held.get(name, {})
        fill = set(tp.to_fill)
        mine = {
            d: r
            for d, r in hold.items()
            if d in tp.expected and (d not in tp.complete or d in fill)
        }
        if not mine:
            continue
        out[name] = dict(sorted(mine.items()))
        tp.skipped.update(mine)
        tp.missing = [d for d in tp.missing if d not in mine]
        tp.incomplete = [d for d in tp.incomplete if d not in mine]
        tp.stale = {d: r for d, r in tp.stale.items() if d not in mine}
        tp.requested = {d: r for d, r in tp.requested.items() if d not in mine}
        tp.chunks = chunk_dates(name, tp.to_fill, tp.expected, plan.chunk_days)
    if out:
        specs = [TABLES[n] for n in plan.tables]
        plan.upstream = _chunk_edges(plan, specs)
    return out
