"""Slack hooks and the rerun of failed dates, under the session's Prefect test server, on a
DuckDB slice, with a permanent fault injected into one chunk and a local HTTP sink as Slack."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid

import pytest

from bench.checksum import checksum
from nba_backfill.catalog import PHASE3, PHASE4, TABLES, TDGS, UPCG
from nba_backfill.rerun import ChunkRef
from nba_backfill.settings import Settings
from nba_backfill.warehouse import close_shared, shared_warehouse
from tests.conftest import SLICE_START
from tests.slack_sink import SlackSink, slack_sink, text_of

__all__ = ["slack_sink"]
pytestmark = pytest.mark.usefixtures("prefect_server")

END = dt.date(2021, 11, 10)
FAULT_DAY = dt.date(2021, 10, 28)


@pytest.fixture
def slack_block(slack_sink: SlackSink, monkeypatch: pytest.MonkeyPatch) -> str:
    from prefect_slack import SlackWebhook

    name = f"slack-{uuid.uuid4().hex[:8]}"
    SlackWebhook(url=slack_sink.url).save(name, overwrite=True)
    monkeypatch.setenv("NBA_BACKFILL_PREFECT__SLACK_BLOCK", name)
    close_shared()  # settings are cached per process
    return name


def _complete_dates(wh, table: str) -> set[dt.date]:
    from nba_backfill.readiness import is_complete

    spec = TABLES[table]
    schedule = wh.schedule(SLICE_START, END)
    prof = wh.date_profile(spec, SLICE_START, END)
    return {d for d, games in schedule.items() if is_complete(spec, prof.get(d), games)}


def test_failed_chunk_is_reported_and_rerun_fills_exactly_its_dates(
    seeded: Settings, slack_sink: SlackSink, slack_block: str, monkeypatch: pytest.MonkeyPatch
):
    from flows.backfill import backfill
    from flows.hooks import run_summary
    from flows.rerun import rerun_failed_dates
    from tasks.history import read_failed_runs

    since = dt.datetime.now(dt.UTC)
    # The table-level gate (the per-date one, the default since issue 18 item 3, fills the
    # Phase 4 dates the fault does not reach: tests/flows/test_gate_flow.py).
    monkeypatch.setenv("NBA_BACKFILL_GATE__MODE", "table")
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__PERMANENT", f"team_defense_game_summary:{FAULT_DAY}")
    close_shared()
    state = backfill(SLICE_START, END, [TDGS], chunk_days=7, skip_phase4=True, return_state=True)

    # The run fails and names the chunk.
    assert state.is_failed()
    summary = run_summary(state)
    assert summary is not None
    [chunk] = summary["failed_chunks"]
    assert chunk["error_class"] == "InjectedFault"
    start, end = (dt.date.fromisoformat(d) for d in chunk["label"].split(" · ")[-1].split(".."))
    assert start <= FAULT_DAY <= end
    assert chunk["label"] in str(state.message)
    failed = [dt.date.fromisoformat(d) for d in summary["failed_dates"][TDGS]]
    assert failed and all(start <= d <= end for d in failed)

    # Slack got the failure: the chunk, the error class, the retry command; never the URL.
    payload = slack_sink.wait_for(lambda p: "failed" in p["text"])
    shown = text_of(payload)
    assert chunk["label"] in shown and "InjectedFault" in shown
    assert f"nba-backfill run --start {start} --end {end} --tables team_defense_game_summary" in (
        shown
    )
    assert slack_sink.url not in json.dumps(payload)
    assert payload["blocks"][0]["type"] == "header"

    # The run history names the failed chunk by its task run's tags (not its display name).
    [history] = read_failed_runs(since)
    assert history.unfinished == [ChunkRef(3, TDGS, start, end)]
    assert not history.gate_blocked and not history.whole_range

    # The fault is removed; the rerun fills exactly the failed dates.
    monkeypatch.delenv("NBA_BACKFILL_FAULTS__PERMANENT")
    close_shared()
    wh = shared_warehouse()
    before = {
        s.name: checksum(wh, s, SLICE_START, END) for s in [*PHASE3, *PHASE4] if s.name != TDGS
    }
    tdgs_before = _complete_dates(wh, TDGS)
    assert not set(failed) & tdgs_before
    outside = [(SLICE_START, start - dt.timedelta(days=1)), (end + dt.timedelta(days=1), END)]
    tdgs_outside = [checksum(wh, TABLES[TDGS], lo, hi) for lo, hi in outside]

    state = rerun_failed_dates(since=since, return_state=True)
    assert state.is_completed(), state.message
    report = state.result()
    assert report["fixed"] == {TDGS: [d.isoformat() for d in failed]}
    assert report["still_failing"] == {}
    wh = shared_warehouse()
    assert _complete_dates(wh, TDGS) == tdgs_before | set(failed)
    assert [checksum(wh, TABLES[TDGS], lo, hi) for lo, hi in outside] == tdgs_outside
    after = {
        s.name: checksum(wh, s, SLICE_START, END) for s in [*PHASE3, *PHASE4] if s.name != TDGS
    }
    assert after == before
    rerun_payload = slack_sink.wait_for(lambda p: p["text"].startswith("Rerun of failed dates"))
    assert f"{len(failed)} fixed, 0 still failing" in rerun_payload["text"]

    # Nothing left: the next rerun is a quick no-op and stays quiet on Slack.
    sent = len(slack_sink.payloads)
    started = time.monotonic()
    state = rerun_failed_dates(since=since, return_state=True)
    assert state.is_completed()
    assert state.result()["nothing_to_do"] is True
    assert time.monotonic() - started < 30
    assert len(slack_sink.payloads) == sent


def test_validate_flow_reports_the_gate_to_slack(
    seeded: Settings, slack_sink: SlackSink, slack_block: str
):
    from flows.validate import validate

    state = validate(3, SLICE_START, END, return_state=True)
    assert state.is_failed() and "Phase 3 gate failed" in str(state.message)
    payload = slack_sink.wait_for(lambda p: "gate failed" in p["text"])
    assert "team_offense_game_summary" in text_of(payload)
    assert "coverage 0.0%" in text_of(payload)


def _recording_logger() -> tuple[logging.Logger, list[str]]:
    """A logger that keeps its messages (Prefect's logging setup replaces pytest's handlers)."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger(f"test.slack.{uuid.uuid4().hex}")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger, lines


