"""A command producer on the BigQuery adapter (bqemulator, real google-cloud-bigquery client):
the stand-in writes through the emulator with the platform's MERGE, the backfill flow (a real
test Prefect server) runs it for team_offense_game_summary while team_defense_game_summary stays
on its SQL model, and only the warehouse judges each chunk."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest

from bench.checksum import checksum
from devtools.synthetic import generate
from nba_backfill.catalog import TABLES, TDGS, TOGS
from nba_backfill.errors import ProducerIncomplete
from nba_backfill.phase2 import RAW_TABLES
from nba_backfill.runner import run_chunk
from nba_backfill.settings import RetrySettings, Settings
from nba_backfill.sqlfiles import LOGICAL_DATASETS
from nba_backfill.validation import validate
from nba_backfill.warehouse import close_shared
from nba_backfill.warehouse.bigquery import BigQueryWarehouse
from tests.emulator import PROJECT, emulator_settings
from tests.producers.conftest import standin, standin_command
from tests.producers.test_producer_flow import _logged

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(900)]

START, END = dt.date(2021, 10, 19), dt.date(2021, 10, 22)  # the opener and three days
SPEC = TABLES[TOGS]
VAR = "NBA_BACKFILL_PRODUCERS__TEAM_OFFENSE_GAME_SUMMARY__"
FAST = RetrySettings(max_attempts=1)


@pytest.fixture(scope="module")
def suffix() -> str:
    return "p" + uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def loaded(bq_emulator: str, suffix: str) -> Settings:
    """Datasets of this module with the Phase 2 rows of START..END and both tables empty."""
    settings = emulator_settings(bq_emulator, suffix)
    wh = BigQueryWarehouse(settings)
    try:
        data = generate(7, END + dt.timedelta(days=2), seasons=[2021])
        wh.ensure_raw_tables(RAW_TABLES)
        for t in RAW_TABLES:
            if t.partition_by is None:  # a reference table: all of it
                wh.load_raw(t, data[t.name])
                continue
            i = t.column_names.index(t.partition_by)
            wh.load_raw(t, [r for r in data[t.name] if START <= r[i] <= END])
        wh.ensure_tables([TABLES[TOGS], TABLES[TDGS]])
    finally:
        wh.close()
    return settings


@pytest.fixture
def bq(
    loaded: Settings, bq_emulator: str, suffix: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> Iterator[BigQueryWarehouse]:
    """The flow, the runner and the stand-in (a child process: it reads the environment) all
    on this module's datasets; team_offense_game_summary on the stand-in."""
    monkeypatch.setenv("NBA_BACKFILL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__BACKEND", "bigquery")
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__EMULATOR_ENDPOINT", bq_emulator)
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__PROJECT", PROJECT)
    for d in LOGICAL_DATASETS:
        monkeypatch.setenv(f"NBA_BACKFILL_WAREHOUSE__DATASETS__{d.upper()}", f"{d}_{suffix}")
    monkeypatch.setenv("NBA_BACKFILL_RETRY__MAX_ATTEMPTS", "1")
    monkeypatch.setenv(VAR + "COMMAND", standin_command("team_offense_game_summary"))
    close_shared()
    wh = BigQueryWarehouse(loaded)
    yield wh
    wh.close()
    close_shared()


def _team_on(wh: BigQueryWarehouse, day: dt.date) -> str:
    rows = wh.fetch(
        "SELECT home_team_tricode AS t FROM nba_raw.nbac_schedule WHERE game_date = @d "
        "ORDER BY game_id LIMIT 1",
        {"d": day},
    )
    return str(rows[0]["t"])


