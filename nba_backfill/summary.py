"""The run summary: what a backfill did per table (coverage before/after, dates filled,
skipped, failed, retries). Built from plans, chunk reports and validation reports."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from nba_backfill.planner import Chunk, Plan
from nba_backfill.validation import ValidationReport


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
        """What a report says of a chunk that did not complete."""
        return {
            "label": self.label,
            "error": self.error or self.status,
            "error_class": self.error_class,
        }


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
    seconds: float | None = None  # wall time of the run

    def add_plan(self, plan: Plan) -> None:
        for name, tp in plan.tables.items():
            done = len(tp.complete & set(tp.expected))
            self.coverage_before.setdefault(name, f"{done}/{len(tp.expected)}")
            self.skipped[name] = len(tp.skipped)

    def add_validation(self, report: ValidationReport) -> None:
        for t in report.tables:
            # Same measure as the plan's "before": Phase 3 counts every expected date,
            # Phase 4 the non-bootstrap ones.
            if t.phase == 3:
                self.coverage_after[t.table] = f"{t.all_dates_covered}/{t.all_dates_expected}"
            else:
                self.coverage_after[t.table] = f"{t.covered}/{t.expected}"

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

    def failed_dates(self) -> dict[str, list[str]]:
        """Table -> dates that were to be filled and were not (failed or blocked chunks)."""
        out: dict[str, list[str]] = {}
        for o in self.outcomes:
            if o.status != "completed":
                dates = [d.isoformat() for d in o.chunk.dates]
            else:
                rep = o.report or {}
                dates = list(rep.get("dates_incomplete", [])) + list(rep.get("dates_blocked", {}))
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

    def conclude(self, seconds: float) -> str:
        """Close the account of a run that took ``seconds`` (wall time): the failed chunks (the
        first 10 by label) go ahead of any ``reason`` already set. Returns the run's status:
        ``Failed`` when there is a reason (a failed chunk, a gate, an error), else
        ``Completed``."""
        if self.failed:
            failed = f"{len(self.failed)} chunk(s) failed: " + ", ".join(
                o.label for o in self.failed[:10]
            )
            self.reason = f"{failed}; {self.reason}" if self.reason else failed
        self.seconds = seconds
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
            "seconds": None if self.seconds is None else round(self.seconds, 1),
        }
