"""The per-date gate and the sign-off in the backfill flow (issue 18 items 3 and 6), under a
real (test) Prefect server on a DuckDB slice."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill.catalog import MLFS, PHASE4, TABLES, TDGS, TDZA, UPCG
from nba_backfill.readiness import held_back
from nba_backfill.settings import Settings
from nba_backfill.warehouse import shared_warehouse
from tests.conftest import SLICE_END, SLICE_START
from tests.slack_sink import slack_sink

__all__ = ["slack_sink"]  # the fixture, used by name

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(900)]

P4 = [t.name for t in PHASE4]


def _phase3_then_break(dates_to_break: int, bad_from: dt.date, table: str = TDGS) -> list[dt.date]:
    """Fill Phase 3 over the slice, then delete ``table``'s rows on the first
    ``dates_to_break`` game dates from ``bad_from``: a Phase 4 run (which does not refill
    Phase 3) cannot fill them. Returns those dates."""
    from flows.backfill import backfill

    state = backfill(SLICE_START, SLICE_END, skip_phase4=True, return_state=True)
    assert state.is_completed(), state.message
    wh = shared_warehouse()
    bad = [d for d in sorted(wh.schedule(bad_from, SLICE_END))][:dates_to_break]
    for d in bad:
        wh.fetch(f"DELETE FROM {table} WHERE game_date = @d", {"d": d})
    assert not set(wh.date_profile(TABLES[table], bad[0], bad[-1])) & set(bad)
    return bad


def _phase4_dates() -> list[dt.date]:
    wh = shared_warehouse()
    openers = wh.season_openers()
    return [d for d in sorted(wh.schedule(SLICE_START, SLICE_END)) if not openers.is_bootstrap(d)]


def test_two_bad_phase3_dates_hold_back_only_the_windows_reading_them(seeded: Settings):
    """Case 1: 2 team_defense_game_summary dates missing. The table-level verdict fails
    (named, and it fails the run) but Phase 4 starts: it fills every date whose windows avoid
    them and holds back exactly the others, each with its reason; the run fails naming them,
    and the scheduled rerun's history sees it."""
    from flows.backfill import backfill
    from flows.hooks import run_summary

    bad = _phase3_then_break(2, dt.date(2021, 11, 25))
    days = _phase4_dates()
    expected = held_back(PHASE4, days, {TDGS: bad})
    assert expected[TABLES[P4[0]].name]  # the zone table is held back after the bad dates

    state = backfill(SLICE_START, SLICE_END, tables=P4, return_state=True)
    assert state.is_failed()
    summary = run_summary(state)
    assert summary is not None and summary["status"] == "Failed"
    held = summary["held_back"]
    for table in P4:
        want = {d.isoformat(): r for d, r in expected[table].items()}
        assert held.get(table, {}) == want, table
        assert summary["held_back_counts"].get(table, 0) == len(want)
    first = bad[0].isoformat()
    tdza = held["nba_precompute.team_defense_zone_analysis"]
    assert tdza[(bad[0] + dt.timedelta(days=1)).isoformat()] == (
        f"held back: reads team_defense_game_summary {first} (incomplete)"
    )
    message = str(state.message)
    assert "27 Phase 4 date(s) held back" in message
    assert "Phase 3 gate failed" in message and TDGS in message  # the verdict, reported
    assert set(summary["failed_checks"]["3"]) == {TDGS}
    assert summary["gate_blocked"] is None  # Phase 4 started
    # Every other Phase 4 date is written, every held-back one is not.
    wh = shared_warehouse()
    for table in P4:
        written = set(wh.date_profile(TABLES[table], SLICE_START, SLICE_END))
        assert written == set(days) - set(expected[table]), table

    # The scheduled rerun reads the held-back record (the gate:phase3 tag).
    from tasks.history import read_failed_runs

    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    runs = [r for r in read_failed_runs(since) if r.id == str(state.state_details.flow_run_id)]
    assert runs and runs[0].gate_blocked


def test_a_bad_same_date_input_holds_back_that_date_of_its_readers(seeded: Settings):
    """Case 2 (same kind, a same-date window): upcoming_player_game_context missing on one
    date holds back that date of every table reading it, and nothing of the zone table."""
    from flows.backfill import backfill
    from flows.hooks import run_summary

    [bad] = _phase3_then_break(1, dt.date(2021, 11, 20), UPCG)
    days = _phase4_dates()
    state = backfill(SLICE_START, SLICE_END, tables=P4, return_state=True)
    assert state.is_failed()
    summary = run_summary(state)
    assert summary is not None
    reason = f"held back: reads upcoming_player_game_context {bad} (incomplete)"
    # The feature store reads the composite factors first (catalog order): held back too.
    pcf = f"held back: reads player_composite_factors {bad} (held back)"
    assert summary["held_back"] == {
        t: {bad.isoformat(): pcf if t == MLFS else reason} for t in P4 if t != TDZA
    }
    # One date of a table without a critical threshold: the 95 % verdict passes, the run
    # fails all the same (it left dates unfilled), and leaves the rerun its record.
    assert "3" not in summary["failed_checks"]
    assert "4 Phase 4 date(s) held back: player_shot_zone" in str(state.message)
    from tasks.history import read_failed_runs

    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    runs = [r for r in read_failed_runs(since) if r.id == str(state.state_details.flow_run_id)]
    assert runs and runs[0].gate_blocked
    wh = shared_warehouse()
    assert set(wh.date_profile(TABLES[TDZA], SLICE_START, SLICE_END)) == set(days)
    for table in P4:
        if table != TDZA:
            written = set(wh.date_profile(TABLES[table], SLICE_START, SLICE_END))
            assert written == set(days) - {bad}, table


