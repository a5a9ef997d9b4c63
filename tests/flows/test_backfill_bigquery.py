"""The parent flow end to end on BigQuery — the production adapter and the real
google-cloud-bigquery client against the offline emulator (tests/emulator.py) — compared with a
DuckDB run of the same slice: the same plan, coverage, gate result and rows per table and date.

The flow is not told which backend it runs on: it reads the settings from the environment
(``NBA_BACKFILL_WAREHOUSE__BACKEND=bigquery`` + the emulator's endpoint, project and this test's
own dataset names), exactly as a deployment does.

Where the emulator differs from BigQuery (SPEC §8) this run takes the adapter's emulator branch:
each chunk is the production MERGE with bound parameters, but its rows deleted / written are
split by counting the window after it (the emulator reports no DML stats), its jobs report 0
bytes processed and no billing (so the summary's cost is that), and nothing here can show that
labels or maximum_bytes_billed are honoured (the emulator neither stores nor enforces them;
tests/warehouse/test_bigquery.py checks them on the job configurations instead).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prefect import flow, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

from devtools.synthetic import generate, seed_phase2
from nba_backfill.catalog import PHASE3, PHASE4, TABLES, TOGS, TableSpec
from nba_backfill.drift import table_drift
from nba_backfill.phase2 import RAW_TABLES
from nba_backfill.settings import Settings, load_settings
from nba_backfill.sqlfiles import LOGICAL_DATASETS
from nba_backfill.validation import validate
from nba_backfill.warehouse import Warehouse, close_shared, shared_warehouse
from nba_backfill.warehouse.bigquery import BigQueryWarehouse
from tasks import chunks
from tests.conftest import SLICE_FINAL_THROUGH, SLICE_START
from tests.emulator import PROJECT

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow]

# Bigger chunks than the DuckDB flow test: each chunk costs the emulator ~10 queries of
# ~20-40 ms plus its script. More workers do not help it (measured: 4 workers took 46 s where
# 2 took 34 s), and 8-day chunks took 51 s. 24 days still gives every table two chunks (Phase 3:
# 47 dates, Phase 4: 33 after the bootstrap days) written side by side, in 20 chunks where
# 16-day chunks made 30.
# The bootstrap fortnight and a week of Phase 4 (the emulator is slow: the slice's seven
# weeks took ~14 min here); two chunks a table, so chunks of a table still run side by side.
END = dt.date(2021, 11, 9)
CHUNK_DAYS = 12
MAX_CONCURRENCY = 2


def _bigquery_env(monkeypatch: pytest.MonkeyPatch, endpoint: str, suffix: str) -> Settings:
    """Point the environment — what the flow and its tasks read — at the emulator, with
    dataset names of this test's own."""
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__BACKEND", "bigquery")
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__EMULATOR_ENDPOINT", endpoint)
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__PROJECT", PROJECT)
    for logical in LOGICAL_DATASETS:
        monkeypatch.setenv(
            f"NBA_BACKFILL_WAREHOUSE__DATASETS__{logical.upper()}", f"{logical}_{suffix}"
        )
    close_shared()  # forget the DuckDB warehouse and the cached settings
    return load_settings()


def _observe(wh: Warehouse, state: Any) -> dict[str, Any]:
    """What a run produced, in engine-neutral terms: flow state, the run summary's table rows,
    both validations, and per table its rows per date (and distinct teams per date)."""
    gate = validate(wh, 3, SLICE_START, END)
    p4 = validate(wh, 4, SLICE_START, END)
    specs = [*PHASE3, *PHASE4]
    return {
        "completed": state.is_completed(),
        "summary": state.result()["tables"] if state.is_completed() else state.message,
        "gate": (gate.ok, {t.table: (t.covered, t.expected, t.problems) for t in gate.tables}),
        "phase4": (p4.ok, {t.table: (t.covered, t.expected, t.problems) for t in p4.tables}),
        "usage_rate_share": round(p4.usage_rate_share or 0.0, 9),
        "rows": {s.name: wh.row_count(s, SLICE_START, END) for s in specs},
        "profiles": {s.name: wh.date_profile(s, SLICE_START, END) for s in specs},
        "keys": {
            s.name: (a.null_keys, a.duplicate_keys)
            for s in specs
            for a in [wh.key_audit(s, SLICE_START, END)]
        },
        # Production's schema read back from the engine, and no NULL in a REQUIRED column.
        "drift": {s.name: (d.problems, d.extra) for s in specs for d in [table_drift(wh, s)]},
        "required_nulls": {s.name: required_nulls(wh, s) for s in specs},
        "failed_chunks": state.result()["failed_chunks"] if state.is_completed() else None,
        "cost": state.result()["cost"]["total"] if state.is_completed() else None,
    }


