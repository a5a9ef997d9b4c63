"""Slack messages built from run summaries (nba_backfill.notify): table-driven, no Slack."""

from __future__ import annotations

import json

import pytest

from nba_backfill.notify import (
    backfill_message,
    coverage_table,
    duration,
    error_message,
    gate_message,
    rerun_message,
    retry_command,
)

TDGS = "nba_analytics.team_defense_game_summary"
TOGS = "nba_analytics.team_offense_game_summary"
ROWS = [
    {"table": TOGS, "before": "0/40", "after": "40/40", "filled": 40, "skipped": 0, "failed": 0},
    {"table": TDGS, "before": "0/40", "after": "33/40", "filled": 33, "skipped": 0, "failed": 7},
]
LABEL = "phase3 · team_defense_game_summary · 2021-10-26..2021-11-01"
FAILED = {
    "start": "2021-10-19",
    "end": "2021-11-30",
    "status": "Failed",
    "tables": ROWS,
    "failed_chunks": [
        {
            "label": LABEL,
            "error": "Task run encountered an exception InjectedFault: nba_analytics."
            "team_defense_game_summary 2021-10-26..2021-11-01: injected permanent fault\nmore",
            "error_class": "InjectedFault",
        }
    ],
    "failed_dates": {TDGS: ["2021-10-26", "2021-10-27", "2021-11-01"]},
    "retries": {},
    "reason": f"1 chunk(s) failed: {LABEL}",
    "gate_blocked": None,
    "seconds": 75.4,
}


def shown(message: dict) -> str:
    parts = [message["text"]]
    for b in message["blocks"]:
        if isinstance(b.get("text"), dict):
            parts.append(b["text"]["text"])
        parts += [e["text"] for e in b.get("elements", [])]
    return "\n".join(parts)


def valid_block_kit(message: dict) -> None:
    assert message["text"] and len(message["blocks"]) <= 50
    for b in message["blocks"]:
        assert b["type"] in {"header", "section", "context"}
        if b["type"] == "header":
            assert b["text"]["type"] == "plain_text" and len(b["text"]["text"]) <= 150
        if b["type"] == "section":
            assert b["text"]["type"] == "mrkdwn" and len(b["text"]["text"]) <= 3000
    json.dumps(message)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "?"), (4.4, "4s"), (75, "1m 15s"), (3600 * 2 + 61, "2h 01m")],
)
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_completed_message_shows_coverage_dates_filled_duration_and_link():
    summary = {**FAILED, "status": "Completed", "failed_chunks": [], "failed_dates": {}}
    summary["retries"] = {"quota": 2}
    m = backfill_message(summary, run_url="http://ui/runs/flow-run/1", run_name="backfill · x")
    valid_block_kit(m)
    text = shown(m)
    assert m["text"].startswith("Backfill 2021-10-19 → 2021-11-30 completed: 73 table-dates")
    assert "team_offense_game_summary" in text and "40/40" in text and "33/40" in text
    assert "<http://ui/runs/flow-run/1|open the run in Prefect>" in text
    assert "took 1m 15s" in text and "quota ×2" in text
    assert m["blocks"][0]["text"]["text"].startswith("✅")


def test_nothing_to_fill_says_so():
    rows = [{**r, "filled": 0} for r in ROWS]
    m = backfill_message({**FAILED, "status": "Completed", "tables": rows, "failed_chunks": []})
    assert "Nothing to fill" in shown(m)


def test_a_run_that_skipped_games_never_says_every_date_is_complete():
    """Issue 12 item 3: games whose inputs never arrived are named; nothing claims the dates
    complete."""
    rows = [{**r, "filled": 0} for r in ROWS]
    game = "0022100320 MIL@ATL 2021-12-02"
    summary = {**FAILED, "status": "Completed", "tables": rows, "failed_chunks": []}
    m = backfill_message({**summary, "games_skipped": [game]})
    valid_block_kit(m)
    text = shown(m)
    assert "already complete" not in text
    assert f"*Skipped, inputs missing* (box scores / gamebook never arrived): {game}" in text


def test_failure_names_the_chunk_the_error_class_and_the_retry():
    m = backfill_message(FAILED, deployment="backfill/cloud-run")
    valid_block_kit(m)
    text = shown(m)
    assert LABEL in m["text"] and "InjectedFault" in m["text"]
    assert "error class: InjectedFault" in text
    assert "more" not in text  # the error's first line only
    assert "`team_defense_game_summary`: 3 date(s), 2021-10-26 … 2021-11-01" in text
    assert (
        "prefect deployment run 'backfill/cloud-run' --param start=2021-10-26 "
        "--param end=2021-11-01 --param 'tables=[\"nba_analytics.team_defense_game_summary\"]'"
    ) in text
    assert "rerun-failed-dates" in text


