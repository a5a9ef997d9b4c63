"""What a resume plans (``nba_backfill/resume.py``): the killed run's parameters, less the
chunks that completed under it; mode missing is its own resume; a completed run is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill.catalog import TDGS, TOGS
from nba_backfill.errors import UsageError
from nba_backfill.planner import Planner, Selection
from nba_backfill.rerun import ChunkRef
from nba_backfill.resume import ResumeRecord, resume_params, resume_selection
from nba_backfill.settings import Settings
from nba_backfill.warehouse import shared_warehouse

START, END = dt.date(2021, 11, 1), dt.date(2021, 11, 12)


def record(mode: str | None, done: tuple[ChunkRef, ...] = (), **extra: object) -> ResumeRecord:
    parameters = {
        "start": START.isoformat(),
        "end": END.isoformat(),
        "tables": [TOGS],
        "chunk_days": 3,
        "skip_phase4": True,
        "mode": mode,
        **extra,
    }
    return ResumeRecord("id-1", "backfill · x", "Running", False, parameters, done=done)


def test_mode_all_resumes_without_the_chunks_it_completed(seeded: Settings) -> None:
    wh = shared_warehouse()
    rec = record("all", (ChunkRef(3, TOGS, START, dt.date(2021, 11, 6)),), downstream=False)
    params = resume_params(seeded, rec)
    assert (params.start, params.end, params.tables, params.mode) == (START, END, [TOGS], "all")
    select = resume_selection(wh, params, rec)
    assert select is not None and select.mode == "resume" and not select.downstream
    expected = sorted(wh.schedule(dt.date(2021, 11, 7), END))
    assert dict(select.failed) == {TOGS: expected}
    plan = Planner(wh).plan(START, END, [TOGS], 3, phases=(3,), select=select)
    assert plan.tables[TOGS].to_fill == expected
    assert set(plan.tables[TOGS].reasons().values()) == {"resume"}


def test_mode_dates_keeps_the_dates_listed_less_what_completed(seeded: Settings) -> None:
    wh = shared_warehouse()
    days = "2021-11-02,2021-11-05,2021-11-09"
    done = (ChunkRef(3, TOGS, dt.date(2021, 11, 4), dt.date(2021, 11, 6)),)
    rec = record("dates", done, dates=days, downstream=False)
    select = resume_selection(wh, resume_params(seeded, rec), rec)
    assert select is not None
    assert dict(select.failed) == {TOGS: [dt.date(2021, 11, 2), dt.date(2021, 11, 9)]}


def test_a_resume_selection_plans_every_table_it_names(seeded: Settings) -> None:
    """A resume's dates include the downstream tables of the run it resumes: planned though
    the run's own ``tables`` do not name them."""
    wh = shared_warehouse()
    day = [dt.date(2021, 11, 8)]
    select = Selection("resume", failed={TOGS: day, TDGS: day}, downstream=False)
    plan = Planner(wh).plan(START, END, [TOGS], 3, phases=(3,), select=select)
    assert {t: tp.to_fill for t, tp in plan.tables.items() if tp.to_fill} == {
        TOGS: day,
        TDGS: day,
    }


def test_mode_missing_is_its_own_resume_and_a_completed_run_is_refused(
    seeded: Settings,
) -> None:
    rec = record(None)
    assert resume_selection(shared_warehouse(), resume_params(seeded, rec), rec) is None
    rec.check()  # Running: accepted
    assert rec.finished_note == "Running, not finished"
    done = ResumeRecord("id-2", "backfill · y", "Completed", True, {})
    with pytest.raises(UsageError, match=r"run 'backfill · y' \(id-2\) completed"):
        done.check()
