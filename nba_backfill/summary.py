"""The run summary: what a backfill did per table (coverage before/after, dates filled,
skipped, failed, retries). Built from plans, chunk reports and validation reports."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from nba_backfill.estimate import PlanEstimate
from nba_backfill.planner import Chunk, Plan
from nba_backfill.validation import ValidationReport
from nba_backfill.warehouse.base import JobCost


@dataclass
class ChunkOutcome:
    chunk: Chunk
    phase: int
    status: str  # completed | failed | not_run
    report: dict[str, Any] | None = None
    error: str | None = None
    error_class: str | None = None  # the exception's class name, when the chunk raised

    @property
    def label(self) -> str:
        return f"phase{self.phase} · {self.chunk.label}"

    def failure(self) -> dict[str, Any]:
        """What a report says of a chunk that did not complete; a chunk narrowed to its bad
        dates (its report has ``dates_failed``) names them, each with its error."""
        out: dict[str, Any] = {
            "label": self.label,
            "error": self.error or self.status,
            "error_class": self.error_class,
        }
        if self.narrowed:
            out["dates_failed"] = dict((self.report or {})["dates_failed"])
        return out

    @property
    def narrowed(self) -> bool:
        """A failed chunk whose write was narrowed to its bad dates: the others were filled."""
        return self.status == "failed" and bool((self.report or {}).get("dates_failed"))

    def unfilled(self) -> list[str]:
        """The chunk's dates that were to be filled and were not: every date of a chunk that
        failed whole; a completed or narrowed chunk's failed, incomplete and blocked dates."""
        if self.status != "completed" and not self.narrowed:
            return [d.isoformat() for d in self.chunk.dates]
        rep = self.report or {}
        return sorted(
            [
                *rep.get("dates_failed", {}),
                *rep.get("dates_incomplete", []),
                *rep.get("dates_blocked", {}),
            ]
        )