def lift_partition_expiration(wh: BigQueryWarehouse) -> None:
    """What an operator does before backfilling history into production's expiring tables
    (the DuckDB reference runs with the expiration lifted too, tests/conftest.py)."""
    for spec in TABLES.values():
        if spec.partition_expiration_days:
            table = wh.client.get_table(wh.table_id(spec.name))
            table.time_partitioning.expiration_ms = None
            wh.client.update_table(table, ["time_partitioning"])
            assert wh.partition_expiration_days(spec) is None


def required_nulls(wh: Warehouse, spec: TableSpec) -> int:
    """Rows of ``spec`` in the slice with a NULL in any of production's REQUIRED columns."""
    required = [c.name for c in spec.contract.live_columns if c.required]
    nulls = " OR ".join(f"{c} IS NULL" for c in required)
    rows = wh.fetch(
        f"SELECT COUNTIF({nulls}) AS n FROM {spec.name} "
        f"WHERE {spec.date_column} BETWEEN @start_date AND @end_date",
        {"start_date": SLICE_START, "end_date": END},
    )
    return int(rows[0]["n"] or 0)


@pytest.fixture
def duckdb_run(seeded: Settings) -> Iterator[dict[str, Any]]:
    """The reference: the flow on the DuckDB copy of the Phase 2 template (same seed, same
    ``final_through``), with the chunking the BigQuery run uses."""
    from flows.backfill import backfill

    state = backfill(
        SLICE_START,
        END,
        chunk_days=CHUNK_DAYS,
        max_concurrency=MAX_CONCURRENCY,
        return_state=True,
    )
    yield _observe(shared_warehouse(), state)
    close_shared()


