"""Resume: what a backfill run that did not finish (killed, crashed, failed) left unfilled,
planned with that run's own parameters. Plain functions of what the run history says
(``tasks/history.py`` reads it into a :class:`ResumeRecord`) and of the warehouse.

* Mode ``missing`` (the default) is its own resume: the same parameters plan the dates still
  missing or incomplete, and what the run filled is complete.
* The other modes rewrite dates whatever their state, so "complete" cannot tell what the run
  already rewrote: the run's own plan is made again, less the dates of every chunk that
  Completed under it or under an earlier resume of it (the chunk task runs' names,
  ``rerun.parse_chunk_run``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nba_backfill.errors import UsageError
from nba_backfill.params import RunParams, resolve_params
from nba_backfill.planner import Planner, Selection
from nba_backfill.rerun import ChunkRef
from nba_backfill.settings import Settings
from nba_backfill.warehouse.base import Warehouse

RESUME = "resume"  # the Selection mode of a resume's dates (and their reason in a plan)


@dataclass(frozen=True)
class ResumeRecord:
    """A backfill run as the history tells it, for a resume: the run asked for (``id``,
    ``name``, ``state``), the parameters of the run it resumes (itself, or the first run of a
    chain of resumes), and the chunks that Completed under any run of that chain."""

    id: str
    name: str
    state: str  # Prefect's state name: Running (a killed process), Crashed, Failed, ...
    completed: bool
    parameters: Mapping[str, Any]
    started: dt.datetime | None = None
    done: tuple[ChunkRef, ...] = ()
    runs: tuple[str, ...] = field(default_factory=tuple)  # ids of the chain, first run first

    def check(self) -> None:
        """A UsageError when there is nothing to resume: the run Completed."""
        if self.completed:
            raise UsageError(f"run {self.name!r} ({self.id}) completed: nothing to resume")

    @property
    def finished_note(self) -> str:
        """How the run ended, for people: a killed process leaves its run Running."""
        return f"{self.state}, not finished"


def resume_params(settings: Settings, record: ResumeRecord) -> RunParams:
    """The run's parameters, resolved the way the run resolved them."""
    p = record.parameters
    return resolve_params(
        settings,
        p.get("start"),
        p.get("end"),
        p.get("tables"),
        p.get("chunk_days"),
        p.get("max_concurrency"),
        p.get("skip_phase4", False),
        p.get("mode"),
        p.get("dates"),
        p.get("downstream", True),
        p.get("fail_fast", False),
    )


def done_dates(done: Sequence[ChunkRef]) -> dict[str, list[tuple[dt.date, dt.date]]]:
    """Table -> the ranges of its chunks that completed."""
    out: dict[str, list[tuple[dt.date, dt.date]]] = {}
    for c in done:
        out.setdefault(c.table, []).append((c.start, c.end))
    return out


def resume_selection(
    wh: Warehouse,
    params: RunParams,
    record: ResumeRecord,
    failed: Mapping[str, Sequence[dt.date]] | None = None,
) -> Selection | None:
    """What a resume of ``record`` (run with ``params``) plans: None for mode missing (the
    same parameters plan what is still missing); else, per table, the dates the run's own
    selection plans now (``failed``: mode failed's dates, read again) less those of its
    completed chunks — an explicit selection, downstream tables included already."""
    if params.mode == "missing":
        return None
    base = Selection.of(params, failed)
    phases = (3, 4) if params.to_phase4 else (3,)
    plan = Planner(wh).plan(
        params.start, params.end, params.tables, params.chunk_days, phases=phases, select=base
    )
    done = done_dates(record.done)
    targets = {
        name: [d for d in tp.to_fill if not any(a <= d <= b for a, b in done.get(name, ()))]
        for name, tp in plan.tables.items()
    }
    return Selection(RESUME, failed={t: ds for t, ds in targets.items() if ds}, downstream=False)


__all__ = ["RESUME", "ResumeRecord", "done_dates", "resume_params", "resume_selection"]
