"""The jobs of one chunk (issue 17, item 5): ``runner.run_chunk`` runs the number of warehouse
jobs ``runner.chunk_jobs`` claims around its write — the inputs' fingerprints in one query,
the required inputs' profiles in one query, the schedule and the games missing inputs taken
from the run's plan (or read once when called alone) — counted on the DuckDB adapter itself
(the fingerprint reads and the ledger go to it under any wrapper), and decides what it
decided with one job per read: the same blocked dates and reasons, the same fingerprints
recorded."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from nba_backfill import audits, fingerprints
from nba_backfill.catalog import (
    LONGEST_LOOKBACK_DAYS,
    MLFS,
    PCF,
    PDC,
    PGS,
    PHASE3,
    PHASE4,
    TABLES,
    TDZA,
    TOGS,
    UPCG,
    UPTG,
    TableSpec,
)
from nba_backfill.errors import UsageError
from nba_backfill.planner import Planner
from nba_backfill.readiness import (
    ScheduleReads,
    blocked_by_inputs,
    complete_dates,
    expired_through,
    inputs_lookback,
    short_inputs,
    utc_today,
)
from nba_backfill.runner import chunk_jobs, chunk_span, run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.validation import validate
from nba_backfill.warehouse import Warehouse, shared_warehouse
from nba_backfill.warehouse.wrapper import innermost
from tests.conftest import SLICE_START

FAST = RetrySettings(max_attempts=1, initial_wait_seconds=0, jitter_seconds=0)
D = dt.date


class Jobs:
    """Counts the jobs of the adapter under ``wh`` in order: ``read``, ``write``, ``load``."""

    def __init__(self, wh: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log: list[str] = []
        adapter: Any = innermost(wh)
        # The schedule-and-missing-games reads, by name, on any wrapper (shared reads).
        self.shared: list[str] = []
        for name in ("schedule", "games_missing_inputs"):
            real_read = getattr(Warehouse, name)

            def read(*a: Any, _real: Any = real_read, _name: str = name, **k: Any) -> Any:
                self.shared.append(_name)
                return _real(*a, **k)

            monkeypatch.setattr(Warehouse, name, read)
        for name, kind in (("fetch", "read"), ("replace_range", "write"), ("load_raw", "load")):
            real = getattr(adapter, name)

            def counted(*a: Any, _real: Any = real, _kind: str = kind, **k: Any) -> Any:
                self.log.append(_kind)
                return _real(*a, **k)

            monkeypatch.setattr(adapter, name, counted)

    def around_write(self) -> tuple[int, int]:
        assert self.log.count("write") == 1, self.log
        at = self.log.index("write")
        return at, len(self.log) - at - 1


@pytest.fixture
def wh(seeded: Settings) -> Iterator[Warehouse]:
    """Phase 3 written over the slice's first five weeks (Phase 4 reads it)."""
    wh = shared_warehouse()
    days = sorted(wh.schedule(SLICE_START, D(2021, 11, 25)))
    for spec in PHASE3:
        assert run_chunk(wh, spec.name, days, FAST).ok
    yield wh


