"""Fault injection (NBA_BACKFILL_FAULTS__PERMANENT): off by default, a non-retryable error on
the chosen (table, date) writes, nothing else changed."""

from __future__ import annotations

import datetime as dt

import pytest

from bench.checksum import checksum
from nba_backfill.catalog import TABLES, TDGS, TOGS
from nba_backfill.errors import UsageError, is_transient
from nba_backfill.runner import run_chunk
from nba_backfill.settings import FaultSettings, RetrySettings, Settings, load_settings
from nba_backfill.warehouse import close_shared, open_warehouse, shared_warehouse
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from nba_backfill.warehouse.faults import FaultyWarehouse, InjectedFault

FAULT = dt.date(2021, 11, 3)
RETRY = RetrySettings(max_attempts=4, initial_wait_seconds=0, jitter_seconds=0)


@pytest.mark.parametrize(
    "value",
    [
        "team_defense_game_summary:2021-11-03",
        '["nba_analytics.team_defense_game_summary:2021-11-03"]',
        " team_defense_game_summary:2021-11-03 , ",
    ],
)
def test_setting_accepts_json_or_comma_separated(monkeypatch, value):
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__PERMANENT", value)
    s = load_settings()
    assert s.faults.active and s.faults.permanent_pairs() == {(TDGS, FAULT)}


@pytest.mark.parametrize("value", ["nope:2021-11-03", "team_defense_game_summary", "tdgs:x"])
def test_bad_fault_is_a_one_line_usage_error(monkeypatch, value):
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__PERMANENT", value)
    with pytest.raises(UsageError) as exc:
        load_settings()
    assert "NBA_BACKFILL_FAULTS__PERMANENT" in str(exc.value) and "\n" not in str(exc.value)


def test_off_by_default(local_settings: Settings):
    assert not local_settings.faults.active
    assert isinstance(open_warehouse(local_settings), DuckDBWarehouse)


def test_permanent_fault_fails_the_chunk_once_and_writes_nothing(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__PERMANENT", f"team_defense_game_summary:{FAULT}")
    close_shared()
    wh = shared_warehouse()
    assert isinstance(wh, FaultyWarehouse)
    dates = sorted(wh.schedule(dt.date(2021, 11, 1), dt.date(2021, 11, 7)))
    attempts = []
    with pytest.raises(InjectedFault) as exc:
        run_chunk(wh, TDGS, dates, RETRY, on_retry=attempts.append)
    assert not is_transient(exc.value) and attempts == []  # permanent: no retry
    assert str(FAULT) in str(exc.value)
    assert wh.date_profile(TABLES[TDGS], dates[0], dates[-1]) == {}
    # Other tables, and ranges of the table without the date, are written as usual.
    assert run_chunk(wh, TOGS, dates, RETRY).dates_filled == dates
    later = sorted(wh.schedule(dt.date(2021, 11, 4), dt.date(2021, 11, 7)))
    assert run_chunk(wh, TDGS, later, RETRY).dates_filled == later


# --- transient faults and delays ------------------------------------------------------------


def test_transient_settings(monkeypatch):
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__TRANSIENT_RATE", "0.15")
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__TRANSIENT_KINDS", "quota, timeout")
    monkeypatch.setenv("NBA_BACKFILL_FAULTS__DELAY", "player_game_summary:2021-11-03")
    s = load_settings()
    assert s.faults.active and s.faults.transient_kinds == ["quota", "timeout"]
    assert s.faults.delay_pairs() == {("nba_analytics.player_game_summary", FAULT)}
    assert not FaultSettings(transient_rate=0).active and FaultSettings(transient_rate=0.1).active


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("NBA_BACKFILL_FAULTS__TRANSIENT_RATE", "1.5"),
        ("NBA_BACKFILL_FAULTS__TRANSIENT_KINDS", "quota,gremlins"),
        ("NBA_BACKFILL_FAULTS__DELAY", "player_game_summary"),
        ("NBA_BACKFILL_FAULTS__DELAY_SECONDS", "-1"),
    ],
)
def test_bad_transient_settings_are_one_line(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    with pytest.raises(UsageError) as exc:
        load_settings()
    assert env in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("quota", "quota"),
        ("rate_limit", "quota"),
        ("too_many_requests", "quota"),
        ("serialization", "serialization"),
        ("server", "server"),
        ("timeout", "timeout"),
    ],
)
def test_injected_errors_are_the_vendors_and_classify_as_production_does(kind, reason):
    """The injected exception is the google.api_core one BigQuery raises for that case, and
    the one classifier puts it in the retry class production uses (SPEC §7)."""
    from nba_backfill.errors import classify
    from nba_backfill.warehouse.faults import vendor_error

    assert classify(vendor_error(kind, "nba_analytics.t 2021-11-01..2021-11-03")) == reason


def _faulty(settings: Settings, **faults: object) -> FaultyWarehouse:
    return FaultyWarehouse(DuckDBWarehouse(settings), load_settings(faults=faults).faults)


