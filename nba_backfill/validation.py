"""Validation: the Phase 3 gate (production's verify_phase3_for_phase4, made stricter by per-date
completeness) and the Phase 4 / ML-readiness checks (SPEC §6)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from nba_backfill import audits
from nba_backfill.audits import KeyAudit
from nba_backfill.calendar import Openers
from nba_backfill.catalog import (
    LONGEST_LOOKBACK_DAYS,
    PGS,
    PHASE3,
    PHASE4,
    TABLES,
    USAGE_RATE_THRESHOLD,
    TableSpec,
    resolve_tables,
)
from nba_backfill.planner import read_schedule
from nba_backfill.readiness import (
    INPUTS_MISSING,
    ScheduleReads,
    blocked_by_inputs,
    counted_games,
    expired_through,
    held_back,
    inputs_missing,
    is_complete,
    judged_complete,
    skipped_games,
    utc_today,
)
from nba_backfill.warehouse.base import DateProfile, MissingGame, Warehouse
from nba_backfill.warehouse.retrying import with_read_retries


@dataclass
class TableCheck:
    table: str
    phase: int
    expected: int  # non-bootstrap expected dates (the gate's denominator)
    covered: int  # of those, dates whose rows are complete
    threshold: float
    missing: list[dt.date] = field(default_factory=list)
    incomplete: list[dt.date] = field(default_factory=list)
    explained: dict[dt.date, str] = field(default_factory=dict)  # Phase 4: inputs short
    rows: int = 0
    null_keys: int = 0
    duplicate_keys: int = 0
    all_dates_expected: int = 0
    all_dates_covered: int = 0
    critical_threshold: float | None = None
    expired: int = 0  # expected dates the table drops on arrival (skipped, not expected)
    # Data problems: audit -> {date: offending rows} of the table's data audits (catalog).
    data_problems: dict[str, dict[dt.date, int]] = field(default_factory=dict)
    # Dates where the key audits find rows: date -> (NULL-key rows, surplus duplicate rows).
    key_dates: dict[dt.date, tuple[int, int]] = field(default_factory=dict)
    # Every expected date of the range (bootstrap days included) whose rows are not complete.
    short_dates: list[dt.date] = field(default_factory=list)
    # At the table's grain (catalog ``expected_set``): date -> (expected entities without a
    # row, rows of entities the inputs do not hold, the first such entity).
    grain_dates: dict[dt.date, tuple[int, int, str | None]] = field(default_factory=dict)
    entity: str = ""  # what one row of a date stands for (the key column beside the date)
    # Dates holding final games whose box scores or gamebook never arrived, the games named:
    # the rows of every other game count (the gate measures what Phase 4 can read), but the
    # date is not complete — the report says so (readiness.inputs_missing).
    games_skipped: dict[dt.date, str] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return self.covered / self.expected if self.expected else 1.0

    @property
    def problems(self) -> list[str]:
        out: list[str] = []
        short = False
        if self.coverage < self.threshold:
            out.append(
                f"coverage {self.coverage:.1%} < {self.threshold:.0%} "
                f"({self.covered}/{self.expected} dates)"
            )
            short = True
        if self.phase == 4:
            unexplained = [d for d in self.missing + self.incomplete if d not in self.explained]
            if unexplained:
                out.append(
                    f"{len(unexplained)} date(s) missing although inputs are complete, "
                    f"first {unexplained[0]}"
                )
        if self.critical_threshold is not None and self.all_dates_expected:
            share = self.all_dates_covered / self.all_dates_expected
            if share < self.critical_threshold:
                out.append(
                    f"critical: {self.all_dates_covered}/{self.all_dates_expected} "
                    f"expected dates < {self.critical_threshold:.2%}"
                )
                short = True
        if short:
            # A failure names its dates: where to look, what the next run re-plans. The critical
            # share counts bootstrap days too, which ``missing`` / ``incomplete`` leave out.
            named = False
            for label, dates in (("missing", self.missing), ("incomplete", self.incomplete)):
                if dates:
                    out.append(f"{label} {_dates(dates)}")
                    named = True
            if not named and self.short_dates:
                out.append(f"not complete {_dates(self.short_dates)}")
        nulls = sorted(d for d, (n, _) in self.key_dates.items() if n)
        dups = sorted(d for d, (_, n) in self.key_dates.items() if n)
        if self.null_keys:
            rows = "row" if self.null_keys == 1 else "rows"
            where = f" on {_dates(nulls)}" if nulls else ""
            out.append(f"{self.null_keys} {rows} with NULL key columns{where}")
        if self.duplicate_keys:
            rows = "row" if self.duplicate_keys == 1 else "rows"
            where = f" on {_dates(dups)}" if dups else ""
            out.append(f"{self.duplicate_keys} duplicate key {rows}{where}")
        out.extend(self._grain_problems())
        return out

    def _grain_problems(self) -> list[str]:
        """Dates whose rows miss an entity the inputs hold, or hold one they do not (an orphan
        row: each such date named with its count and an example key). Either makes the date
        incomplete, so the next run replaces it."""
        out: list[str] = []
        short = sorted(d for d, (n, _, _) in self.grain_dates.items() if n)
        if short:
            n = sum(self.grain_dates[d][0] for d in short)
            out.append(f"{n} expected {self.entity} without a row on {_dates(short)}")
        orphans = sorted(d for d, (_, n, _) in self.grain_dates.items() if n)
        for d in orphans[:5]:
            _, n, example = self.grain_dates[d]
            rows = "row" if n == 1 else "rows"
            out.append(
                f"{n} surplus {rows} on {d} (not in its inputs), e.g. {self.entity} {example}"
            )
        if len(orphans) > 5:
            out.append(f"surplus rows on {len(orphans) - 5} more date(s)")
        return out

    @property
    def warnings(self) -> list[str]:
        """The data problems the table's audits found (values the inputs hold that cannot be
        parsed, ...), per audit with their dates. Reported, never failing the check: a rerun
        cannot repair a raw feed, and the ML-readiness share, which counts these rows, has
        the threshold that decides."""
        out: list[str] = []
        for name, by_date in self.data_problems.items():
            if by_date:
                dates = ", ".join(d.isoformat() for d in by_date)
                out.append(
                    f"{name}: {sum(by_date.values())} rows on {len(by_date)} date(s): {dates}"
                )
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def skipped_games(self) -> list[str]:
        """The games skipped because their inputs never arrived (one line per date)."""
        return [
            r.removeprefix(f"{INPUTS_MISSING}: ") for _, r in sorted(self.games_skipped.items())
        ]

    def as_dict(self, verbose: bool = False) -> dict[str, object]:
        d: dict[str, object] = {
            "table": self.table,
            "phase": self.phase,
            "ok": self.ok,
            "coverage": round(self.coverage, 4),
            "covered_dates": self.covered,
            "expected_dates": self.expected,
            "threshold": self.threshold,
            "rows": self.rows,
            "missing_dates": len(self.missing),
            "incomplete_dates": len(self.incomplete),
            "null_keys": self.null_keys,
            "duplicate_keys": self.duplicate_keys,
            "expired_dates": self.expired,
            "grain_dates": {
                k.isoformat(): {"missing": m, "surplus": n, "surplus_example": e}
                for k, (m, n, e) in sorted(self.grain_dates.items())
            },
            "data_problems": {
                name: {d.isoformat(): n for d, n in by_date.items()}
                for name, by_date in self.data_problems.items()
            },
            "problems": self.problems,
            "warnings": self.warnings,
            "games_skipped": {k.isoformat(): v for k, v in sorted(self.games_skipped.items())},
        }
        if verbose:
            d["key_dates"] = {
                k.isoformat(): {"null_keys": n, "duplicate_keys": dup}
                for k, (n, dup) in sorted(self.key_dates.items())
            }
            d["missing"] = [x.isoformat() for x in self.missing]
            d["incomplete"] = [x.isoformat() for x in self.incomplete]
            d["explained"] = {k.isoformat(): v for k, v in sorted(self.explained.items())}
        return d


def _dates(dates: list[dt.date], first: int = 5) -> str:
    """``dates`` in order, the first ``first`` of them named, then ``(+N more)``."""
    days = sorted(dates)
    named = ", ".join(d.isoformat() for d in days[:first])
    return f"{named} (+{len(days) - first} more)" if len(days) > first else named


@dataclass
class ValidationReport:
    phase: int
    start: dt.date
    end: dt.date
    tables: list[TableCheck]
    usage_rate_share: float | None = None  # ML readiness (Phase 4 report only)

    @property
    def problems(self) -> dict[str, list[str]]:
        out = {t.table: t.problems for t in self.tables if t.problems}
        if self.usage_rate_share is not None and self.usage_rate_share < USAGE_RATE_THRESHOLD:
            out.setdefault(PGS, []).append(
                f"usage_rate non-null {self.usage_rate_share:.1%} < {USAGE_RATE_THRESHOLD:.0%} "
                "of player-games played"
            )
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def games_skipped(self) -> list[str]:
        """Each game skipped because its inputs never arrived, once (whatever tables skip it)."""
        games: dict[str, None] = {}
        for t in self.tables:
            for line in t.skipped_games:
                games.update(dict.fromkeys(line.split(", ")))
        return list(games)

    def as_dict(self, verbose: bool = False) -> dict[str, object]:
        return {
            "phase": self.phase,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "ok": self.ok,
            "usage_rate_non_null": self.usage_rate_share,
            "tables": [t.as_dict(verbose) for t in self.tables],
            "problems": self.problems,
            "games_skipped": self.games_skipped,
        }


def check_table(
    wh: Warehouse,
    spec: TableSpec,
    start: dt.date,
    end: dt.date,
    schedule: dict[dt.date, int],
    openers: Openers,
    missing_games: Sequence[MissingGame] = (),
    profile: Mapping[dt.date, DateProfile] | None = None,
    keys: KeyAudit | None = None,
    inputs_missing_games: Sequence[MissingGame] | None = None,
) -> TableCheck:
    """``spec`` on ``[start, end]`` against ``schedule``. ``profile`` and ``keys``: its
    ``date_profile`` and ``audits.key_counts`` over that range, when the caller read them
    (``validate`` reads every table's in one query each). ``inputs_missing_games``: the games
    missing inputs over the required inputs' windows too (a Phase 4 table's unexplained dates
    are judged on them), when the caller read them; else read here."""
    # Dates the table drops on arrival are skipped by the planner: not expected here either.
    gone = expired_through(wh, spec, utc_today())
    in_range = sorted(d for d in schedule if start <= d <= end and (gone is None or d > gone))
    expired = sum(1 for d in schedule if start <= d <= end and gone is not None and d <= gone)
    nonboot = [d for d in in_range if not openers.is_bootstrap(d)]
    prof = wh.date_profile(spec, start, end) if profile is None else profile
    games = counted_games(spec, schedule, missing_games)
    skipped = skipped_games(spec, missing_games)
    complete = {d for d in in_range if is_complete(spec, prof.get(d), games[d], skipped.get(d, 0))}
    # the table's key audits (catalog)
    audit = audits.key_counts(wh, spec, start, end) if keys is None else keys
    check = TableCheck(
        table=spec.name,
        phase=spec.phase,
        expected=len(nonboot),
        covered=len(complete.intersection(nonboot)),
        threshold=spec.gate_threshold,
        missing=[d for d in nonboot if d not in prof],
        incomplete=[d for d in nonboot if d in prof and d not in complete],
        rows=audit.rows,
        null_keys=audit.null_keys,
        duplicate_keys=audit.duplicate_keys,
        all_dates_expected=len(in_range),
        all_dates_covered=len(complete),
        critical_threshold=spec.critical_threshold,
        expired=expired,
        data_problems={a: audits.rows_by_date(wh, a, spec, start, end) for a in spec.data_audits},
        short_dates=[d for d in in_range if d not in complete],
        games_skipped=inputs_missing(spec, in_range, missing_games),
        key_dates={
            d: (p.null_keys, p.duplicate_keys)
            for d, p in prof.items()
            if p.null_keys or p.duplicate_keys
        },
        grain_dates=_grain_dates(prof, in_range),
        entity=spec.entity_column if spec.expected_set else "",
    )
    if spec.phase == 4:
        # Its threshold is 0 (catalog.COVERAGE_THRESHOLD): a missing date is explained when
        # its inputs are short, and a problem otherwise.
        check.explained = blocked_by_inputs(
            wh, spec, check.missing + check.incomplete, schedule, missing=inputs_missing_games
        )
    return check


def _grain_dates(
    prof: Mapping[dt.date, DateProfile], in_range: Collection[dt.date]
) -> dict[dt.date, tuple[int, int, str | None]]:
    """The dates of ``in_range`` whose entities differ from the table's expected set, as
    (missing, surplus, first surplus entity). A row with a NULL key may be any of the missing
    entities and the key audit names it already: each counts against one missing entity."""
    out: dict[dt.date, tuple[int, int, str | None]] = {}
    for d, p in prof.items():
        missing = max(0, p.missing_entities - p.null_keys)
        if d in in_range and (missing or p.surplus_entities):
            out[d] = (missing, p.surplus_entities, p.surplus_example)
    return out


def validate(
    wh: Warehouse,
    phase: int,
    start: dt.date,
    end: dt.date,
    tables: list[str] | None = None,
    reads: ScheduleReads | None = None,
) -> ValidationReport:
    """Check every table of ``phase`` on ``[start, end]`` against the schedule (reads retried
    on transient errors). ``reads`` (a plan's ``Plan.reads`` of the same run) stands for the
    schedule reads when it covers them (``planner.read_schedule``); the tables are always
    read afresh."""
    wh = with_read_retries(wh)
    ground = read_schedule(wh, start, end, reads)
    specs = [s for s in resolve_tables(tables) if s.phase == phase]
    schedule = ground.schedule_on(start - dt.timedelta(days=LONGEST_LOOKBACK_DAYS), end)
    openers = ground.openers
    assert openers is not None  # read_schedule reads them
    missing = ground.missing_on(start, end)
    # Every table's profile in one query job, and every table's key counts in another, not
    # one each (a BigQuery job start per table per read).
    asks = [(s, start, end) for s in specs]
    profiles = wh.date_profiles(asks)
    keys = audits.key_counts_many(wh, asks)
    report = ValidationReport(
        phase,
        start,
        end,
        [
            check_table(
                wh,
                s,
                start,
                end,
                schedule,
                openers,
                missing,
                profiles[s.name],
                keys[s.name],
                ground.missing,  # over the longest look-back: serves the inputs' windows
            )
            for s in specs
        ],
    )
    if phase == 4:
        explain_held_back(wh, report, schedule, missing)
        report.usage_rate_share = usage_rate_share(wh, start, end)
    return report


def explain_held_back(
    wh: Warehouse,
    report: ValidationReport,
    schedule: Mapping[dt.date, int],
    missing: Sequence[MissingGame],
) -> None:
    """A Phase 4 date the per-date gate held back (its windows read a Phase 3 date of the
    range that is not complete: ``readiness.held_back``) is missing for that reason, not
    unexplained: the date waits for its input, the run that held it back failed naming it."""
    short = [d for t in report.tables for d in t.missing + t.incomplete if d not in t.explained]
    if not short:
        return
    days = sorted(d for d in schedule if report.start <= d <= report.end)
    lo, hi = report.start, report.end
    profiles = wh.date_profiles([(s, lo, hi) for s in PHASE3])  # one job for the five
    failing = {
        s.name: set(days) - judged_complete(s, profiles[s.name], schedule, lo, hi, missing)
        for s in PHASE3
    }
    held = held_back(PHASE4, days, failing)
    for t in report.tables:
        for d in t.missing + t.incomplete:
            if d not in t.explained and d in held.get(t.table, {}):
                t.explained[d] = held[t.table][d]


def usage_rate_share(wh: Warehouse, start: dt.date, end: dt.date) -> float | None:
    """ML readiness: share of player-games played (minutes > 0, or active with points but
    minutes that did not parse) whose usage_rate is not NULL (the ``usage_rate`` audit returns
    the others); None when none were played or no table."""
    counts = audits.usage_rate_counts(wh, TABLES[PGS], start, end)
    if counts is None or not counts[0]:
        return None
    played, without_usage = counts
    return (played - without_usage) / played
