"""A run's cost account (issue 17, actual cost): chunk results carry what their jobs cost, the
summary adds them up per table and in total next to the plan's estimate, and the artifact and
the Slack message show estimated vs actual ("—" where nothing is known, as on DuckDB)."""

from __future__ import annotations

import datetime as dt

from nba_backfill.catalog import TDGS, TOGS
from nba_backfill.estimate import PlanEstimate
from nba_backfill.notify import backfill_message, cost_table
from nba_backfill.planner import Chunk
from nba_backfill.report import summary_markdown
from nba_backfill.runner import ChunkResult
from nba_backfill.summary import ChunkOutcome, RunSummary
from nba_backfill.warehouse.base import JobCost

D = dt.date
MIB, GIB = 1024**2, 1024**3


def _done(table: str, day: int, cost: JobCost | None) -> ChunkOutcome:
    d = D(2021, 11, day)
    result = ChunkResult(table, d, d, dates_filled=[d], rows_written=30, jobs=1, cost=cost)
    return ChunkOutcome(Chunk(table, d, d, (d,)), 3, "completed", report=result.as_dict())


def _failed(table: str, day: int) -> ChunkOutcome:
    d = D(2021, 11, day)
    return ChunkOutcome(Chunk(table, d, d, (d,)), 3, "failed", error="boom", error_class="X")


def _summary(*outcomes: ChunkOutcome) -> RunSummary:
    summary = RunSummary(D(2021, 11, 1), D(2021, 11, 3))
    summary.coverage_before = {TOGS: "0/3", TDGS: "0/3"}
    summary.outcomes = list(outcomes)
    return summary


def test_bigquery_costs_add_up_per_table_and_in_total() -> None:
    summary = _summary(
        _done(TOGS, 1, JobCost(100 * MIB, 110 * MIB, 2_000)),
        _done(TOGS, 2, JobCost(50 * MIB, 60 * MIB, 1_500)),
        _done(TDGS, 1, JobCost(GIB, GIB, 10_000)),
        _failed(TDGS, 2),  # a failed chunk reports nothing
    )
    summary.add_estimate(PlanEstimate("dry_run", 6.25, {TOGS: 200 * MIB, TDGS: 2 * GIB}))
    cost = summary.as_dict(summary.conclude(1.0))["cost"]
    assert cost["tables"] == [
        {
            "table": TOGS,
            "estimated_bytes": 200 * MIB,
            "bytes_processed": 150 * MIB,
            "bytes_billed": 170 * MIB,
            "slot_ms": 3_500,
        },
        {
            "table": TDGS,
            "estimated_bytes": 2 * GIB,
            "bytes_processed": GIB,
            "bytes_billed": GIB,
            "slot_ms": 10_000,
        },
    ]
    assert cost["total"] == {
        "estimated_bytes": 200 * MIB + 2 * GIB,
        "bytes_processed": 150 * MIB + GIB,
        "bytes_billed": 170 * MIB + GIB,
        "slot_ms": 13_500,
    }


def test_an_unknown_estimate_leaves_the_total_estimate_unknown() -> None:
    """What the emulator reports (0 bytes processed, no billing, no slot time) and a table
    BigQuery could not estimate: the known figures add up, the unknown stay None."""
    summary = _summary(_done(TOGS, 1, JobCost(0)), _done(TDGS, 1, JobCost(0)))
    summary.add_estimate(PlanEstimate("dry_run", 6.25, {TOGS: 10 * MIB, TDGS: None}))
    cost = summary.cost()
    assert cost["total"] == {
        "estimated_bytes": None,
        "bytes_processed": 0,
        "bytes_billed": None,
        "slot_ms": None,
    }
    assert "| team_offense_game_summary | 10.0 MiB | 0 B | — | — |" in summary_markdown(
        summary.as_dict("Completed")
    )


def test_duckdb_runs_show_no_figures() -> None:
    summary = _summary(_done(TOGS, 1, None), _done(TDGS, 1, None))
    summary.add_estimate(PlanEstimate("embedded", 6.25, {}))
    data = summary.as_dict(summary.conclude(1.0))
    assert all(v is None for k, v in data["cost"]["total"].items())
    assert "| total | — | — | — | — |" in summary_markdown(data)
    assert cost_table(data["cost"]) == "_cost_: — (nothing billed per query)"
    texts = [b["text"]["text"] for b in backfill_message(data)["blocks"] if "text" in b]
    assert "_cost_: — (nothing billed per query)" in texts


def test_slack_shows_estimated_vs_billed_per_table_and_total() -> None:
    summary = _summary(
        _done(TOGS, 1, JobCost(100 * MIB, 110 * MIB, 2_000)),
        _done(TDGS, 1, JobCost(GIB, GIB, 12_345)),
    )
    summary.add_estimate(PlanEstimate("dry_run", 6.25, {TOGS: 200 * MIB, TDGS: 2 * GIB}))
    data = summary.as_dict(summary.conclude(1.0))
    block = cost_table(data["cost"])
    assert block.splitlines() == [
        "```",
        "table                      estimated     billed  slot time",
        "team_offense_game_summary  200.0 MiB  110.0 MiB      2.0 s",
        "team_defense_game_summary    2.0 GiB    1.0 GiB     12.3 s",
        "total                        2.2 GiB    1.1 GiB     14.3 s",
        "```",
    ]
    texts = [b["text"]["text"] for b in backfill_message(data)["blocks"] if "text" in b]
    assert block in texts
