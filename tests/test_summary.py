"""How a run summary closes (nba_backfill.summary): status and reason from plain values."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill.catalog import TDGS, TOGS
from nba_backfill.planner import Chunk
from nba_backfill.summary import ChunkOutcome, RunSummary

D = dt.date


def outcome(table: str, day: int, status: str) -> ChunkOutcome:
    d = D(2021, 11, day)
    return ChunkOutcome(Chunk(table, d, d, (d,)), 3, status)


@pytest.mark.parametrize(
    ("outcomes", "reason", "status", "reason_after"),
    [
        ([], None, "Completed", None),
        ([outcome(TDGS, 1, "completed")], None, "Completed", None),
        (
            [outcome(TDGS, 1, "failed"), outcome(TOGS, 2, "not_run")],
            None,
            "Failed",
            "2 chunk(s) failed: phase3 · team_defense_game_summary · 2021-11-01..2021-11-01, "
            "phase3 · team_offense_game_summary · 2021-11-02..2021-11-02",
        ),
        ([], "Phase 3 gate failed — Phase 4 not started", "Failed", None),
        (
            [outcome(TDGS, 3, "failed")],
            "KeyboardInterrupt: stop",
            "Failed",
            "1 chunk(s) failed: phase3 · team_defense_game_summary · 2021-11-03..2021-11-03; "
            "KeyboardInterrupt: stop",
        ),
    ],
)
def test_conclude_names_failed_chunks_first(outcomes, reason, status, reason_after):
    summary = RunSummary(D(2021, 11, 1), D(2021, 11, 3), outcomes=outcomes, reason=reason)
    assert summary.conclude(12.34) == status
    assert summary.reason == (reason_after or reason)
    assert summary.as_dict(status)["seconds"] == 12.3


def test_conclude_lists_ten_failed_chunks_at_most():
    summary = RunSummary(D(2021, 11, 1), D(2021, 11, 30))
    summary.outcomes = [outcome(TDGS, day, "failed") for day in range(1, 13)]
    assert summary.conclude(1.0) == "Failed"
    assert summary.reason is not None and summary.reason.startswith("12 chunk(s) failed: ")
    assert summary.reason.count("phase3 · ") == 10
    assert summary.reason.endswith("2021-11-10..2021-11-10")