def test_table_mode_keeps_phase4_from_starting(seeded: Settings, monkeypatch: pytest.MonkeyPatch):
    """NBA_BACKFILL_GATE__MODE=table: the old all-or-nothing gate."""
    from flows.backfill import backfill

    _phase3_then_break(4, dt.date(2021, 11, 28))
    monkeypatch.setenv("NBA_BACKFILL_GATE__MODE", "table")
    from nba_backfill.settings import get_settings

    get_settings.cache_clear()
    state = backfill(SLICE_START, SLICE_END, tables=P4, return_state=True)
    assert state.is_failed()
    assert "Phase 4 not started" in str(state.message)
    wh = shared_warehouse()
    for spec in PHASE4:
        assert wh.row_count(spec, SLICE_START, SLICE_END) == 0, spec.name


# --- item 6: the sign-off ------------------------------------------------------------------------
FIRST = SLICE_START + dt.timedelta(days=14)  # the first day after the bootstrap days
SHORT = (SLICE_START, FIRST + dt.timedelta(days=1))  # two Phase 4 days


@pytest.fixture
def slack_block(slack_sink, monkeypatch: pytest.MonkeyPatch) -> str:
    import uuid

    from prefect_slack import SlackWebhook

    from nba_backfill.warehouse import close_shared

    name = f"slack-{uuid.uuid4().hex[:8]}"
    SlackWebhook(url=slack_sink.url).save(name, overwrite=True)
    monkeypatch.setenv("NBA_BACKFILL_PREFECT__SLACK_BLOCK", name)
    close_shared()  # settings are cached per process
    return name


def _answer_when_paused(answer: dict[str, object], seen: list[str]):
    """A thread that waits for a paused backfill run and answers its sign-off through the
    Prefect API, as a person's form in the UI does."""
    import threading
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run

    def run() -> None:
        paused = FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with get_client(sync_client=True) as client:
                runs = client.read_flow_runs(flow_run_filter=paused)
            for fr in runs:
                try:
                    resume_flow_run(fr.id, run_input=answer)
                except Exception as exc:  # the form's schema may not be saved yet
                    seen.append(f"retry: {type(exc).__name__}")
                    continue
                seen.append(f"resumed {fr.name} from {fr.state_name}")
                return
            time.sleep(0.5)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _report(state) -> str:
    from tests.flows.test_backfill_flow import _artifacts

    return str(_artifacts(state.state_details.flow_run_id)["backfill-report"].data)


def test_signoff_pauses_and_an_approval_resumes_phase4(
    seeded: Settings, slack_sink, slack_block: str
):
    from flows.backfill import backfill

    seen: list[str] = []
    answer = {"approver": "ana", "approved": True, "note": "checklist signed"}
    thread = _answer_when_paused(answer, seen)
    state = backfill(*SHORT, require_signoff=True, return_state=True)
    thread.join(timeout=60)
    assert any(s.startswith("resumed backfill") and s.endswith("Paused") for s in seen), seen
    assert state.is_completed(), state.message
    summary = state.result()
    signoff = summary["signoff"]
    assert {k: signoff[k] for k in answer} == answer and signoff["at"]
    assert "approved by ana at" in _report(state) and "checklist signed" in _report(state)
    wh = shared_warehouse()
    for spec in PHASE4:
        assert set(wh.date_profile(spec, *SHORT)) == {FIRST, SHORT[1]}, spec.name
    ask = slack_sink.wait_for(lambda p: "sign-off needed" in p["text"])
    assert str(SHORT[0]) in ask["text"]
    footer = ask["blocks"][-1]["elements"][0]["text"]
    assert "open the run in Prefect" in footer or "run history in Prefect" in footer


def test_a_refused_signoff_cancels_the_run_before_phase4(seeded: Settings):
    from flows.backfill import backfill

    seen: list[str] = []
    answer = {"approver": "bo", "approved": False, "note": "usage_rate looks off"}
    thread = _answer_when_paused(answer, seen)
    state = backfill(*SHORT, require_signoff=True, return_state=True)
    thread.join(timeout=60)
    assert state.is_cancelled(), state
    assert "sign-off refused by bo: usage_rate looks off" in str(state.message)
    assert "rejected by bo at" in _report(state)
    wh = shared_warehouse()
    for spec in PHASE4:
        assert wh.row_count(spec, *SHORT) == 0, spec.name


def test_no_signoff_in_time_cancels_the_run(seeded: Settings, monkeypatch: pytest.MonkeyPatch):
    """The setting alone asks for it; nobody answers within the timeout: Phase 4 never
    starts."""
    from flows.backfill import backfill
    from nba_backfill.settings import get_settings

    monkeypatch.setenv("NBA_BACKFILL_GATE__REQUIRE_SIGNOFF", "true")
    monkeypatch.setenv("NBA_BACKFILL_GATE__SIGNOFF_TIMEOUT_SECONDS", "3")
    get_settings.cache_clear()
    state = backfill(*SHORT, return_state=True)
    # Prefect's server ends a pause that timed out itself: the run is Failed, never resumed.
    assert state.is_failed(), state
    assert "never resumed" in str(state.message)
    wh = shared_warehouse()
    for spec in PHASE4:
        assert wh.row_count(spec, *SHORT) == 0, spec.name