@dataclass
class RunSummary:
    start: dt.date
    end: dt.date
    coverage_before: dict[str, str] = field(default_factory=dict)
    coverage_after: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    outcomes: list[ChunkOutcome] = field(default_factory=list)
    reason: str | None = None
    gate_problems: dict[str, list[str]] | None = None  # set when the Phase 3 gate blocked
    # Validations that ran and failed without stopping the run (the gate under skip_phase4,
    # Phase 4 after it ran): phase -> table -> problems. They fail the run too.
    check_problems: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    seconds: float | None = None  # wall time of the run
    # Per table, the plan's dry-run estimate of the bytes its chunks process (None: unknown;
    # absent: not estimated, e.g. DuckDB).
    estimated_bytes: dict[str, int | None] = field(default_factory=dict)
    # Final games whose box scores or gamebook never arrived (label -> None: each once, in
    # order): skipped, not rewritten every run; they do not fail the run, they keep its dates
    # from being complete (the CLI exits 3, docs/operating.md).
    games_skipped: dict[str, None] = field(default_factory=dict)
    # The per-date gate: table -> Phase 4 date (ISO) -> why it was held back (its windows read
    # a Phase 3 date the gate found not complete; readiness.held_back). Fails the run.
    held_back: dict[str, dict[str, str]] = field(default_factory=dict)
    # The sign-off that let Phase 4 start (approver, approved, note, at), or the one that
    # ended the run; None when none was asked for.
    signoff: dict[str, Any] | None = None
    # Cancelled while it ran (the UI, the API, the CLI): its outcomes are those of the chunks
    # that finished; the others are not run (a write cut off mid-way rolled back).
    cancelled: bool = False

    def add_held_back(self, held: dict[str, dict[dt.date, str]]) -> None:
        for table, dates in held.items():
            mine = self.held_back.setdefault(table, {})
            mine.update({d.isoformat(): r for d, r in sorted(dates.items())})

    def add_plan(self, plan: Plan) -> None:
        for name, tp in plan.tables.items():
            done = len(tp.complete_dates)
            self.coverage_before.setdefault(name, f"{done}/{len(tp.expected)}")
            self.skipped[name] = len(tp.skipped)
        self.games_skipped.update(dict.fromkeys(plan.games_skipped))

    def add_estimate(self, estimate: PlanEstimate) -> None:
        """Keep a plan's per-table estimate, to show next to what was billed."""
        if estimate.kind == "dry_run":
            for name in estimate.bytes_by_table:
                self.estimated_bytes[name] = estimate.bytes(name)

    def add_validation(self, report: ValidationReport) -> None:
        for t in report.tables:
            # Same measure as the plan's "before": Phase 3 counts every expected date,
            # Phase 4 the non-bootstrap ones.
            if t.phase == 3:
                self.coverage_after[t.table] = f"{t.all_dates_covered}/{t.all_dates_expected}"
            else:
                self.coverage_after[t.table] = f"{t.covered}/{t.expected}"
        self.games_skipped.update(dict.fromkeys(report.games_skipped))
        if not report.ok:
            self.check_problems[report.phase] = report.problems

    @property
    def failed(self) -> list[ChunkOutcome]:
        return [o for o in self.outcomes if o.status != "completed"]

    @property
    def retries(self) -> Counter[str]:
        c: Counter[str] = Counter()
        for o in self.outcomes:
            for r in (o.report or {}).get("retries", []):
                c[r["reason"]] += 1
        return c

    def unfilled_dates(self) -> dict[str, list[str]]:
        """Table -> dates that chunks which did complete left unfilled (still incomplete after
        the write, or blocked by inputs)."""
        out: dict[str, list[str]] = {}
        for o in self.outcomes:
            if o.status == "completed":
                rep = o.report or {}
                dates = list(rep.get("dates_incomplete", [])) + list(rep.get("dates_blocked", {}))
                if dates:
                    out.setdefault(o.chunk.table, []).extend(dates)
        return out

    def failed_dates(self) -> dict[str, list[str]]:
        """Table -> dates that were to be filled and were not (failed or blocked chunks)."""
        out: dict[str, list[str]] = {}
        for o in self.outcomes:
            dates = o.unfilled()
            if dates:
                out.setdefault(o.chunk.table, []).extend(dates)
        return out

    def table_rows(self) -> list[dict[str, Any]]:
        names = list(dict.fromkeys([*self.coverage_before, *self.coverage_after]))
        rows = []
        failed = self.failed_dates()
        for name in names:
            filled = sum(
                len((o.report or {}).get("dates_filled", []))
                for o in self.outcomes
                if o.chunk.table == name
            )
            rows.append(
                {
                    "table": name,
                    "before": self.coverage_before.get(name, "-"),
                    "after": self.coverage_after.get(name, "-"),
                    "filled": filled,
                    "skipped": self.skipped.get(name, 0),
                    "failed": len(failed.get(name, [])),
                }
            )
        return rows

    def cost_rows(self) -> list[dict[str, Any]]:
        """Per table: the estimated bytes and what its chunks' jobs actually cost (bytes
        processed, bytes billed, slot-ms; None where unknown, all None on DuckDB). A failed
        chunk reports nothing: its attempts are in BigQuery's job history."""
        names = list(
            dict.fromkeys(
                [
                    *self.coverage_before,
                    *self.coverage_after,
                    *(o.chunk.table for o in self.outcomes),
                ]
            )
        )
        rows = []
        for name in names:
            cost = JobCost.total(
                _job_cost(o.report) for o in self.outcomes if o.chunk.table == name
            )
            rows.append(
                {"table": name, "estimated_bytes": self.estimated_bytes.get(name), **_figures(cost)}
            )
        return rows

    def cost(self) -> dict[str, Any]:
        """The cost account: ``tables`` (``cost_rows``) and the run's ``total``, whose estimate
        is None unless every table's is known."""
        rows = self.cost_rows()
        estimates = [r["estimated_bytes"] for r in rows]
        total_estimate = (
            sum(e for e in estimates if e is not None)
            if rows and all(e is not None for e in estimates)
            else None
        )
        actual = JobCost.total(
            JobCost(r["bytes_processed"], r["bytes_billed"], r["slot_ms"]) for r in rows
        )
        total = {"estimated_bytes": total_estimate, **_figures(actual)}
        return {"tables": rows, "total": total}

    def conclude(self, seconds: float) -> str:
        """Close the account of a run that took ``seconds`` (wall time): the failed chunks (the
        first 10 by label), the dates completed chunks left unfilled and the failing checks go
        ahead of any ``reason`` already set. Returns the run's status: ``Failed`` when there is
        a reason (a failed chunk, a date not filled, a failing check, a gate, an error), else
        ``Completed`` — a run whose own summary says something failed never completes;
        ``Cancelled`` when the sign-off was refused or never came, or the run was cancelled
        (its reason then counts the table-dates filled and those not filled)."""
        if self.cancelled:
            filled = sum(r["filled"] for r in self.table_rows())
            left = sum(map(len, self.failed_dates().values()))
            why = f"cancelled: {filled} table-date(s) filled, {left} not filled"
            self.reason = f"{why}; {self.reason}" if self.reason else why
            self.seconds = seconds
            return "Cancelled"
        parts: list[str] = []
        if self.failed:
            parts.append(
                f"{len(self.failed)} chunk(s) failed: "
                + ", ".join(o.label + _narrowed_to(o) for o in self.failed[:10])
            )
        unfilled = self.unfilled_dates()
        if unfilled:
            parts.append(
                f"{sum(map(len, unfilled.values()))} date(s) not filled: "
                + ", ".join(f"{t.split('.')[-1]} {_first(d)}" for t, d in unfilled.items())
            )
        if self.held_back:
            parts.append(
                f"{sum(map(len, self.held_back.values()))} Phase 4 date(s) held back: "
                + ", ".join(
                    f"{t.split('.')[-1]} {_first(list(d))}" for t, d in self.held_back.items()
                )
            )
        for phase, problems in sorted(self.check_problems.items()):
            check = "Phase 3 gate" if phase == 3 else f"Phase {phase} validation"
            parts.append(
                f"{check} failed: "
                + " | ".join(f"{t}: {'; '.join(p)}" for t, p in problems.items())
            )
        if self.reason:
            parts.append(self.reason)
        self.reason = "; ".join(parts) or None
        self.seconds = seconds
        if self.signoff is not None and not self.signoff.get("approved"):
            return "Cancelled"  # a person said no (or nobody answered): Phase 4 not started
        return "Failed" if self.reason else "Completed"

    def as_dict(self, status: str) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "status": status,
            "tables": self.table_rows(),
            "failed_chunks": [o.failure() for o in self.failed],
            "failed_dates": self.failed_dates(),
            "retries": dict(self.retries),
            "reason": self.reason,
            "gate_blocked": self.gate_problems,
            "failed_checks": {str(k): v for k, v in sorted(self.check_problems.items())},
            "games_skipped": list(self.games_skipped),
            "held_back": self.held_back,
            "held_back_counts": {t: len(d) for t, d in self.held_back.items()},
            "signoff": self.signoff,
            "seconds": None if self.seconds is None else round(self.seconds, 1),
            "cost": self.cost(),
        }


def _job_cost(report: dict[str, Any] | None) -> JobCost | None:
    """The cost a chunk's report (``ChunkResult.as_dict``) carries, if any."""
    cost = (report or {}).get("cost")
    return JobCost(**cost) if cost else None


def _figures(cost: JobCost | None) -> dict[str, int | None]:
    if cost is None:
        return {"bytes_processed": None, "bytes_billed": None, "slot_ms": None}
    return {
        "bytes_processed": cost.bytes_processed,
        "bytes_billed": cost.bytes_billed,
        "slot_ms": cost.slot_ms,
    }


def _narrowed_to(o: ChunkOutcome) -> str:
    """`` (only on <dates>)`` for a chunk narrowed to its bad dates, else nothing."""
    return f" (only on {_first(list((o.report or {})['dates_failed']))})" if o.narrowed else ""


def _first(dates: list[str], first: int = 3) -> str:
    """``dates`` sorted, the first ``first`` named, then ``(+N more)``."""
    days = sorted(dates)
    named = ", ".join(days[:first])
    return f"{named} (+{len(days) - first} more)" if len(days) > first else named