def test_not_run_chunks_and_long_lists_are_cut():
    chunks = [
        {"label": f"phase3 · x · {i}", "error": "not run", "error_class": None} for i in range(12)
    ]
    m = backfill_message({**FAILED, "failed_chunks": chunks})
    text = shown(m)
    assert "not run (an upstream chunk failed)" in text and "… and 4 more" in text
    assert "error class: not run ×12" in text


def test_gate_block_lists_what_is_missing_per_table():
    summary = {
        **FAILED,
        "failed_chunks": [],
        "failed_dates": {},
        "gate_blocked": {TDGS: ["coverage 80.0% < 95% (32/40 dates)"]},
    }
    m = backfill_message(summary, deployment="backfill/local")
    valid_block_kit(m)
    text = shown(m)
    assert m["text"].startswith("Phase 3 gate failed for 2021-10-19 → 2021-11-30 — Phase 4 not")
    assert "`team_defense_game_summary`: coverage 80.0% < 95% (32/40 dates)" in text
    # The whole range again (the gate is about the range, not some dates).
    assert "--param start=2021-10-19 --param end=2021-11-30`" in text


def test_retry_command_without_a_deployment_is_the_cli():
    assert retry_command(FAILED) == (
        "nba-backfill run --start 2021-10-26 --end 2021-11-01 --tables team_defense_game_summary"
    )
    assert retry_command({**FAILED, "failed_dates": {}}) == (
        "nba-backfill run --start 2021-10-19 --end 2021-11-30"
    )


def test_gate_message_for_the_validate_flow():
    m = gate_message(4, "2021-10-19", "2021-11-30", {TDGS: ["1 duplicate key rows"]})
    assert "Phase 4 gate failed" in m["text"] and "not started" not in m["text"]


@pytest.mark.parametrize("crashed", [True, False])
def test_error_message(crashed):
    m = error_message(
        "backfill", error="Process exited with code 137", crashed=crashed, retry="nba-backfill run"
    )
    valid_block_kit(m)
    assert (
        m["text"]
        == f"backfill run {'crashed' if crashed else 'failed'}: Process exited with code 137"
    )
    assert "`nba-backfill run`" in shown(m)


def test_rerun_message_fixed_and_still_failing():
    report = {
        "status": "Failed",
        "lookback_days": 7,
        "runs": ["backfill · a", "backfill · b"],
        "fixed": {TDGS: ["2021-10-26", "2021-10-27"]},
        "still_failing": {TOGS: ["2021-11-02"]},
        "failed_chunks": [
            {
                "label": "phase3 · team_offense_game_summary · 2021-11-02..2021-11-02",
                "error": "boom",
                "error_class": "WarehouseError",
            }
        ],
    }
    m = rerun_message(report)
    valid_block_kit(m)
    text = shown(m)
    assert m["text"] == "Rerun of failed dates: 2 fixed, 1 still failing"
    assert "From 2 failed backfill run(s) of the last 7 days" in text
    assert "*Fixed*\n• `team_defense_game_summary`: 2 date(s)" in text
    assert "*Still failing*\n• `team_offense_game_summary`: 1 date(s), 2021-11-02" in text
    assert "error class: WarehouseError" in text and m["blocks"][0]["text"]["text"][0] == "⚠"


def test_coverage_table_is_aligned():
    lines = coverage_table(ROWS).splitlines()
    assert lines[0] == lines[-1] == "```"
    assert len({len(line) for line in lines[1:-1]}) == 1


def test_failed_chunks_that_made_the_gate_fail_show_both():
    gate = {TDGS: ["coverage 80.0% < 95% (32/40 dates)"]}
    m = backfill_message({**FAILED, "gate_blocked": gate})
    text = shown(m)
    assert m["text"].startswith("Backfill 2021-10-19 → 2021-11-30 failed — Phase 4 not started")
    assert (
        LABEL in text and "*Phase 3 gate failed*\n• `team_defense_game_summary`: coverage" in text
    )
    assert "--start 2021-10-19 --end 2021-11-30" in text  # Phase 4 of the whole range is due


def test_retry_of_a_gate_block_keeps_the_tables_the_run_asked_for():
    summary = {**FAILED, "failed_chunks": [], "gate_blocked": {TDGS: ["coverage 0.0% < 95%"]}}
    pcf = "nba_precompute.player_composite_factors"
    m = backfill_message(summary, deployment="backfill/local", requested_tables=[pcf])
    assert f"--param 'tables=[\"{pcf}\"]'" in shown(m)
    assert retry_command({"start": "2021-10-19", "end": "2021-11-30"}, None, [pcf]) == (
        "nba-backfill run --start 2021-10-19 --end 2021-11-30 --tables player_composite_factors"
    )