def test_no_block_configured_is_a_logged_skip(local_settings: Settings):
    from flows.hooks import send_slack

    logger, lines = _recording_logger()
    assert send_slack({"text": "hi", "blocks": []}, logger) is False
    assert lines == ["Slack: skipped, no block configured (NBA_BACKFILL_PREFECT__SLACK_BLOCK)"]


def test_missing_block_is_a_logged_skip(local_settings: Settings, monkeypatch: pytest.MonkeyPatch):
    from flows.hooks import send_slack

    monkeypatch.setenv("NBA_BACKFILL_PREFECT__SLACK_BLOCK", "no-such-block")
    close_shared()
    logger, lines = _recording_logger()
    assert send_slack({"text": "hi", "blocks": []}, logger) is False
    assert lines == ["Slack: skipped, block 'no-such-block' not found (see `nba-backfill setup`)"]


def test_delivery_posts_blocks_to_the_webhook(
    local_settings: Settings, slack_sink: SlackSink, slack_block: str
):
    from flows.hooks import send_slack

    message = {
        "text": "t",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "b"}}],
    }
    assert send_slack(message) is True
    assert slack_sink.payloads == [message]


def test_rerun_after_a_gate_block_fills_phase3_then_the_blocked_phase4(
    seeded: Settings, slack_sink: SlackSink, slack_block: str, monkeypatch: pytest.MonkeyPatch
):
    """A failed chunk makes the gate fail, so Phase 4 never starts; the rerun refills the
    chunk, passes the gate, then fills the Phase 4 dates that run left unfilled."""
    from flows.backfill import backfill
    from flows.rerun import rerun_failed_dates
    from tasks.history import read_failed_runs

    since = dt.datetime.now(dt.UTC)
    # The table-level gate (the per-date one, the default since issue 18 item 3, fills the
    # Phase 4 dates the fault does not reach: tests/flows/test_gate_flow.py).
    monkeypatch.setenv("NBA_BACKFILL_GATE__MODE", "table")
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__PERMANENT", f"team_defense_game_summary:{FAULT_DAY}")
    close_shared()
    state = backfill(SLICE_START, END, chunk_days=10, return_state=True)
    assert state.is_failed()
    assert "Phase 3 gate failed" in str(state.message) and "team_defense" in str(state.message)
    payload = slack_sink.wait_for(lambda p: "Phase 4 not started" in p["text"])
    assert "InjectedFault" in text_of(payload)
    # The history reads the blocked gate and the failed chunk from their task runs' tags.
    [history] = read_failed_runs(since)
    assert history.gate_blocked and not history.whole_range
    [chunk] = [c for c in history.unfinished if c.table == TDGS]
    assert chunk.phase == 3 and chunk.start <= FAULT_DAY <= chunk.end
    # The upcoming context reads the team summaries 30 days back: each of its 3 chunks reads
    # the failed one's dates, so none ran; nothing else is unfinished.
    context = sorted((c.start, c.end) for c in history.unfinished if c.table == UPCG)
    assert len(history.unfinished) == 1 + len(context) == 4
    assert context[0][0] == SLICE_START and context[-1][1] == END

    monkeypatch.delenv("NBA_BACKFILL_FAULTS__PERMANENT")
    close_shared()
    wh = shared_warehouse()
    phase4_dates = [d for d in sorted(wh.schedule(SLICE_START, END)) if d >= dt.date(2021, 11, 2)]
    assert all(wh.row_count(s, SLICE_START, END) == 0 for s in PHASE4)

    state = rerun_failed_dates(since=since, return_state=True)
    assert state.is_completed(), state.message
    report = state.result()
    assert set(report["fixed"]) == {TDGS, UPCG} | {s.name for s in PHASE4}
    assert report["fixed"][PHASE4[-1].name] == [d.isoformat() for d in phase4_dates]
    wh = shared_warehouse()
    assert _complete_dates(wh, TDGS) == set(wh.schedule(SLICE_START, END))
    assert _complete_dates(wh, UPCG) == set(wh.schedule(SLICE_START, END))
    for spec in PHASE4:
        assert set(wh.date_profile(spec, SLICE_START, END)) == set(phase4_dates), spec.name


def test_a_crash_is_reported(local_settings: Settings, slack_sink: SlackSink, slack_block: str):
    from prefect import flow

    from flows.hooks import run_crashed

    @flow(name="crash-drill", on_crashed=[run_crashed])
    def crash_drill() -> None:
        raise SystemExit(137)  # what a killed process looks like to the engine

    with pytest.raises(SystemExit):
        crash_drill()
    payload = slack_sink.wait_for(lambda p: "crash-drill run crashed" in p["text"])
    assert payload["blocks"][0]["text"]["text"].startswith("💥")