def test_which_calls_fail_depends_on_the_seed_and_the_call_only(seeded: Settings):
    """Reproducible whatever the order of calls (threads): a decision is a function of the
    seed, the call and how many times that call was made."""
    keys = [f"profile|t|{i}" for i in range(400)]
    a = _faulty(seeded, transient_rate=0.2, seed=3)
    first = [a._transient(k, "x") is not None for k in keys]
    a.close()
    b = _faulty(seeded, transient_rate=0.2, seed=3)
    second = [b._transient(k, "x") is not None for k in reversed(keys)][::-1]
    b.close()
    c = _faulty(seeded, transient_rate=0.2, seed=4)
    other = [c._transient(k, "x") is not None for k in keys]
    c.close()
    assert first == second and first != other
    assert 0.12 < sum(first) / len(first) < 0.28


def test_transient_write_faults_are_retried_and_replace_never_duplicates(seeded: Settings):
    """Half the writes fail, some *after* committing (a lost answer): the retries replace the
    same window, and the result is exactly a fault-free write's."""
    clean = shared_warehouse()
    dates = sorted(clean.schedule(dt.date(2021, 11, 1), dt.date(2021, 11, 14)))
    run_chunk(clean, TOGS, dates, RETRY)
    expected = checksum(clean, TABLES[TOGS], dates[0], dates[-1])
    close_shared()
    policy = RetrySettings(max_attempts=30, initial_wait_seconds=0, jitter_seconds=0)
    # The chunk's reads (schedule, profiles: a table_exists and a fetch each) are retried by
    # the warehouse's own policy: the same 30 attempts as the writes, against half failing.
    wh = _faulty(
        seeded.model_copy(update={"retry": policy}),
        transient_rate=0.5,
        transient_kinds=["server", "timeout"],
        seed=1,
    )
    retries = 0
    for chunk in (dates[:4], dates[4:8], dates[8:]):
        result = run_chunk(wh, TOGS, chunk, policy)
        assert result.dates_filled == chunk
        retries += len(result.retries)
    stats = wh.stats()
    assert stats["after_write"] > 0 and retries > 0
    # The stored rows, read past the injected faults (half of all calls would fail: the
    # shared reads are a table_exists and a fetch each, both subject to injection).
    stored = wh.inner
    assert stored.key_audit(TABLES[TOGS], dates[0], dates[-1]).duplicate_keys == 0
    assert checksum(stored, TABLES[TOGS], dates[0], dates[-1]) == expected
    wh.close()


def test_transient_read_faults_are_retried_by_the_planner(seeded: Settings):
    from nba_backfill.planner import Planner

    clean = shared_warehouse()
    expected = Planner(clean).plan(dt.date(2021, 10, 19), dt.date(2021, 12, 5)).as_dict()
    close_shared()
    wh = _faulty(seeded, transient_rate=0.4, seed=5)
    assert Planner(wh).plan(dt.date(2021, 10, 19), dt.date(2021, 12, 5)).as_dict() == expected
    assert wh.stats()["injected"] > 0
    wh.close()


def test_a_delayed_write_pauses_inside_its_transaction(seeded: Settings):
    """While the write pauses (after its DELETE), other readers still see every old row."""
    import threading
    import time

    clean = shared_warehouse()
    dates = sorted(clean.schedule(dt.date(2021, 11, 1), dt.date(2021, 11, 3)))
    run_chunk(clean, TOGS, dates, RETRY)
    before = checksum(clean, TABLES[TOGS], dates[0], dates[-1])
    close_shared()
    wh = _faulty(seeded, delay=[f"{TOGS}:{dates[1]}"], delay_seconds=1.5)
    writer = threading.Thread(target=wh.replace_range, args=(TABLES[TOGS], dates[0], dates[-1]))
    started = time.monotonic()
    writer.start()
    time.sleep(0.5)
    assert writer.is_alive()
    assert checksum(wh, TABLES[TOGS], dates[0], dates[-1]) == before  # not half-written
    writer.join()
    assert time.monotonic() - started >= 1.5
    assert checksum(wh, TABLES[TOGS], dates[0], dates[-1]) == before  # replaced, same rows
    wh.close()


def test_a_delayed_write_goes_on_when_its_release_file_appears(seeded: Settings, tmp_path):
    """With a release file the pause lasts until the test creates it, not a guessed time: a
    run paused this way holds its chunk (and its run lock) for exactly as long as needed."""
    import threading

    release = tmp_path / "release"
    clean = shared_warehouse()
    dates = sorted(clean.schedule(dt.date(2021, 11, 1), dt.date(2021, 11, 3)))
    close_shared()
    wh = _faulty(seeded, delay=[f"{TOGS}:{dates[1]}"], delay_seconds=600, release_file=release)
    writer = threading.Thread(target=wh.replace_range, args=(TABLES[TOGS], dates[0], dates[-1]))
    writer.start()
    writer.join(1.0)
    assert writer.is_alive()  # paused: no release file yet
    assert wh.date_profile(TABLES[TOGS], dates[0], dates[-1]) == {}  # nothing visible
    release.touch()
    writer.join(30)  # far below the 600 s pause: the file ended it
    assert not writer.is_alive()
    assert sorted(wh.date_profile(TABLES[TOGS], dates[0], dates[-1])) == dates
    wh.close()