def test_a_skipped_team_fails_the_chunk_then_the_backfill_fills_the_table(
    bq: BigQueryWarehouse, monkeypatch: pytest.MonkeyPatch
):
    from flows.backfill import backfill
    from flows.hooks import run_summary

    day = START + dt.timedelta(days=1)
    monkeypatch.setenv(VAR + "ENV", f'{{"STANDIN_SKIP": "{_team_on(bq, day)}:{day}"}}')
    close_shared()
    state = backfill(START, END, tables=[TOGS, TDGS], skip_phase4=True, return_state=True)
    assert state.is_failed()
    summary = run_summary(state)
    assert summary is not None
    (failed,) = summary["failed_chunks"]
    assert "team_offense" in failed["label"]
    assert f"1 date(s) are not complete in the warehouse: {day}" in failed["error"]
    assert (
        set(summary["failed_dates"]) == {TOGS} and day.isoformat() in summary["failed_dates"][TOGS]
    )
    # The SQL model's table, in the same run, is complete.
    assert validate(bq, 3, START, END, [TDGS]).ok

    # The processor behaving, the next run fills what is left; the warehouse judges it.
    monkeypatch.delenv(VAR + "ENV")
    close_shared()
    state = backfill(START, END, tables=[TOGS, TDGS], skip_phase4=True, return_state=True)
    assert state.is_completed(), state.message
    check = validate(bq, 3, START, END, [TOGS, TDGS])
    assert check.ok, check.problems
    togs = next(t for t in check.tables if t.table == TOGS)
    assert togs.coverage == 1.0 and togs.duplicate_keys == 0 and togs.null_keys == 0
    assert togs.all_dates_covered == len(bq.schedule(START, END))
    # It was the stand-in's MERGE that wrote them (its last line, in the task run's log).
    assert _logged("stdout | done:") >= 2


def test_pre_delete_replaces_exactly_where_the_merge_leaves_orphans(bq: BigQueryWarehouse):
    dates = sorted(bq.schedule(START, END))
    # What the SQL model writes, to compare with.
    run_chunk(bq, TOGS, dates, FAST)
    want = checksum(bq, SPEC, START, END)
    cols = SPEC.contract.column_names
    table = TOGS  # logical: fetch maps it to this module's dataset
    picked = ", ".join("'ZZZ' AS team_abbr" if c == "team_abbr" else f"`{c}`" for c in cols)
    orphan = (
        f"INSERT INTO {table} ({', '.join(f'`{c}`' for c in cols)}) "
        f"SELECT {picked} FROM {table} WHERE game_date = @d LIMIT 1"
    )
    bq.fetch(orphan, {"d": dates[-1]})

    def zzz() -> int:
        rows = bq.fetch(f"SELECT COUNT(*) AS n FROM {table} WHERE team_abbr = 'ZZZ'", {})
        return int(rows[0]["n"])

    assert zzz() == 1
    # The platform's MERGE updates what it matches and leaves the orphan: the warehouse finds
    # the surplus row and fails the chunk naming its date.
    with pytest.raises(ProducerIncomplete) as err:
        run_chunk(bq, TOGS, dates, FAST, producer=standin("team_offense_game_summary"))
    assert err.value.dates == [dates[-1]]
    assert zzz() == 1 and checksum(bq, SPEC, START, END) != want
    # pre_delete empties the window first: exactly the model's rows again.
    res = run_chunk(
        bq, TOGS, dates, FAST, producer=standin("team_offense_game_summary", pre_delete=True)
    )
    assert zzz() == 0 and checksum(bq, SPEC, START, END) == want
    assert res.dates_filled == dates and res.dates_incomplete == []


def test_a_silent_zero_exit_on_bigquery_is_a_failed_chunk_naming_its_dates(
    bq: BigQueryWarehouse,
):
    dates = sorted(bq.schedule(START, END))
    bq.delete_dates(SPEC, dates)
    silent = standin("team_offense_game_summary", STANDIN_SILENT="1")
    with pytest.raises(ProducerIncomplete) as err:
        run_chunk(bq, TOGS, dates, FAST, producer=silent)
    assert all(d.isoformat() in str(err.value) for d in dates)
    assert bq.date_profile(SPEC, START, END) == {}
