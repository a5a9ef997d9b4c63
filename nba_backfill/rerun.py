"""Which (table, date) pairs a rerun of failed dates fills: plain functions of what the run
history says failed and of what the warehouse still misses.

* **History** (read by ``tasks/history.py`` from Prefect) names the failed backfill runs of the
  last days and, in each, the chunk task runs that did not complete — failed, crashed, or never
  started because an upstream chunk failed — by the name the flow gave them when it submitted
  them (:func:`chunk_run_name`; runs made before carry tags instead, :func:`chunk_tags`); and
  whether the Phase 3 gate (tagged :data:`GATE_TAG`) blocked its Phase 4.
* **The warehouse** says, against the schedule, which of those dates are still not complete
  (a later run, or a person, may have fixed some).

A rerun fills the intersection and nothing else: a gap no failed run tried to fill is the
backfill's business, not the rerun's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nba_backfill.catalog import get_table, resolve_tables
from nba_backfill.errors import UsageError
from nba_backfill.planner import Planner
from nba_backfill.warehouse.base import Warehouse

TABLE_TAG = "table:"  # + dataset.table
PHASE_TAG = "phase:"  # + 3 or 4
DATES_TAG = "dates:"  # + <start>..<end>, ISO dates
GATE_TAG = "gate:phase3"  # the Phase 3 validation that gates Phase 4

Ranges = dict[str, list[tuple[dt.date, dt.date]]]


@dataclass(frozen=True)
class ChunkRef:
    """One chunk task run, as its name (or, made before, its tags) in the run history describes
    it."""

    phase: int
    table: str  # dataset.table
    start: dt.date
    end: dt.date


def chunk_run_name(phase: int, table: str, start: dt.date, end: dt.date) -> str:
    """The name a chunk task run is submitted with, for people and for the history
    (:func:`parse_chunk_run` reads it back): ``"phase3 · player_game_summary ·
    2021-10-26..2021-11-01"`` for phase 3, that table (``dataset.table`` or its bare name),
    ``[start, end]`` (the chunk's range, both ends included).

    A name, not tags: Prefect 3.9 takes a tag-concurrency lease for a task run with tags before
    it runs, one write to its database per chunk. On the local server's SQLite, chunks starting
    together are refused it ("database is locked", HTTP 503) and retried after 2, 4, 8, 16 s:
    chunks started 2-35 s late at each phase's start (docs/benchmarks.md)."""
    return f"phase{phase} · {get_table(table).table} · {start}..{end}"


def chunk_tags(phase: int, table: str, start: dt.date, end: dt.date) -> list[str]:
    """The tags chunk task runs were submitted with before :func:`chunk_run_name` (the history
    of those runs still reads them, :func:`parse_chunk_tags`):
    ``["table:nba_analytics.player_game_summary", "phase:3", "dates:2021-10-26..2021-11-01"]``
    for phase 3, that table, ``[start, end]`` (the chunk's range, both ends included)."""
    return [f"{TABLE_TAG}{table}", f"{PHASE_TAG}{phase}", f"{DATES_TAG}{start}..{end}"]


def _chunk_ref(table: str, phase: str, dates: str) -> ChunkRef | None:
    """A chunk from its parts as written (table, "3"/"4", "<start>..<end>"); None when they do
    not name one: a table the catalog does not know, a phase other than 3 or 4, dates that are
    not ISO dates or end before they start."""
    lo, sep, hi = dates.partition("..")
    if phase not in ("3", "4") or not sep:
        return None
    try:
        name = get_table(table).name
        start, end = dt.date.fromisoformat(lo), dt.date.fromisoformat(hi)
    except (UsageError, ValueError):
        return None
    if end < start:
        return None
    return ChunkRef(int(phase), name, start, end)


_CHUNK_NAME = re.compile(r"phase(?P<phase>\d+) · (?P<table>[\w.]+) · (?P<dates>\S+)")


def parse_chunk_name(name: str) -> ChunkRef | None:
    """A task run's name -> the chunk it filled (:func:`chunk_run_name`); None for any other
    task run (plan, validate, ...) and for a name that does not name one chunk whole."""
    m = _CHUNK_NAME.fullmatch(name)
    return _chunk_ref(m["table"], m["phase"], m["dates"]) if m else None


def parse_chunk_run(name: str, tags: Iterable[str]) -> ChunkRef | None:
    """The chunk a task run filled: by its tags (a run made before chunks were named), else by
    its name. None for a task run that is no chunk."""
    return parse_chunk_tags(tags) or parse_chunk_name(name)


def parse_chunk_tags(tags: Iterable[str]) -> ChunkRef | None:
    """A task run's tags -> the chunk it filled; None for any other task run (plan, validate,
    fan-out, ...), and for tags that do not name one chunk: a tag missing or given twice with
    different values, a table the catalog does not know, a phase other than 3 or 4, dates that
    are not ISO dates or end before they start. Other tags are ignored."""
    values: dict[str, set[str]] = {TABLE_TAG: set(), PHASE_TAG: set(), DATES_TAG: set()}
    for tag in tags:
        for prefix, seen in values.items():
            if tag.startswith(prefix):
                seen.add(tag.removeprefix(prefix))
    if any(len(v) != 1 for v in values.values()):
        return None
    [table], [phase], [dates] = values[TABLE_TAG], values[PHASE_TAG], values[DATES_TAG]
    return _chunk_ref(table, phase, dates)


@dataclass
class FailedRun:
    """A backfill run that ended Failed or Crashed, as the history tells it."""

    id: str
    name: str
    start: dt.date
    end: dt.date
    tables: list[str] | None  # None = every table
    skip_phase4: bool = False
    unfinished: list[ChunkRef] = field(default_factory=list)  # chunk runs not Completed
    gate_blocked: bool = False  # its Phase 3 gate failed, so its Phase 4 never ran
    whole_range: bool = False  # crashed / failed before any chunk: no record of what was left


def _merge(ranges: Iterable[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    out: list[tuple[dt.date, dt.date]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + dt.timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def rerun_scope(runs: Sequence[FailedRun]) -> Ranges:
    """Table -> merged date ranges the failed runs did not fill: their unfinished chunks;
    Phase 4 over the run's range when the gate blocked it; every table of the run over its
    range when it left no record (crashed, or failed before any chunk ran)."""
    scope: dict[str, list[tuple[dt.date, dt.date]]] = {}
    for run in runs:
        for c in run.unfinished:
            scope.setdefault(c.table, []).append((c.start, c.end))
        if run.whole_range or run.gate_blocked:
            phases = {3, 4} if run.whole_range else {4}
            if run.skip_phase4:
                phases.discard(4)
            for spec in resolve_tables(run.tables):
                if spec.phase in phases:
                    scope.setdefault(spec.name, []).append((run.start, run.end))
    return {t: _merge(r) for t, r in sorted(scope.items())}


def still_missing(
    wh: Warehouse, tables: Sequence[str], start: dt.date, end: dt.date
) -> dict[str, set[dt.date]]:
    """Expected dates of each table on ``[start, end]`` that are not complete now (Phase 4:
    bootstrap days excluded), checked against the schedule like the planner does."""
    plan = Planner(wh).plan(start, end, list(tables), phases=(3, 4))
    return {name: set(tp.expected) - tp.complete for name, tp in plan.tables.items()}


def rerun_targets(
    wh: Warehouse, scope: Mapping[str, Sequence[tuple[dt.date, dt.date]]]
) -> dict[str, list[dt.date]]:
    """The dates to refill: in the failed runs' scope and still not complete."""
    if not scope:
        return {}
    lo = min(r[0] for rs in scope.values() for r in rs)
    hi = max(r[1] for rs in scope.values() for r in rs)
    missing = still_missing(wh, list(scope), lo, hi)
    out: dict[str, list[dt.date]] = {}
    for table, ranges in scope.items():
        dates = sorted(d for d in missing.get(table, ()) if any(a <= d <= b for a, b in ranges))
        if dates:
            out[table] = dates
    return out


def failed_dates(
    wh: Warehouse, runs: Sequence[FailedRun], start: dt.date, end: dt.date
) -> dict[str, list[dt.date]]:
    """Reprocess mode ``failed``: of :func:`rerun_targets` (what failed runs left unfilled and
    is still not complete), the dates on ``[start, end]``."""
    targets = rerun_targets(wh, rerun_scope(runs))
    inside = {t: [d for d in ds if start <= d <= end] for t, ds in targets.items()}
    return {t: ds for t, ds in inside.items() if ds}


def by_phase(targets: Mapping[str, Sequence[dt.date]], phase: int) -> dict[str, list[dt.date]]:
    return {t: list(ds) for t, ds in targets.items() if get_table(t).phase == phase}


def span(targets: Mapping[str, Sequence[dt.date]]) -> tuple[dt.date, dt.date]:
    dates = [d for ds in targets.values() for d in ds]
    return min(dates), max(dates)


def _iso(d: Mapping[str, Iterable[dt.date]]) -> dict[str, list[str]]:
    return {t: [x.isoformat() for x in sorted(ds)] for t, ds in sorted(d.items()) if ds}


@dataclass
class RerunReport:
    """What a rerun set out to fill, what it fixed and what still fails."""

    lookback_days: int
    runs: list[str] = field(default_factory=list)  # names of the failed runs it read
    targets: dict[str, list[dt.date]] = field(default_factory=dict)
    still_failing: dict[str, list[dt.date]] = field(default_factory=dict)
    failed_chunks: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    seconds: float | None = None
    checked: bool = False  # still_failing was read from the warehouse after the rerun

    @property
    def nothing_to_do(self) -> bool:
        return not self.targets

    @property
    def fixed(self) -> dict[str, list[dt.date]]:
        return {
            t: [d for d in ds if d not in set(self.still_failing.get(t, ()))]
            for t, ds in self.targets.items()
        }

    def record_after(self, missing_now: Mapping[str, Iterable[dt.date]]) -> None:
        """Set ``still_failing`` from what the warehouse misses after the rerun."""
        self.still_failing = {
            t: sorted(set(ds) & set(missing_now.get(t, ()))) for t, ds in self.targets.items()
        }
        self.still_failing = {t: ds for t, ds in self.still_failing.items() if ds}
        self.checked = True

    def as_dict(self, status: str) -> dict[str, Any]:
        return {
            "status": status,
            "lookback_days": self.lookback_days,
            "runs": self.runs,
            "nothing_to_do": self.nothing_to_do,
            "targets": _iso(self.targets),
            "fixed": _iso(self.fixed),
            "still_failing": _iso(self.still_failing),
            "failed_chunks": self.failed_chunks,
            "reason": self.reason,
            "seconds": None if self.seconds is None else round(self.seconds, 1),
        }


__all__ = [
    "DATES_TAG",
    "GATE_TAG",
    "PHASE_TAG",
    "TABLE_TAG",
    "ChunkRef",
    "FailedRun",
    "RerunReport",
    "by_phase",
    "chunk_run_name",
    "chunk_tags",
    "failed_dates",
    "parse_chunk_name",
    "parse_chunk_run",
    "parse_chunk_tags",
    "rerun_scope",
    "rerun_targets",
    "span",
    "still_missing",
]
