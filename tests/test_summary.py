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


def _completed(table: str, day: int, **report: object) -> ChunkOutcome:
    done = outcome(table, day, "completed")
    done.report = report
    return done


def test_a_completed_chunk_that_left_dates_unfilled_fails_the_run():
    """Issue 12 (exit codes): the summary's own table says "failed" for these dates, so the
    run cannot end Completed."""
    summary = RunSummary(D(2021, 11, 1), D(2021, 11, 3))
    summary.outcomes = [
        _completed(TDGS, 1, dates_filled=["2021-11-01"]),
        _completed(TOGS, 2, dates_incomplete=["2021-11-02"], dates_blocked={"2021-11-03": "x"}),
    ]
    assert summary.conclude(1.0) == "Failed"
    assert summary.reason == (
        "2 date(s) not filled: team_offense_game_summary 2021-11-02, 2021-11-03"
    )


def test_a_failing_check_fails_the_run_with_or_without_phase4():
    from nba_backfill.validation import TableCheck, ValidationReport

    short = TableCheck(TDGS, 3, expected=2, covered=1, threshold=0.95, missing=[D(2021, 11, 2)])
    summary = RunSummary(D(2021, 11, 1), D(2021, 11, 2))
    summary.add_validation(ValidationReport(3, D(2021, 11, 1), D(2021, 11, 2), [short]))
    assert summary.conclude(1.0) == "Failed"
    assert summary.reason == (
        f"Phase 3 gate failed: {TDGS}: coverage 50.0% < 95% (1/2 dates); missing 2021-11-02"
    )
    assert summary.as_dict("Failed")["failed_checks"] == {"3": {TDGS: short.problems}}

    phase4 = RunSummary(D(2021, 11, 1), D(2021, 11, 2))
    report = ValidationReport(4, D(2021, 11, 1), D(2021, 11, 2), [], usage_rate_share=0.5)
    phase4.add_validation(report)
    assert phase4.conclude(1.0) == "Failed"
    assert phase4.reason is not None
    assert phase4.reason.startswith("Phase 4 validation failed: nba_analytics.player_game_summary")

    clean = RunSummary(D(2021, 11, 1), D(2021, 11, 2))
    clean.add_validation(ValidationReport(4, D(2021, 11, 1), D(2021, 11, 2), []))
    assert clean.conclude(1.0) == "Completed" and clean.reason is None


def test_a_game_skipped_for_missing_inputs_is_named_once_and_does_not_fail_the_run():
    """Issue 12 item 3: the game is reported once (however many tables and checks skip it)
    with its id, teams and date; the run completes (the CLI exits 3: not complete, nothing to
    retry — docs/operating.md)."""
    from nba_backfill.report import summary_markdown
    from nba_backfill.validation import TableCheck, ValidationReport

    game = "0022100320 MIL@ATL 2021-12-02"
    day = D(2021, 12, 2)
    checks = [
        TableCheck(t, 3, expected=1, covered=1, threshold=0.95)
        for t in (TOGS, TDGS)  # two tables skip the same game
    ]
    for c in checks:
        c.games_skipped = {day: f"skipped: inputs missing: {game}"}
    summary = RunSummary(day, day)
    summary.add_validation(ValidationReport(3, day, day, checks))
    summary.add_validation(ValidationReport(3, day, day, checks))  # a second check, same game
    assert summary.conclude(1.0) == "Completed" and summary.reason is None
    data = summary.as_dict("Completed")
    assert data["games_skipped"] == [game]
    assert f"- {game} (box scores / gamebook never arrived)" in summary_markdown(data)


def test_a_narrowed_chunk_counts_its_good_dates_and_names_its_bad_ones():
    """A chunk narrowed to its bad dates (DatesFailed's report) fails, yet its good dates are
    filled; the summary, its failed chunk and the run's line name the bad dates only, while a
    chunk that failed whole still names all of its dates."""
    days = tuple(D(2021, 11, d) for d in range(1, 5))
    report = {
        "dates_filled": ["2021-11-01", "2021-11-02", "2021-11-04"],
        "dates_failed": {"2021-11-03": "WarehouseError: Could not cast value 99999"},
        "dates_incomplete": [],
        "dates_blocked": {},
        "retries": [],
    }
    narrowed = ChunkOutcome(Chunk(TDGS, days[0], days[-1], days), 3, "failed", report=report)
    whole = ChunkOutcome(Chunk(TOGS, days[0], days[-1], days), 3, "failed", error="boom")
    s = RunSummary(days[0], days[-1], outcomes=[narrowed, whole])
    assert s.failed_dates() == {
        TDGS: ["2021-11-03"],
        TOGS: ["2021-11-01", "2021-11-02", "2021-11-03", "2021-11-04"],
    }
    assert narrowed.failure()["dates_failed"] == report["dates_failed"]
    assert "dates_failed" not in whole.failure()
    assert s.conclude(1.0) == "Failed"
    assert s.reason == (
        "2 chunk(s) failed: phase3 · team_defense_game_summary · 2021-11-01..2021-11-04 "
        "(only on 2021-11-03), phase3 · team_offense_game_summary · 2021-11-01..2021-11-04"
    )
    out = s.as_dict("Failed")
    assert out["failed_dates"] == s.failed_dates()
    assert [c.get("dates_failed") for c in out["failed_chunks"]] == [report["dates_failed"], None]


def test_a_cancelled_run_counts_what_it_filled_and_what_it_left():
    """Cancelled mid-run: the chunks that finished count as filled (their report's dates; a
    completed chunk's incomplete date counts as not filled), the others as not filled, and
    the status is Cancelled, not Failed."""
    summary = RunSummary(D(2021, 11, 1), D(2021, 11, 4), cancelled=True)
    summary.outcomes = [
        _completed(TOGS, 1, dates_filled=["2021-11-01"]),
        _completed(TDGS, 1, dates_filled=[], dates_incomplete=["2021-11-01"]),
        outcome(TOGS, 2, "not_run"),
        outcome(TDGS, 2, "not_run"),
    ]
    summary.coverage_before = {TOGS: "0/2", TDGS: "0/2"}
    assert summary.conclude(3.0) == "Cancelled"
    assert summary.reason == "cancelled: 1 table-date(s) filled, 3 not filled"
    rows = {r["table"]: (r["filled"], r["failed"]) for r in summary.table_rows()}
    assert rows == {TOGS: (1, 1), TDGS: (0, 2)}