@pytest.mark.parametrize("table", [TOGS, PGS, UPCG, PDC, PCF])
def test_a_chunk_runs_the_jobs_claimed(
    wh: Warehouse, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Phase 3 table without required inputs (TOGS), two with one (PGS, UPCG), a Phase 4
    one with four inputs, one required (PDC), PCF with three required: called alone (the CLI,
    the tests) a chunk reads the schedule and the games missing inputs itself, then one
    profile query for all its required inputs (none for TOGS) and one fingerprint query for
    all its inputs (PGS reads eight Phase 2 tables: one job); 2 after, whatever its inputs.
    (Before: 3 + one profile per required input; PCF 6, now 4.)"""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    _inputs_written(wh, table, days)
    jobs = Jobs(wh, monkeypatch)
    result = run_chunk(wh, table, days, FAST)
    assert result.ok and result.dates_filled == days
    assert jobs.shared == ["schedule", "games_missing_inputs"]
    profiles = 1 if any(d.required for d in TABLES[table].depends_on) else 0
    assert jobs.around_write() == chunk_jobs(table, given=False) == (3 + profiles, 2)
    assert len(fingerprints.inputs_of(table)) > 1  # several inputs, one fingerprint job


def _inputs_written(wh: Warehouse, table: str, days: list[dt.date]) -> None:
    """The Phase 4 tables ``table`` needs (transitively), written on ``days`` first."""
    need: set[str] = set()
    todo = [table]
    while todo:
        for dep in TABLES[todo.pop()].depends_on:
            if dep.required and TABLES[dep.table].phase == 4 and dep.table not in need:
                need.add(dep.table)
                todo.append(dep.table)
    for spec in PHASE4:  # catalog order: inputs first
        if spec.name in need:
            assert run_chunk(wh, spec.name, days, FAST).ok, spec.name


def _plan_reads(wh: Warehouse, table: str, days: list[dt.date]) -> ScheduleReads:
    """What a run's plan hands its chunks (``Plan.reads``), read by the real planner."""
    plan = Planner(wh).plan(days[0], days[-1], [table], phases=(TABLES[table].phase,))
    assert plan.reads is not None
    return plan.reads


@pytest.mark.parametrize("table", [TOGS, PGS, UPCG, PCF, MLFS])
def test_a_chunk_given_the_plans_reads_runs_two_jobs_fewer(
    wh: Warehouse, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flow's chunk takes the schedule and the games missing inputs from its plan (sliced
    to the chunk, as ``flows.phases.run_chunks`` does): no schedule, no games-missing read;
    before = its profile query (if it has required inputs) + the fingerprints: TOGS 1, PGS
    and UPCG 2 (were 4), PCF 2 (was 6), the feature store 2 (was 7). Same outcome."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    _inputs_written(wh, table, days)
    reads = _plan_reads(wh, table, days).sliced(*chunk_span(table, days))
    jobs = Jobs(wh, monkeypatch)
    result = run_chunk(wh, table, days, FAST, reads=reads)
    assert result.ok and result.dates_filled == days
    profiles = 1 if any(d.required for d in TABLES[table].depends_on) else 0
    assert jobs.around_write() == chunk_jobs(table) == (1 + profiles, 2)
    assert jobs.shared == []


def _required(table: str) -> set[str]:
    return {d.table for d in TABLES[table].depends_on if d.required}


@pytest.mark.parametrize("table", [PDC, PCF, MLFS])
def test_a_chunk_given_its_plans_settled_inputs_reads_no_profile(
    wh: Warehouse, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Phase 4 table planned alone: no chunk of its plan writes its required inputs, so the
    plan hands their complete dates to the chunk (``Plan.settled_for``, as
    ``flows.phases.run_chunks`` does) and the chunk reads no profile before its write: only
    the fingerprints (PCF 1, was 2). It fills what it filled reading them."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    _inputs_written(wh, table, days)
    plan = Planner(wh).plan(days[0], days[-1], [table], phases=(4,))
    assert set(plan.settled) == _required(table)
    settled = plan.settled_for(table, days)
    assert set(settled) == _required(table) and all(settled.values())
    reads = plan.reads.sliced(*chunk_span(table, days)) if plan.reads else None
    jobs = Jobs(wh, monkeypatch)
    result = run_chunk(wh, table, days, FAST, reads=reads, settled=settled)
    assert result.ok and result.dates_filled == days
    assert jobs.around_write() == chunk_jobs(table, settled=settled) == (1, 2)
    assert chunk_jobs(table) == (2, 2)


def test_settled_inputs_block_the_dates_a_read_would(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PCF's inputs UPTG and TDZA short on two dates, then PCF planned: the settled complete
    dates leave those out, and the chunk given them blocks the same dates for the same
    reasons as one profile read per input did, with no profile read of its own."""
    days, short_uptg, short_tdza, expected = _pcf_inputs_short(wh)
    plan = Planner(wh).plan(days[0], days[-1], [PCF], phases=(4,))
    settled = plan.settled_for(PCF, days)
    assert short_uptg not in settled[UPTG] and short_tdza not in settled[TDZA]
    reads = plan.reads.sliced(*chunk_span(PCF, days)) if plan.reads else None
    jobs = Jobs(wh, monkeypatch)
    result = run_chunk(wh, PCF, days, FAST, reads=reads, settled=settled)
    assert result.dates_blocked == expected
    assert result.dates_filled == [d for d in days if d not in expected]
    assert jobs.around_write() == chunk_jobs(PCF, settled=settled) == (1, 2)  # fingerprints


def test_a_plan_settles_only_the_inputs_none_of_its_chunks_write(wh: Warehouse) -> None:
    """All of Phase 4 planned together writes PDC, PSZA, TDZA, PCF and the feature store: the
    inputs it settles are the others (Phase 3's), each with its complete dates as the plan
    judged them; a chunk of a table whose input the plan writes still reads that input."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    plan = Planner(wh).plan(days[0], days[-1], phases=(4,))
    writes = {c.table for c in plan.chunks}
    assert writes == {s.name for s in PHASE4}
    needed = set().union(*(_required(s.name) for s in PHASE4))
    assert set(plan.settled) == needed - writes
    assert needed & writes  # some Phase 4 table requires another: not settled
    schedule = wh.schedule(days[0], days[-1])
    missing = wh.games_missing_inputs(days[0], days[-1])
    for name, dates in plan.settled.items():
        judged = complete_dates(wh, TABLES[name], schedule, days[0], days[-1], missing)
        assert judged and {d for d in dates if days[0] <= d <= days[-1]} == judged, name
    for spec in PHASE4:
        got = plan.settled_for(spec.name, days)
        assert set(got) == _required(spec.name) - writes
        lookback = max((d.lookback_days for d in spec.depends_on if d.required), default=0)
        for dates in got.values():
            assert dates == sorted(dates)
            assert min(dates) >= days[0] - dt.timedelta(days=lookback)
            assert max(dates) <= days[-1]


def _one_by_one(wh: Warehouse, table: str, dates: list[dt.date]) -> dict[dt.date, dict[str, str]]:
    """The fingerprints as they were read before: one ``read_day_hashes`` query per input."""
    out: dict[dt.date, dict[str, str]] = {d: {} for d in dates}
    for inp in fingerprints.inputs_of(table):
        lo = dates[0] - dt.timedelta(days=inp.lookback_days)
        hashes = fingerprints.read_day_hashes(wh, inp, lo, dates[-1])
        for day in dates:
            if inp.date_column is None:
                parts = [hashes.get(None, "0:")]
            else:
                a, b = inp.window(day)
                parts = [f"{d}={h}" for d, h in sorted(hashes.items()) if d and a <= d <= b]
            out[day][inp.table] = fingerprints._digest(parts)
    return out


@pytest.mark.parametrize("table", [PGS, PDC])
def test_one_query_fingerprints_what_one_query_per_input_did(
    wh: Warehouse, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    reference = _one_by_one(wh, table, days)
    jobs = Jobs(wh, monkeypatch)
    assert fingerprints.InputReader(wh).current(TABLES[table], days) == reference
    assert jobs.log == ["read"]
    run_chunk(wh, table, days, FAST)
    recorded = fingerprints.recorded(wh, TABLES[table], days[0], days[-1])
    assert {d: dict(r.inputs) for d, r in recorded.items()} == reference
    assert {json.dumps(r.inputs, sort_keys=True) for r in recorded.values()} == {
        json.dumps(reference[d], sort_keys=True) for d in days
    }


def test_a_missing_input_table_reads_as_empty_in_the_one_query(wh: Warehouse) -> None:
    """An input table not there yet (Phase 4 read before it exists) fingerprints as empty, as
    the per-input read did, and the others are still read."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 16)))
    inputs = fingerprints.inputs_of(PCF)
    gone = fingerprints.Input("nba_precompute.no_such_table", 0, True, "game_date", True)
    asks = [(i, days[0], days[-1]) for i in inputs] + [(gone, days[0], days[-1])]
    read = fingerprints.read_many_day_hashes(wh, asks)
    assert read[(gone.table, True)] == {}
    for inp in inputs:
        assert read[(inp.table, inp.catalog)] == fingerprints.read_day_hashes(
            wh, inp, days[0], days[-1]
        ), inp.table


def test_blocked_and_incomplete_dates_are_decided_as_before(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PGS on a week whose TOGS is short on one date: blocked for the same reason the
    readiness check reading its own games gives, the rest filled, the chunk's jobs as
    claimed (the blocked date changes no count)."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    short = days[2]
    wh.fetch(
        f"DELETE FROM {TOGS} WHERE game_date = @d AND team_abbr IN "
        f"(SELECT team_abbr FROM {TOGS} WHERE game_date = @d LIMIT 3)",
        {"d": short},
    )
    lookback = max(d.lookback_days for d in TABLES[PGS].depends_on)
    schedule = wh.schedule(days[0] - dt.timedelta(days=lookback), days[-1])
    expected = blocked_by_inputs(wh, TABLES[PGS], days, schedule)
    assert list(expected) == [short] and expected[short].startswith("input ")
    jobs = Jobs(wh, monkeypatch)
    result = run_chunk(wh, PGS, days, FAST)
    assert result.dates_blocked == expected
    assert result.dates_filled == [d for d in days if d != short]
    assert result.dates_incomplete == []
    assert jobs.around_write() == chunk_jobs(PGS, given=False)
    # TOGS itself, rewritten on the short date, is complete again: a check after that passes.
    assert run_chunk(wh, TOGS, [short], FAST).dates_filled == [short]


def _pcf_inputs_short(wh: Warehouse) -> tuple[list[dt.date], dt.date, dt.date, dict[dt.date, str]]:
    """A week with PCF's inputs written, then UPTG short on its second date and TDZA on its
    fifth: the days, those two dates, and the dates blocked as one profile read per input
    finds them (exactly those two)."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    _inputs_written(wh, PCF, days)
    short_uptg, short_tdza = days[1], days[4]
    wh.fetch(
        f"DELETE FROM {UPTG} WHERE game_date = @d AND team_abbr IN "
        f"(SELECT team_abbr FROM {UPTG} WHERE game_date = @d LIMIT 2)",
        {"d": short_uptg},
    )
    wh.fetch(
        f"DELETE FROM {TDZA} WHERE analysis_date = @d AND team_abbr IN "
        f"(SELECT team_abbr FROM {TDZA} WHERE analysis_date = @d LIMIT 2)",
        {"d": short_tdza},
    )
    expected = _blocked_one_by_one(wh, PCF, days)
    assert sorted(expected) == [short_uptg, short_tdza]
    return days, short_uptg, short_tdza, expected


def _blocked_one_by_one(wh: Warehouse, table: str, days: list[dt.date]) -> dict[dt.date, str]:
    """The readiness check as it read before: one ``date_profile`` job per required input."""
    spec = TABLES[table]
    lo, hi = chunk_span(table, days)
    schedule = wh.schedule(lo, hi)
    missing = wh.games_missing_inputs(days[0] - dt.timedelta(days=inputs_lookback(spec)), hi)
    complete: dict[str, set[dt.date]] = {}
    expired: dict[str, dt.date | None] = {}
    for dep in spec.depends_on:
        if dep.required:
            up = TABLES[dep.table]
            a = days[0] - dt.timedelta(days=dep.lookback_days)
            complete[up.name] = complete_dates(wh, up, schedule, a, hi, missing)
            expired[up.name] = expired_through(wh, up, utc_today())
    return short_inputs(spec, days, sorted(schedule), complete, expired)


def test_one_query_profiles_what_one_query_per_table_did(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several tables' profiles, each over its own window (one with a 30-day look-back, one
    with an expected set, one not there), in one job: each table's as its own query reads."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    gone = TABLES[TDZA]  # not there yet, as a Phase 4 input read before its first write
    exists = wh.table_exists
    monkeypatch.setattr(wh, "table_exists", lambda name: name != TDZA and exists(name))
    asks = [
        (TABLES[PGS], days[0] - dt.timedelta(days=30), days[-1]),
        (TABLES[TOGS], days[1], days[3]),
        (gone, days[0], days[-1]),
    ]
    jobs = Jobs(wh, monkeypatch)
    got = wh.date_profiles(asks)
    assert jobs.log == ["read"]
    assert got[gone.name] == {}
    for spec, lo, hi in asks[:2]:
        assert got[spec.name] == wh.date_profile(spec, lo, hi), spec.name
        assert got[spec.name] and min(got[spec.name]) >= lo and max(got[spec.name]) <= hi


@pytest.mark.parametrize("given", [False, True])
def test_a_short_input_blocks_with_one_profile_query(
    wh: Warehouse, given: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PCF reads three required inputs (UPCG, UPTG, TDZA): the second, UPTG, short on one
    date and TDZA short on another blocks both, for the reasons one profile job per input gave,
    with the plan's reads or without (partial inputs never written from, one query or not)."""
    days, short_uptg, short_tdza, expected = _pcf_inputs_short(wh)
    assert TABLES[UPTG].table in expected[short_uptg]
    assert TABLES[TDZA].table in expected[short_tdza]
    reads = _plan_reads(wh, PCF, days).sliced(*chunk_span(PCF, days)) if given else None
    jobs = Jobs(wh, monkeypatch)
    result = run_chunk(wh, PCF, days, FAST, reads=reads)
    assert result.dates_blocked == expected
    assert result.dates_filled == [d for d in days if d not in expected]
    assert jobs.around_write() == chunk_jobs(PCF, given=given)


def test_reads_short_of_the_chunks_look_back_are_read_again(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """UPCG looks back 30 days at PGS. Reads starting at the chunk's first date would leave
    the window's earlier dates out of the schedule, and a date not in the schedule never
    blocks: such reads are not used, the chunk reads its span itself and still blocks the
    date whose window holds a short PGS date."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    short = days[0] - dt.timedelta(days=3)
    assert short in wh.schedule(short, short)
    wh.fetch(
        f"DELETE FROM {PGS} WHERE game_date = @d AND player_lookup IN "
        f"(SELECT player_lookup FROM {PGS} WHERE game_date = @d LIMIT 5)",
        {"d": short},
    )
    reads = _plan_reads(wh, UPCG, days)
    lo, hi = chunk_span(UPCG, days)
    narrow = reads.sliced(days[0], hi)
    assert reads.covers(lo, hi) and not narrow.covers(lo, hi)
    expected = _blocked_one_by_one(wh, UPCG, days)
    assert expected and all(str(short) in why for why in expected.values())
    jobs = Jobs(wh, monkeypatch)
    result = run_chunk(wh, UPCG, days, FAST, reads=narrow)
    assert jobs.shared == ["schedule", "games_missing_inputs"]
    assert result.dates_blocked == expected


def test_key_counts_of_several_tables_in_one_job(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate's key checks: every table's ``key_counts`` (each over its own window, one not
    there) in one job, each what its own query reads; a duplicated key is counted as alone."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    wh.fetch(
        f"INSERT INTO {TOGS} SELECT * FROM {TOGS} WHERE game_date = @d LIMIT 2", {"d": days[1]}
    )
    exists = wh.table_exists
    monkeypatch.setattr(wh, "table_exists", lambda name: name != TDZA and exists(name))
    asks = [
        (TABLES[TOGS], days[0], days[-1]),
        (TABLES[PGS], days[0] - dt.timedelta(days=30), days[2]),
        (TABLES[TDZA], days[0], days[-1]),
    ]
    jobs = Jobs(wh, monkeypatch)
    got = audits.key_counts_many(wh, asks)
    assert jobs.log == ["read"]
    assert got[TDZA] == audits.KeyAudit(0, 0, 0)
    assert got[TOGS].duplicate_keys == 2
    for spec, lo, hi in asks[:2]:
        assert got[spec.name] == audits.key_counts(wh, spec, lo, hi), spec.name


def test_a_plan_and_a_validation_read_their_profiles_in_one_job(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Phase 4's plan (five tables and their required inputs) and validation (five tables)
    read no table's profile or key counts on its own: one ``date_profiles`` job (and one
    ``key_counts_many``) each, whatever the number of tables."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    single: list[str] = []
    real_profile, real_keys = Warehouse.date_profile, audits.key_counts

    def profile(self: Warehouse, spec: TableSpec, lo: dt.date, hi: dt.date) -> Any:
        single.append(spec.name)
        return real_profile(self, spec, lo, hi)

    def keys(w: Any, spec: TableSpec, lo: dt.date, hi: dt.date) -> audits.KeyAudit:
        single.append(spec.name)
        return real_keys(w, spec, lo, hi)

    monkeypatch.setattr(Warehouse, "date_profile", profile)
    monkeypatch.setattr(audits, "key_counts", keys)
    plan = Planner(wh).plan(days[0], days[-1], phases=(4,))
    assert {c.table for c in plan.chunks} == {s.name for s in PHASE4}
    report = validate(wh, 4, days[0], days[-1])
    assert len(report.tables) == len(PHASE4)
    assert all(t.covered == 0 and t.expected == len(days) for t in report.tables)
    assert single == []


def test_later_plans_and_validations_take_the_first_plans_schedule_reads(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's gate, Phase 4 plans and Phase 4 validation take the schedule reads of its first
    plan (``Plan.reads``: bounds, schedule, openers, games missing inputs over the longest
    look-back) and run 4 jobs fewer each (the validation of Phase 4 also judges its tables'
    inputs on them), deciding exactly what they decide reading for themselves."""
    lo, hi = D(2021, 11, 15), D(2021, 11, 25)
    ground = Planner(wh).plan(lo, hi, phases=(3,)).reads
    assert ground is not None and ground.bounds is not None and ground.openers is not None
    assert ground.lo == lo - dt.timedelta(days=LONGEST_LOOKBACK_DAYS) and ground.hi == hi
    steps: dict[str, Any] = {
        "gate": lambda reads: validate(wh, 3, lo, hi, reads=reads),
        "plan4": lambda reads: Planner(wh).plan(lo, hi, phases=(4,), reads=reads),
        "validate4": lambda reads: validate(wh, 4, lo, hi, reads=reads),
    }
    for name, step in steps.items():
        own = Jobs(wh, monkeypatch)
        alone = step(None)
        assert own.shared == ["schedule", "games_missing_inputs"], name
        given = Jobs(wh, monkeypatch)
        taken = step(ground)
        assert given.shared == [], name
        assert len(own.log) - len(given.log) >= 4, (name, own.log, given.log)
        if name == "plan4":
            assert taken.tables == alone.tables and taken.chunks == alone.chunks
            assert taken.reads is ground
            assert {c.table for c in taken.chunks} == {s.name for s in PHASE4}
        else:
            assert taken == alone
            assert taken.tables and not taken.ok if name == "validate4" else taken.ok


def test_reads_that_do_not_serve_the_span_are_read_again(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads are taken only when they serve the whole span: a chunk's slice (no bounds, no
    openers) or an earlier, shorter range is read again, and the plan is the same."""
    lo, hi = D(2021, 11, 15), D(2021, 11, 25)
    ground = Planner(wh).plan(lo, hi, phases=(3,)).reads
    assert ground is not None
    reference = Planner(wh).plan(lo, hi, phases=(4,))
    for reads in (
        ground.sliced(lo, hi),  # a chunk's: no bounds or openers
        Planner(wh).plan(lo, hi - dt.timedelta(days=3), phases=(3,)).reads,  # ends too soon
    ):
        jobs = Jobs(wh, monkeypatch)
        again = Planner(wh).plan(lo, hi, phases=(4,), reads=reads)
        assert jobs.shared == ["schedule", "games_missing_inputs"]
        assert again.tables == reference.tables
        assert again.reads is not reads and again.reads is not None
        assert again.reads.serves(lo - dt.timedelta(days=LONGEST_LOOKBACK_DAYS), hi)


def test_given_reads_still_refuse_a_range_outside_the_schedule(wh: Warehouse) -> None:
    """The range is checked against the given reads' bounds as against a fresh read."""
    ground = Planner(wh).plan(D(2021, 11, 15), D(2021, 11, 25), phases=(3,)).reads
    assert ground is not None and ground.bounds is not None
    after = ground.bounds[1] + dt.timedelta(days=10)
    with pytest.raises(UsageError, match="outside the schedule"):
        validate(wh, 3, after, after + dt.timedelta(days=1), reads=ground)
    with pytest.raises(UsageError, match="is before"):
        Planner(wh).plan(D(2021, 11, 25), D(2021, 11, 15), reads=ground)


def test_a_plans_written_times_are_one_job(wh: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stale-date check's written times of every table a plan looks at, in one query job
    (``written_at_many``), equal to one ``written_at`` per table; a table not there is empty."""
    days = sorted(wh.schedule(D(2021, 11, 15), D(2021, 11, 21)))
    asks = [(TABLES[t], days[0] - dt.timedelta(days=20), days[-1]) for t in (TOGS, PGS, UPCG)]
    asks.append((TABLES[PCF], days[0], days[-1]))  # not written yet
    exists = wh.table_exists
    monkeypatch.setattr(wh, "table_exists", lambda name: name != PCF and exists(name))
    jobs = Jobs(wh, monkeypatch)
    together = wh.written_at_many(asks)
    assert jobs.log == ["read"]
    assert together == {t.name: wh.written_at(t, lo, hi) for t, lo, hi in asks}
    assert together[PCF] == {} and all(together[t] for t in (TOGS, PGS, UPCG))