def test_bigquery_run_matches_duckdb(
    duckdb_run: dict[str, Any],
    bq_emulator: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flows.backfill import backfill

    settings = _bigquery_env(monkeypatch, bq_emulator, "e2e" + uuid.uuid4().hex[:6])
    wh = shared_warehouse()
    assert isinstance(wh, BigQueryWarehouse) and wh.emulator
    assert wh.datasets["nba_analytics"] == settings.warehouse.datasets.nba_analytics

    started = time.perf_counter()
    seed_phase2(wh, seed=7, final_through=SLICE_FINAL_THROUGH)  # what the template holds
    wh.ensure_tables(list(TABLES.values()))
    lift_partition_expiration(wh)
    seeded_in = time.perf_counter() - started

    started = time.perf_counter()
    state = backfill(
        SLICE_START,
        END,
        chunk_days=CHUNK_DAYS,
        max_concurrency=MAX_CONCURRENCY,
        return_state=True,
    )
    ran_in = time.perf_counter() - started
    assert state.is_completed(), state.message
    ours = _observe(wh, state)
    with capsys.disabled():
        print(
            f"\nBigQuery emulator: seeded in {seeded_in:.1f}s, flow ran in {ran_in:.1f}s; rows: "
            + ", ".join(f"{n.split('.')[1]}={r}" for n, r in ours["rows"].items())
        )

    theirs = duckdb_run
    assert theirs["completed"], theirs["summary"]
    # Both engines hold production's tables exactly (names, types, modes; the emulator does
    # not report NUMERIC parameters), never a NULL in a REQUIRED column, and no chunk failed.
    for run in (ours, theirs):
        assert all(d == ([], []) for d in run["drift"].values()), run["drift"]
        assert all(n == 0 for n in run["required_nulls"].values()), run["required_nulls"]
        assert run["failed_chunks"] == []
    # Every table was filled on both engines ...
    assert all(n > 0 for n in ours["rows"].values()), ours["rows"]
    assert all(keys == (0, 0) for keys in ours["keys"].values()), ours["keys"]
    assert ours["gate"][0] and ours["phase4"][0]
    # ... with the same plan and summary (before/after coverage, dates filled / skipped) ...
    assert ours["summary"] == theirs["summary"]
    # ... the same gate and Phase 4 results ...
    assert ours["gate"] == theirs["gate"]
    assert ours["phase4"] == theirs["phase4"]
    assert ours["usage_rate_share"] == pytest.approx(theirs["usage_rate_share"], abs=1e-9)
    # What the jobs cost: the emulator reports 0 bytes processed and nothing else (and its dry
    # runs no estimate); DuckDB bills nothing per query.
    assert ours["cost"] == {
        "estimated_bytes": None,
        "bytes_processed": 0,
        "bytes_billed": None,
        "slot_ms": None,
    }
    assert theirs["cost"] == dict.fromkeys(ours["cost"])
    # ... and the same rows per table and per date.
    assert ours["rows"] == theirs["rows"]
    assert ours["profiles"] == theirs["profiles"]

    # A second run plans nothing and writes nothing.
    again = backfill(SLICE_START, END, chunk_days=CHUNK_DAYS, return_state=True)
    assert again.is_completed(), again.message
    assert all(r["filled"] == 0 for r in again.result()["tables"])
    assert {s.name: wh.row_count(s, SLICE_START, END) for s in TABLES.values()} == ours["rows"]


# --- global concurrency limits around BigQuery writes ---------------------------------------------

W_START, W_END = SLICE_START, SLICE_START + dt.timedelta(days=3)
TOGS_READS = (
    "nba_raw.nbac_schedule",
    "nba_raw.nbac_team_boxscore",
    "nba_raw.nbac_play_by_play",
)


@flow(name="fill-one-chunk")
def _fill_one(table: str, dates: list[dt.date]) -> dict[str, object]:
    return chunks.fill_chunk(table, dates)


@pytest.fixture
def write_limits() -> Iterator[list[str]]:
    """The two global concurrency limits of a team_offense write (as `nba-backfill setup`
    creates them), one slot each, on the test server; deleted afterwards."""
    names = chunks.write_limits(TOGS)
    with get_client(sync_client=True) as client:
        for name in names:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    chunks.forget_limits()
    try:
        yield names
    finally:
        with get_client(sync_client=True) as client:
            for name in names:
                client.delete_global_concurrency_limit_by_name(name)
        chunks.forget_limits()


def _active_slots(names: list[str]) -> dict[str, int]:
    with get_client(sync_client=True) as client:
        return {n: client.read_global_concurrency_limit_by_name(n).active_slots for n in names}


def _spy_writes(wh: Warehouse, names: list[str], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record the limits' active slots at the moment each range write starts."""
    held: list[Any] = []
    real = wh.replace_range

    def spy(*args: Any, **kwargs: Any) -> Any:
        held.append(_active_slots(names))
        return real(*args, **kwargs)

    monkeypatch.setattr(wh, "replace_range", spy)
    return held


def test_bigquery_writes_hold_a_slot_of_each_global_limit(
    bq_emulator: str, write_limits: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _bigquery_env(monkeypatch, bq_emulator, "gcl" + uuid.uuid4().hex[:6])
    try:
        wh = shared_warehouse()
        data = generate(7, W_END + dt.timedelta(days=2), seasons=[2021])
        wh.ensure_raw_tables(RAW_TABLES)
        for t in RAW_TABLES:
            if t.name in TOGS_READS:
                i = t.column_names.index(t.partition_by)
                wh.load_raw(t, [r for r in data[t.name] if W_START <= r[i] <= W_END])
        wh.ensure_tables([TABLES[TOGS]])
        dates = sorted(wh.schedule(W_START, W_END))
        held = _spy_writes(wh, write_limits, monkeypatch)

        report = _fill_one(TOGS, dates)

        assert report["dates_filled"] == [d.isoformat() for d in dates]
        assert held == [dict.fromkeys(write_limits, 1)]  # both slots held during the write
        assert _active_slots(write_limits) == dict.fromkeys(write_limits, 0)  # and released
    finally:
        close_shared()


def test_duckdb_writes_take_no_global_slot(
    seeded: Settings, write_limits: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Locally the limits would only slow the run (see tasks.chunks.write_guard): with them
    present, a DuckDB write takes no slot."""
    wh = shared_warehouse()
    dates = sorted(wh.schedule(W_START, W_END))
    held = _spy_writes(wh, write_limits, monkeypatch)
    report = _fill_one(TOGS, dates)
    assert report["dates_filled"] == [d.isoformat() for d in dates]
    assert held == [dict.fromkeys(write_limits, 0)]
