"""BigQueryWarehouse against the offline emulator (tests/emulator.py) with the real
google-cloud-bigquery client, compared with the DuckDB warehouse on the same Phase 2 rows.

Where the emulator differs from BigQuery (SPEC §8) a test exercises the nearest path and says so:
labels / maximum_bytes_billed are checked on the job configuration we build (the emulator does
not store them), atomicity is checked on the emulator's script form (no EXCEPTION handler,
literal dates), and the production script's text and statements are checked separately. Phase 2
loads take the production path (a load job) on the emulator too.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from sqlglot import exp

from bench.checksum import checksum
from devtools.synthetic import generate
from nba_backfill import audits, fingerprints
from nba_backfill.catalog import EXPECTED_DIR, PGS, TABLES, TOGS, TableSpec
from nba_backfill.drift import require_writable, table_drift
from nba_backfill.errors import (
    TransientWarehouseError,
    UsageError,
    WarehouseError,
    WarehouseUnavailable,
    classify,
)
from nba_backfill.outputs import is_volatile
from nba_backfill.phase2 import RAW_TABLES, RawTable
from nba_backfill.settings import load_settings
from nba_backfill.sqlfiles import render_file
from nba_backfill.warehouse.base import JobCost, Loader, Warehouse
from nba_backfill.warehouse.bigquery import (
    BigQueryWarehouse,
    dml_counts,
    job_cost,
    query_parameter,
    sanitize_labels,
    schema_field,
)
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from tests.emulator import PROJECT, emulator_settings
from tests.sql.fixtures import raw_row, schedule_row

START, END = dt.date(2021, 10, 19), dt.date(2021, 10, 22)  # the 2021-22 opener and 3 days
TOGS_SPEC = TABLES[TOGS]
TOGS_READS = (
    "nba_raw.nbac_schedule",
    "nba_raw.nbac_team_boxscore",
    "nba_raw.nbac_play_by_play",
)
WINDOW = {"start_date": START, "end_date": END}
_DATE_LITERAL = re.compile(r"'\d{4}-\d{2}-\d{2}'")  # CAST('2021-10-19' AS DATE) when inlined


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def phase2_rows() -> dict[str, list[tuple[Any, ...]]]:
    """Synthetic Phase 2 rows of START..END (a few thousand rows: quick to stream)."""
    data = generate(7, END + dt.timedelta(days=2), seasons=[2021])
    out: dict[str, list[tuple[Any, ...]]] = {}
    for t in RAW_TABLES:
        if t.partition_by is None:  # the player registry: not by date
            out[t.name] = data[t.name]
            continue
        i = t.column_names.index(t.partition_by)
        out[t.name] = [r for r in data[t.name] if START <= r[i] <= END]
    return out


def _seed(wh: Loader, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    wh.ensure_raw_tables(RAW_TABLES)
    for t in RAW_TABLES:
        if t.name in TOGS_READS:
            wh.load_raw(t, rows[t.name], replace=True)


@pytest.fixture(scope="module")
def bq(
    bq_emulator: str, phase2_rows: dict[str, list[tuple[Any, ...]]]
) -> Iterator[BigQueryWarehouse]:
    """A BigQuery warehouse (datasets of this module) holding the Phase 2 rows TOGS reads."""
    wh = BigQueryWarehouse(emulator_settings(bq_emulator, "m" + uuid.uuid4().hex[:6]))
    _seed(wh, phase2_rows)
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def duck(
    tmp_path_factory: pytest.TempPathFactory, phase2_rows: dict[str, list[tuple[Any, ...]]]
) -> Iterator[DuckDBWarehouse]:
    """The DuckDB warehouse on the same rows, with TOGS written for START..END."""
    path = tmp_path_factory.mktemp("duck") / "warehouse.duckdb"
    wh = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    _seed(wh, phase2_rows)
    wh.ensure_tables([TOGS_SPEC])
    wh.replace_range(TOGS_SPEC, START, END)
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def togs(bq: BigQueryWarehouse) -> BigQueryWarehouse:
    """``bq`` with TOGS created and written once for START..END."""
    bq.ensure_tables([TOGS_SPEC])
    bq.replace_range(TOGS_SPEC, START, END)
    return bq


class _Recorder:
    """Wraps ``_job_config`` to keep every QueryJobConfig the warehouse builds."""

    def __init__(self, wh: BigQueryWarehouse, monkeypatch: pytest.MonkeyPatch) -> None:
        self.configs: list[bigquery.QueryJobConfig] = []
        original = wh._job_config

        def record(*args: Any, **kwargs: Any) -> bigquery.QueryJobConfig:
            config = original(*args, **kwargs)
            self.configs.append(config)
            return config

        monkeypatch.setattr(wh, "_job_config", record)


def _togs_rows(wh: Warehouse) -> list[dict[str, Any]]:
    rows = wh.fetch(
        f"SELECT * FROM {TOGS} WHERE game_date BETWEEN @start_date AND @end_date", WINDOW
    )
    # The write-time columns differ between two writes by design; data_hash must not.
    rows = [{k: v for k, v in r.items() if not is_volatile(k)} for r in rows]
    return sorted(rows, key=lambda r: (r["game_date"], r["team_abbr"]))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


# --- Phase 2 -------------------------------------------------------------------------------------


def test_raw_tables_have_productions_schema_and_partitions(bq: BigQueryWarehouse) -> None:
    """Production's columns, types and modes (REQUIRED / NULLABLE / REPEATED), day partitions
    and clustering (at most 4 columns: BigQuery's limit; the schedule's DDL lists 5)."""
    legacy = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN"}
    for t in RAW_TABLES:
        table = bq.client.get_table(bq.table_id(t.name))
        assert [f.name for f in table.schema] == list(t.column_names)
        for f, c in zip(table.schema, t.live_columns, strict=True):
            element = c.type[len("ARRAY<") : -1] if c.base == "ARRAY" else c.base
            assert (f.field_type, f.mode) == (legacy.get(element, element), c.mode), c.name
        if t.partition_by is None:
            assert table.time_partitioning is None
            continue
        assert table.time_partitioning is not None
        assert table.time_partitioning.type_ == "DAY"
        assert table.time_partitioning.field == t.partition_by
        assert table.time_partitioning.expiration_ms is None  # history never expires
        assert table.clustering_fields == list(t.cluster_by[:4])


def test_load_raw_replace_and_append(
    bq_warehouse: BigQueryWarehouse, phase2_rows: dict[str, list[tuple[Any, ...]]]
) -> None:
    boxscore = next(t for t in RAW_TABLES if t.name == "nba_raw.nbac_team_boxscore")
    rows = phase2_rows[boxscore.name]
    count = f"SELECT COUNT(*) AS n FROM {boxscore.name} WHERE game_date IS NOT NULL"

    assert bq_warehouse.load_raw(boxscore, rows, replace=True) == len(rows)
    assert bq_warehouse.load_raw(boxscore, rows, replace=True) == len(rows)
    assert bq_warehouse.fetch(count)[0]["n"] == len(rows)  # replaced, not doubled
    bq_warehouse.load_raw(boxscore, rows[:3], replace=False)
    assert bq_warehouse.fetch(count)[0]["n"] == len(rows) + 3
    assert bq_warehouse.load_raw(boxscore, [], replace=True) == 0
    assert bq_warehouse.fetch(count)[0]["n"] == 0


def test_load_raw_round_trips_values(bq_warehouse: BigQueryWarehouse) -> None:
    props: RawTable = next(
        t for t in RAW_TABLES if t.name == "nba_raw.odds_api_player_points_props"
    )
    snap = dt.datetime(2024, 1, 15, 17, 30, tzinfo=dt.UTC)
    row = raw_row(
        props,
        game_id="0022300555",
        odds_api_event_id="e0",
        game_date=dt.date(2024, 1, 15),
        home_team_abbr="LAL",
        away_team_abbr="BOS",
        snapshot_timestamp=snap,
        bookmaker="draftkings",
        player_name="Jayson Tatum",
        player_lookup="jaysontatum",
        points_line=27.5,
        over_price=1.909,
        over_price_american=-110,
    )
    bq_warehouse.load_raw(props, [row])
    got = bq_warehouse.fetch(
        f"SELECT * FROM {props.name} WHERE game_date = @d", {"d": dt.date(2024, 1, 15)}
    )
    assert got == [dict(zip(props.column_names, row, strict=True))]


def test_load_raw_is_one_labelled_load_job(
    bq_warehouse: BigQueryWarehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production load path (the emulator accepts the client's resumable upload)."""
    schedule = next(t for t in RAW_TABLES if t.name == "nba_raw.nbac_schedule")
    configs: list[bigquery.LoadJobConfig] = []
    real = bq_warehouse.client.load_table_from_file

    def spy(*args: Any, **kwargs: Any) -> Any:
        configs.append(kwargs["job_config"])
        return real(*args, **kwargs)

    monkeypatch.setattr(bq_warehouse.client, "load_table_from_file", spy)
    row = schedule_row(START, "BKN", "MIL", nba_game_id="0022100001")
    bq_warehouse.load_raw(schedule, [row], replace=True)
    bq_warehouse.load_raw(schedule, [row], replace=False)
    assert [c.write_disposition for c in configs] == ["WRITE_TRUNCATE", "WRITE_APPEND"]
    for config in configs:
        assert config.source_format == "NEWLINE_DELIMITED_JSON"
        assert config.labels == {"app": "nba-backfill", "table": "nba_raw_nbac_schedule"}
        assert config.time_partitioning.field == "game_date"
    table = bq_warehouse.client.get_table(bq_warehouse.table_id(schedule.name))
    assert table.time_partitioning.field == "game_date"  # WRITE_TRUNCATE kept the partitioning
    assert bq_warehouse.schedule(START, START) == {START: 1}  # one game, loaded twice


# --- Phase 3/4 tables ----------------------------------------------------------------------------


def test_ensure_tables_creates_production_tables(bq_warehouse: BigQueryWarehouse) -> None:
    """Every table exactly as production's contract has it, read back from the server:
    columns (name, type, mode, NUMERIC precision/scale, RECORD fields) in production's order,
    DAY partitions on the date column with production's expiration, its clustering."""
    specs = list(reversed(TABLES.values()))  # any order: schemas come from the contract
    bq_warehouse.ensure_tables(specs)
    for spec in specs:
        table = bq_warehouse.client.get_table(bq_warehouse.table_id(spec.name))
        want = [schema_field(c).to_api_repr() for c in spec.contract.live_columns]
        got = [f.to_api_repr() for f in table.schema]
        if not any("precision" in f for f in got):
            # The emulator drops NUMERIC(p,s) parameters (BigQuery keeps them): compare the
            # rest here; test_schema_fields_carry_numeric_parameters checks what is sent.
            want = [{k: v for k, v in f.items() if k not in ("precision", "scale")} for f in want]
        assert got == want, spec.name
        assert table.time_partitioning.type_ == "DAY"
        assert table.time_partitioning.field == spec.date_column
        days = spec.partition_expiration_days
        assert table.time_partitioning.expiration_ms == (int(days * 86_400_000) if days else None)
        assert table.clustering_fields == list(spec.contract.cluster_by)
        assert table.description == spec.description
        # The emulator does not keep the table-level require_partition_filter we send (it
        # reports None); BigQuery does. Check it whenever the server reports it.
        reported = table.require_partition_filter
        if reported is not None:
            assert reported == spec.require_partition_filter, spec.name
    bq_warehouse.ensure_tables(specs)  # a second call is a no-op


def test_partition_expiration_is_read_from_the_live_table(bq_warehouse: BigQueryWarehouse) -> None:
    spec = TABLES["nba_precompute.player_daily_cache"]
    assert bq_warehouse.partition_expiration_days(spec) == 30  # not created yet: the contract
    bq_warehouse.ensure_tables([spec])
    assert bq_warehouse.partition_expiration_days(spec) == 30  # created as production's DDL
    table = bq_warehouse.client.get_table(bq_warehouse.table_id(spec.name))
    table.time_partitioning.expiration_ms = 400 * 86_400_000
    bq_warehouse.client.update_table(table, ["time_partitioning"])
    assert bq_warehouse.partition_expiration_days(spec) == 400  # the operator's setting wins


def test_drift_on_a_deliberately_altered_table(bq_warehouse: BigQueryWarehouse) -> None:
    """A live table that lacks a production column and holds another with a different type
    is reported, and a run's planner refuses it (one line, nothing written)."""
    spec = TABLES[PGS]
    fields = [schema_field(c) for c in spec.contract.live_columns if c.name != "usage_rate"]
    fields = [
        bigquery.SchemaField("points", "FLOAT", mode="NULLABLE") if f.name == "points" else f
        for f in fields
    ]
    bq_warehouse.ensure_tables([TABLES[TOGS]])
    bq_warehouse.client.create_table(
        bigquery.Table(bq_warehouse.table_id(spec.name), schema=fields)
    )
    drift = table_drift(bq_warehouse, spec)
    assert drift.missing == ["usage_rate NUMERIC(6,2)"]
    assert drift.mistyped == ["points: live FLOAT64 NULLABLE, production INT64 NULLABLE"]
    assert table_drift(bq_warehouse, TABLES[TOGS]).ok
    with pytest.raises(UsageError, match="player_game_summary: missing usage_rate"):
        require_writable(bq_warehouse, [TABLES[TOGS], spec])


def test_schema_fields_carry_numeric_parameters() -> None:
    spec = TABLES[TOGS]
    rating = schema_field(spec.contract.column("offensive_rating")).to_api_repr()
    assert rating == {
        "name": "offensive_rating",
        "type": "NUMERIC",
        "mode": "NULLABLE",
        "precision": 6,
        "scale": 2,
    }
    issues = schema_field(spec.contract.column("quality_issues")).to_api_repr()
    assert (issues["type"], issues["mode"]) == ("STRING", "REPEATED")


def test_togs_schema_matches_duckdb(togs: BigQueryWarehouse, duck: DuckDBWarehouse) -> None:
    table = togs.client.get_table(togs.table_id(TOGS))
    duck_cols = [
        row[0]
        for row in duck._cursor()
        .execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'nba_analytics' AND table_name = 'team_offense_game_summary' "
            "ORDER BY ordinal_position"
        )
        .fetchall()
    ]
    assert [f.name for f in table.schema] == duck_cols


def test_replace_range_is_idempotent(togs: BigQueryWarehouse) -> None:
    first_audit = togs.key_audit(TOGS_SPEC, START, END)
    first_sum = checksum(togs, TOGS_SPEC, START, END)
    assert first_audit.rows > 0

    result = togs.replace_range(TOGS_SPEC, START, END, labels={"flow_run_id": "test"})
    assert (result.rows_deleted, result.rows_written) == (first_audit.rows, first_audit.rows)
    again = togs.replace_range(TOGS_SPEC, START, END)
    assert (again.rows_deleted, again.rows_written) == (first_audit.rows, first_audit.rows)

    audit = togs.key_audit(TOGS_SPEC, START, END)
    assert audit == first_audit
    assert audit.duplicate_keys == 0 and audit.null_keys == 0
    assert checksum(togs, TOGS_SPEC, START, END) == first_sum


def test_replace_range_touches_only_its_window(togs: BigQueryWarehouse) -> None:
    before = togs.date_profile(TOGS_SPEC, START, END)
    day = START + dt.timedelta(days=1)
    result = togs.replace_range(TOGS_SPEC, day, day)
    assert result.rows_deleted == result.rows_written == before[day].rows
    assert togs.date_profile(TOGS_SPEC, START, END) == before


@pytest.mark.parametrize("table", [TOGS, PGS])
def test_one_fingerprint_query_reads_what_one_per_input_did(
    togs: BigQueryWarehouse, table: str
) -> None:
    """A chunk's input fingerprints in one job (UNION ALL, each input's dates its own
    parameters) run on BigQuery and read what the per-input queries read; PGS's inputs include
    a catalog table (TOGS, its data_hash) and a table without a date (the registry)."""
    inputs = fingerprints.inputs_of(table)
    asks = [(i, START - dt.timedelta(days=i.lookback_days), END) for i in inputs]
    together = fingerprints.read_many_day_hashes(togs, asks)
    assert together == {
        (i.table, i.catalog): fingerprints.read_day_hashes(togs, i, lo, hi) for i, lo, hi in asks
    }
    assert any(together.values())


def test_one_profile_query_and_one_key_counts_query_read_what_one_per_table_did(
    togs: BigQueryWarehouse,
) -> None:
    """Several tables' profiles (each over its own window; PGS with its expected set) in one
    job, and their key counts in another, run on BigQuery and read what a query per table
    reads (a chunk's inputs, a plan's and a validation's tables)."""
    asks = [
        (TOGS_SPEC, START, END),
        (TABLES[PGS], START - dt.timedelta(days=30), END),
        (TOGS_SPEC, START + dt.timedelta(days=1), START + dt.timedelta(days=1)),
    ]
    profiles = togs.date_profiles(asks[:2])
    assert profiles == {t.name: togs.date_profile(t, lo, hi) for t, lo, hi in asks[:2]}
    assert profiles[TOGS_SPEC.name]
    keys = audits.key_counts_many(togs, asks[1:])
    assert keys == {t.name: audits.key_counts(togs, t, lo, hi) for t, lo, hi in asks[1:]}
    assert keys[TOGS_SPEC.name].rows > 0


def test_one_written_at_query_reads_what_one_per_table_did(togs: BigQueryWarehouse) -> None:
    """A plan's stale-date reads of several tables (``written_at_many``) in one job run on
    BigQuery and read what ``written_at`` reads per table; a table not there reads empty."""
    asks = [(TOGS_SPEC, START, END), (TABLES[PGS], START, END)]
    together = togs.written_at_many(asks)
    assert together == {t.name: togs.written_at(t, lo, hi) for t, lo, hi in asks}
    assert set(together[TOGS_SPEC.name]) == set(togs.date_profile(TOGS_SPEC, START, END))


def test_reads_equal_duckdb(togs: BigQueryWarehouse, duck: DuckDBWarehouse) -> None:
    assert togs.schedule(START, END) == duck.schedule(START, END)
    assert togs.schedule_bounds() == duck.schedule_bounds()
    assert togs.date_profile(TOGS_SPEC, START, END) == duck.date_profile(TOGS_SPEC, START, END)
    assert togs.key_audit(TOGS_SPEC, START, END) == duck.key_audit(TOGS_SPEC, START, END)
    assert len(togs.schedule(START, END)) == 4
    # The expected games whose inputs never arrived (no gamebook is loaded here: every game),
    # the same read on both engines.
    missing = togs.games_missing_inputs(START, END)
    assert missing == duck.games_missing_inputs(START, END)
    assert len(missing) == sum(togs.schedule(START, END).values())


def test_grain_reads_equal_duckdb(
    togs: BigQueryWarehouse,
    duck: DuckDBWarehouse,
    phase2_rows: dict[str, list[tuple[Any, ...]]],
) -> None:
    """The expected-set read (completeness at the table's grain) gives the same answer on
    both engines: a team row relabelled to a team without a game is one team missing and one
    surplus; while the date's games lack their gamebook (skipped: inputs missing) their teams
    are excused and only the surplus row counts; replacing the date repairs it."""
    day = START + dt.timedelta(days=1)
    relabel = (
        f"UPDATE {TOGS} SET team_abbr = 'ZZZ' WHERE game_date = @d AND team_abbr = "
        f"(SELECT MIN(team_abbr) FROM {TOGS} WHERE game_date = @d)"
    )
    for wh in (togs, duck):
        assert wh.grain_dates(TOGS_SPEC, START, END) == {}
        wh.fetch(relabel, {"d": day})

    def profiles() -> dict[dt.date, Any]:
        ours = togs.date_profile(TOGS_SPEC, START, END)
        assert ours == duck.date_profile(TOGS_SPEC, START, END)
        return ours

    ours = profiles()  # no gamebook loaded yet: every game is skipped, its teams excused
    assert (ours[day].missing_entities, ours[day].surplus_entities) == (0, 1)
    (gamebook,) = (t for t in RAW_TABLES if t.name == "nba_raw.nbac_gamebook_player_stats")
    for wh in (togs, duck):
        wh.load_raw(gamebook, phase2_rows[gamebook.name], replace=True)
    ours = profiles()
    assert (ours[day].missing_entities, ours[day].surplus_entities) == (1, 1)
    assert ours[day].surplus_example == "ZZZ"
    for wh in (togs, duck):
        wh.replace_range(TOGS_SPEC, day, day)
        assert wh.grain_dates(TOGS_SPEC, START, END) == {}


@pytest.mark.parametrize("name", ["gamebook_players", "upcoming_players", "teams_playing"])
def test_expected_sets_equal_duckdb(
    bq: BigQueryWarehouse,
    duck: DuckDBWarehouse,
    phase2_rows: dict[str, list[tuple[Any, ...]]],
    name: str,
) -> None:
    """Each expected set of the raw inputs (the players and teams a date must hold) is the same
    on both engines."""
    (gamebook,) = (t for t in RAW_TABLES if t.name == "nba_raw.nbac_gamebook_player_stats")
    sql = render_file(EXPECTED_DIR / f"{name}.sql")

    def entities(wh: BigQueryWarehouse | DuckDBWarehouse) -> list[tuple[dt.date, str]]:
        wh.load_raw(gamebook, phase2_rows[gamebook.name], replace=True)
        return sorted((_day(r["day"]), str(r["entity"])) for r in wh.fetch(sql, WINDOW))

    ours = entities(bq)
    assert ours == entities(duck) and len({d for d, _ in ours}) == 4


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def test_togs_rows_equal_duckdb(togs: BigQueryWarehouse, duck: DuckDBWarehouse) -> None:
    """The same SQL file gives the same rows on both engines (floats to 1e-9)."""
    ours, theirs = _togs_rows(togs), _togs_rows(duck)
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs, strict=True):
        assert a.keys() == b.keys()
        diff = {k: (a[k], b[k]) for k in a if not _same(a[k], b[k])}
        assert not diff, (a["game_date"], a["team_abbr"], diff)


def _failing_replace(wh: BigQueryWarehouse, monkeypatch: pytest.MonkeyPatch) -> WarehouseError:
    """Run a replacement of START..END whose model fails at run time; return the error."""
    real_model = wh.model

    def failing_model(table: TableSpec) -> Any:
        inner = real_model(table).sql(dialect="bigquery")
        return wh.parse(
            "SELECT * REPLACE (IF(points_scored >= 0, ERROR('boom'), points_scored) "
            f"AS points_scored) FROM ({inner})"
        )

    monkeypatch.setattr(wh, "model", failing_model)
    with pytest.raises(WarehouseError) as caught:
        wh.replace_range(TOGS_SPEC, START, END)
    monkeypatch.undo()
    return caught.value


def _assert_failed_cleanly(err: WarehouseError) -> None:
    assert not isinstance(err, TransientWarehouseError)
    assert TOGS in str(err) and f"{START}..{END}" in str(err) and "boom" in str(err)
    assert isinstance(err.__cause__, gexc.BadRequest)
    assert classify(err) is None


def test_failed_replace_keeps_the_old_rows(
    togs: BigQueryWarehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A MERGE (the default write) whose model fails at run time leaves the old rows: one
    statement, atomic by itself."""
    before = checksum(togs, TOGS_SPEC, START, END)
    _assert_failed_cleanly(_failing_replace(togs, monkeypatch))
    assert checksum(togs, TOGS_SPEC, START, END) == before


def test_failed_transaction_keeps_the_old_rows(
    togs: BigQueryWarehouse,
    transaction_shaped: BigQueryWarehouse,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A transaction script whose INSERT fails at run time (after its DELETE ran) leaves the
    old rows.

    Nearest path on the emulator: it runs the script form without an EXCEPTION handler
    (BigQuery documents that an unhandled error rolls the transaction back; the emulator does
    the same) because inside a handler its ROLLBACK restores nothing and ``@@error.message``
    does not parse (SPEC §8). The production form with the handler is checked as text in
    test_production_replace_script_is_one_parameterised_transaction."""
    before = checksum(togs, TOGS_SPEC, START, END)
    _assert_failed_cleanly(_failing_replace(transaction_shaped, monkeypatch))
    assert checksum(togs, TOGS_SPEC, START, END) == before


def test_delete_dates(togs: BigQueryWarehouse) -> None:
    profile = togs.date_profile(TOGS_SPEC, START, END)
    assert togs.delete_dates(TOGS_SPEC, []) == 0
    assert togs.delete_dates(TOGS_SPEC, [END, END]) == profile[END].rows
    assert END not in togs.date_profile(TOGS_SPEC, START, END)
    togs.replace_range(TOGS_SPEC, END, END)
    assert togs.date_profile(TOGS_SPEC, START, END) == profile


def test_estimate_bytes_is_unknown_on_the_emulator(togs: BigQueryWarehouse) -> None:
    # The emulator's dry runs report 0 bytes; BigQuery's report what the DELETE + INSERT scan.
    assert togs.estimate_bytes(TOGS_SPEC, START, END) is None


def test_table_exists_and_names(bq: BigQueryWarehouse) -> None:
    assert bq.table_exists("nba_raw.nbac_schedule")
    assert not bq.table_exists("nba_analytics.no_such_table")
    assert bq.table_id("nba_raw.nbac_team_boxscore") == (
        f"{PROJECT}.{bq.datasets['nba_raw']}.nbac_team_boxscore"
    )
    for bad in ("nba_raw", "nba_raw.x; DROP TABLE y", "elsewhere.t", "a.b.c"):
        with pytest.raises(UsageError):
            bq.table_id(bad)


def test_sql_is_rendered_with_project_and_physical_datasets(bq: BigQueryWarehouse) -> None:
    text = bq.render("SELECT * FROM nba_raw.nbac_team_boxscore AS b WHERE b.game_date = @d")
    assert f"`{PROJECT}`.{bq.datasets['nba_raw']}.nbac_team_boxscore" in text
    model = bq._model_tree(TOGS_SPEC, (START, END)).sql(dialect="bigquery", comments=False)
    assert "@start_date" not in model and "CAST('2021-10-19' AS DATE)" in model


# --- errors at the boundary ----------------------------------------------------------------------


def test_vendor_errors_are_translated_once(bq: BigQueryWarehouse) -> None:
    with pytest.raises(WarehouseError) as unparsable:
        bq.fetch("SELECT FROM WHERE")
    assert "not valid BigQuery SQL" in str(unparsable.value)
    assert classify(unparsable.value) is None

    with pytest.raises(WarehouseError) as invalid:
        bq.fetch("SELECT no_such_column FROM nba_raw.nbac_schedule")
    assert isinstance(invalid.value.__cause__, gexc.BadRequest)
    assert not invalid.value.transient and classify(invalid.value) is None

    with pytest.raises(WarehouseError) as missing:
        bq.fetch("SELECT * FROM nba_analytics.no_such_table")
    assert isinstance(missing.value.__cause__, gexc.NotFound)
    assert classify(missing.value) is None


def test_endpoint_lost_after_start_is_transient() -> None:
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        wh = BigQueryWarehouse(emulator_settings(f"http://127.0.0.1:{port}"))
        assert wh.client is not None  # built while something listened
    # closed now: nothing listens there any more
    wh._api_retry = Retry(timeout=0.5, initial=0.1, maximum=0.2)
    with pytest.raises(TransientWarehouseError) as caught:
        wh.fetch("SELECT 1 AS x")
    assert caught.value.reason == "connection"
    assert classify(caught.value) == "connection"


def test_emulator_not_running_is_one_line_at_once() -> None:
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    wh = BigQueryWarehouse(emulator_settings(f"http://127.0.0.1:{port}"))
    with pytest.raises(WarehouseUnavailable) as caught:
        wh.fetch("SELECT 1 AS x")
    message = str(caught.value)
    assert "\n" not in message and "cannot reach the BigQuery emulator" in message
    assert "NBA_BACKFILL_WAREHOUSE__EMULATOR_ENDPOINT" in message
    assert classify(caught.value) is None  # not retried


def test_missing_credentials_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    def no_adc(*args: Any, **kwargs: Any) -> Any:
        raise DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", no_adc)
    wh = BigQueryWarehouse(load_settings(warehouse={"backend": "bigquery"}))
    with pytest.raises(WarehouseUnavailable) as caught:
        _ = wh.client
    message = str(caught.value)
    assert "\n" not in message
    assert "NBA_BACKFILL_WAREHOUSE__GCP_CREDENTIALS_BLOCK" in message
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message


def test_client_from_a_gcp_credentials_block(monkeypatch: pytest.MonkeyPatch) -> None:
    import prefect_gcp

    calls: list[tuple[str, Any]] = []
    sentinel = object()

    class FakeBlock:
        def get_bigquery_client(self, project: str, location: str) -> object:
            calls.append(("client", (project, location)))
            return sentinel

    def load(name: str, **kwargs: Any) -> FakeBlock:
        calls.append(("load", (name, kwargs)))
        return FakeBlock()

    monkeypatch.setattr(prefect_gcp.GcpCredentials, "load", load)
    settings = load_settings(
        warehouse={"backend": "bigquery", "gcp_credentials_block": "nba-sa", "project": PROJECT}
    )
    assert BigQueryWarehouse(settings).client is sentinel
    assert calls == [
        ("load", ("nba-sa", {"_sync": True})),
        ("client", (PROJECT, settings.warehouse.location)),
    ]


def test_missing_gcp_credentials_block_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    import prefect_gcp

    def load(name: str, **kwargs: Any) -> Any:
        raise ValueError(f"Unable to find block document named {name} for block type gcp")

    monkeypatch.setattr(prefect_gcp.GcpCredentials, "load", load)
    settings = load_settings(warehouse={"backend": "bigquery", "gcp_credentials_block": "nope"})
    with pytest.raises(WarehouseUnavailable, match="GcpCredentials block 'nope'"):
        _ = BigQueryWarehouse(settings).client


def test_module_does_not_import_prefect() -> None:
    code = (
        "import sys, nba_backfill.warehouse.bigquery\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'prefect_gcp'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


# --- job configuration (the emulator does not store labels or enforce the cap) -------------------


def test_job_config_labels_cap_timeout_and_parameter_types(bq: BigQueryWarehouse) -> None:
    sql = "SELECT @d, @n, @x, @s, @b, @days, @@error.message"
    params = {
        "d": dt.date(2024, 1, 1),
        "n": 3,
        "x": 1.5,
        "s": "LAL",
        "b": True,
        "days": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
        "unused": 1,
    }
    labels = {"table": TOGS, "Flow Run ID": "0F1E-ABC", "chunk": "2024-01-01..2024-01-31"}
    config = bq._job_config(sql, params, labels)

    assert config.labels == {
        "app": "nba-backfill",
        "table": "nba_analytics_team_offense_game_summary",
        "flow_run_id": "0f1e-abc",
        "chunk": "2024-01-01__2024-01-31",
    }
    assert config.maximum_bytes_billed == bq.settings.warehouse.maximum_bytes_billed
    # The client keeps job_timeout_ms in its API form (a string).
    assert int(config.job_timeout_ms) == int(bq.settings.warehouse.job_timeout_seconds * 1000)
    assert config.use_legacy_sql is False
    types = {}
    for p in config.query_parameters:
        types[p.name] = (
            p.type_ if isinstance(p, bigquery.ScalarQueryParameter) else (f"ARRAY<{p.array_type}>")
        )
    assert types == {
        "d": "DATE", "n": "INT64", "x": "FLOAT64", "s": "STRING", "b": "BOOL",
        "days": "ARRAY<DATE>",
    }  # fmt: skip


def test_every_job_of_a_replace_is_labelled_and_capped(
    togs: BigQueryWarehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _Recorder(togs, monkeypatch)
    togs.replace_range(TOGS_SPEC, START, START, labels={"flow_run_id": "run-1"})
    togs.estimate_bytes(TOGS_SPEC, START, START)
    assert recorder.configs
    for config in recorder.configs:
        assert config.labels["app"] == "nba-backfill"
        assert config.labels["table"] == "nba_analytics_team_offense_game_summary"
        assert config.maximum_bytes_billed == togs.settings.warehouse.maximum_bytes_billed
    scripts = [c for c in recorder.configs if "chunk" in c.labels]
    assert scripts and all(c.labels["flow_run_id"] == "run-1" for c in scripts)
    assert scripts[0].labels["chunk"] == f"{START}_{START}"


def test_sanitize_labels() -> None:
    long = "x" * 100
    got = sanitize_labels({"App": "NBA Backfill!", "9lives": "ok", long: long, "": "dropped"})
    assert got == {"app": "nba_backfill_", "l_9lives": "ok", "x" * 63: "x" * 63}


def test_query_parameter_types() -> None:
    stamp = query_parameter("t", dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    flag = query_parameter("b", False)
    assert isinstance(stamp, bigquery.ScalarQueryParameter) and stamp.type_ == "TIMESTAMP"
    assert isinstance(flag, bigquery.ScalarQueryParameter) and flag.type_ == "BOOL"  # not INT64
    typed = bigquery.ArrayQueryParameter("e", "DATE", [])
    assert query_parameter("e", typed) is typed
    with pytest.raises(UsageError):
        query_parameter("o", object())


# --- the production (non-emulator) path, as far as it can be checked offline ---------------------


@pytest.fixture
def production_shaped(togs: BigQueryWarehouse) -> Iterator[BigQueryWarehouse]:
    """A warehouse in BigQuery mode (no emulator endpoint) that reuses the emulator's client,
    to render the production statements against the emulator's tables."""
    settings = togs.settings.model_copy(
        update={"warehouse": togs.settings.warehouse.model_copy(update={"emulator_endpoint": None})}
    )
    wh = BigQueryWarehouse(settings, client=togs.client)
    assert not wh.emulator
    yield wh


def test_production_replace_script_is_one_parameterised_transaction(
    production_shaped: BigQueryWarehouse,
) -> None:
    script = production_shaped.replace_script(TOGS_SPEC, START, END)
    lines = [line.strip() for line in script.splitlines()]
    assert lines[:2] == ["BEGIN", "BEGIN TRANSACTION;"]
    assert lines[-4:] == [
        "EXCEPTION WHEN ERROR THEN",
        "ROLLBACK TRANSACTION;",
        "RAISE USING MESSAGE = @@error.message;",
        "END;",
    ]
    assert "COMMIT TRANSACTION;" in lines
    assert script.count("DELETE FROM") == 1 and script.count("INSERT INTO") == 1
    # values stay parameters: no date rendered as a literal (the models' own constants may be)
    assert "DATE '" not in script and not _DATE_LITERAL.search(script)
    assert "BETWEEN @start_date AND @end_date" in script
    config = production_shaped._job_config(script, WINDOW)
    assert {p.name: p.type_ for p in config.query_parameters} == {
        "start_date": "DATE",
        "end_date": "DATE",
    }


def test_production_replace_statements_run_on_the_emulator(
    production_shaped: BigQueryWarehouse, togs: BigQueryWarehouse
) -> None:
    """Each production statement, run alone with bound parameters (the emulator binds them
    outside scripts), does what the script does: the DELETE and INSERT are valid SQL."""
    expected = togs.key_audit(TOGS_SPEC, START, END).rows
    delete, insert = production_shaped._replace_statements(TOGS_SPEC, START, END)
    deleted, _ = production_shaped._query(delete, WINDOW, {"table": TOGS}, what="delete")
    inserted, _ = production_shaped._query(insert, WINDOW, {"table": TOGS}, what="insert")
    assert deleted.num_dml_affected_rows == inserted.num_dml_affected_rows == expected
    assert togs.key_audit(TOGS_SPEC, START, END).duplicate_keys == 0


def test_unlistable_child_jobs_switch_to_counting(
    production_shaped: BigQueryWarehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise gexc.Forbidden("Access Denied: jobs.list", errors=[{"reason": "accessDenied"}])

    class Job:
        job_id = "script_1"

    monkeypatch.setattr(production_shaped.client, "list_jobs", forbidden)
    assert production_shaped._child_counts(Job()) is None  # type: ignore[arg-type]
    assert production_shaped._children_listable is False


def test_dml_counts_from_child_jobs() -> None:
    class Child:
        def __init__(self, kind: str, n: int | None) -> None:
            self.statement_type, self.num_dml_affected_rows = kind, n

    children = [Child("BEGIN_TRANSACTION", None), Child("DELETE", 60), Child("INSERT", 58),
                Child("COMMIT_TRANSACTION", None)]  # fmt: skip
    assert dml_counts(children) == (60, 58)
    assert dml_counts([]) is None


def test_written_at_moves_only_for_the_rewritten_date(togs: BigQueryWarehouse) -> None:
    """The stale rule's read (``written_at``) on BigQuery: a rewrite of one date stamps that
    date later than the others, which keep their times."""
    before = togs.written_at(TOGS_SPEC, START, END)
    assert set(before) == set(togs.date_profile(TOGS_SPEC, START, END))
    day = START + dt.timedelta(days=1)
    togs.replace_range(TOGS_SPEC, day, day)
    after = togs.written_at(TOGS_SPEC, START, END)
    assert after[day][0] > max(last for _, last in before.values())
    assert {d: w for d, w in after.items() if d != day} == {
        d: w for d, w in before.items() if d != day
    }


# --- one MERGE per chunk (write_strategy = merge, the default) ----------------------------------


def _plant(wh: BigQueryWarehouse, day: dt.date, team: str) -> None:
    """A row of ``team`` (a key the model never produces) on ``day``, copied from START."""
    wh._query(
        f"INSERT INTO {wh._quoted(TOGS)} SELECT * REPLACE (@team AS team_abbr, @day AS game_date) "
        f"FROM {wh._quoted(TOGS)} WHERE game_date = @start_date LIMIT 1",
        {"team": team, "day": day, "start_date": START},
        {"table": TOGS},
        what="planting a row",
    )


def _teams(wh: BigQueryWarehouse, day: dt.date) -> set[str]:
    rows = wh.fetch(
        f"SELECT team_abbr FROM {TOGS} WHERE game_date BETWEEN @start_date AND @end_date",
        {"start_date": day, "end_date": day},
    )
    return {r["team_abbr"] for r in rows}


def test_merge_replaces_exactly_its_window(togs: BigQueryWarehouse) -> None:
    """Rows outside the window stay as they were, an orphan inside it (a key the model no
    longer produces) is removed, and a rerun leaves the same rows with the same counts."""
    assert togs.settings.warehouse.write_strategy == "merge"
    lo, hi = START + dt.timedelta(days=1), START + dt.timedelta(days=2)
    before, outside = START - dt.timedelta(days=1), END + dt.timedelta(days=1)
    for day in (before, lo, outside):
        _plant(togs, day, "ZZZ")
    try:
        profile = togs.date_profile(TOGS_SPEC, START, END)
        in_window = sum(profile[d].rows for d in (lo, hi))
        untouched = {d: p for d, p in profile.items() if not lo <= d <= hi}
        outside_sums = checksum(togs, TOGS_SPEC, START, START), checksum(togs, TOGS_SPEC, END, END)

        result = togs.replace_range(TOGS_SPEC, lo, hi)
        assert result.rows_deleted == in_window  # the orphan included
        assert result.rows_written == in_window - 1
        assert "ZZZ" not in _teams(togs, lo)
        assert _teams(togs, before) == _teams(togs, outside) == {"ZZZ"}  # outside: untouched
        after = togs.date_profile(TOGS_SPEC, START, END)
        assert {d: p for d, p in after.items() if not lo <= d <= hi} == untouched
        assert (checksum(togs, TOGS_SPEC, START, START), checksum(togs, TOGS_SPEC, END, END)) == (
            outside_sums
        )

        window_sum = checksum(togs, TOGS_SPEC, lo, hi)
        again = togs.replace_range(TOGS_SPEC, lo, hi)
        assert (again.rows_deleted, again.rows_written) == (in_window - 1, in_window - 1)
        assert checksum(togs, TOGS_SPEC, lo, hi) == window_sum
        assert togs.key_audit(TOGS_SPEC, START, END).duplicate_keys == 0
    finally:
        togs.delete_dates(TOGS_SPEC, [before, outside])


def test_merge_of_an_empty_model_window_empties_it(togs: BigQueryWarehouse) -> None:
    """A window the model has no rows for (the day after the seeded games) loses its orphans:
    "not matched by source" deletes even when the source is empty."""
    day = END + dt.timedelta(days=1)
    _plant(togs, day, "ZZZ")
    _plant(togs, day, "YYY")
    result = togs.replace_range(TOGS_SPEC, day, day)
    assert (result.rows_deleted, result.rows_written) == (2, 0)
    assert _teams(togs, day) == set()


def test_merge_statement_is_one_parameterised_statement(
    production_shaped: BigQueryWarehouse,
) -> None:
    statement = production_shaped.merge_statement(TOGS_SPEC)
    trees = sqlglot.parse(statement, read="bigquery")
    assert len(trees) == 1 and isinstance(trees[0], exp.Merge)
    merge = trees[0]
    assert merge.args["on"] == exp.false()
    whens = merge.args["whens"].expressions
    assert [(w.args.get("matched"), w.args.get("source")) for w in whens] == [
        (False, True),
        (False, False),
    ]
    assert whens[0].args["then"].name == "DELETE"
    assert whens[0].args["condition"].sql(dialect="bigquery") == (
        "`T`.`game_date` BETWEEN @start_date AND @end_date"
    )
    # values stay parameters: no date rendered as a literal (the models' own constants may be)
    assert "DATE '" not in statement and not _DATE_LITERAL.search(statement)
    assert "BEGIN" not in statement and "TRANSACTION" not in statement
    config = production_shaped._job_config(statement, WINDOW)
    assert {p.name: p.type_ for p in config.query_parameters} == {
        "start_date": "DATE",
        "end_date": "DATE",
    }


@pytest.fixture
def transaction_shaped(togs: BigQueryWarehouse) -> BigQueryWarehouse:
    """``togs`` under ``write_strategy = transaction`` (the script path), same client."""
    settings = togs.settings.model_copy(
        update={
            "warehouse": togs.settings.warehouse.model_copy(
                update={"write_strategy": "transaction"}
            )
        }
    )
    return BigQueryWarehouse(settings, client=togs.client)


def test_transaction_strategy_still_replaces_the_window(
    transaction_shaped: BigQueryWarehouse, togs: BigQueryWarehouse
) -> None:
    """The script writes exactly the rows the MERGE writes for the same inputs, and nothing
    outside the day. (The module's earlier tests change the day's inputs — a gamebook loaded
    after the fixture's write — so the MERGE writes the day first, from the inputs as they are.)"""
    day = START + dt.timedelta(days=1)
    togs.replace_range(TOGS_SPEC, day, day)
    rows = togs.date_profile(TOGS_SPEC, day, day)[day].rows
    before = checksum(togs, TOGS_SPEC, START, END)
    result = transaction_shaped.replace_range(TOGS_SPEC, day, day)
    assert (result.rows_deleted, result.rows_written) == (rows, rows)
    assert checksum(togs, TOGS_SPEC, START, END) == before
    assert result.cost == JobCost(bytes_processed=0)  # before count, script, after count


# --- actual cost ---------------------------------------------------------------------------------


def test_a_write_carries_what_the_emulator_reports_of_its_cost(togs: BigQueryWarehouse) -> None:
    """The emulator reports 0 bytes processed and no bytes billed or slot time; the write's
    cost carries exactly that (the MERGE and the count that splits its affected rows)."""
    result = togs.replace_range(TOGS_SPEC, START, START)
    assert result.cost == JobCost(bytes_processed=0, bytes_billed=None, slot_ms=None)


def test_job_cost_and_dml_stats_from_bigquerys_job_resource() -> None:
    """What BigQuery returns for a finished MERGE (its REST resource, parsed by the client):
    the cost figures and the DML stats the write reports without any extra query."""
    client = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials())
    job = bigquery.QueryJob.from_api_repr(
        {
            "jobReference": {"projectId": PROJECT, "jobId": "merge_1", "location": "us-west2"},
            "configuration": {"query": {"query": "MERGE ..."}},
            "statistics": {
                "totalBytesProcessed": "52428800",
                "totalSlotMs": "1234",
                "query": {
                    "statementType": "MERGE",
                    "totalSlotMs": "1234",
                    "totalBytesProcessed": "52428800",
                    "totalBytesBilled": "53477376",
                    "numDmlAffectedRows": "118",
                    "dmlStats": {"insertedRowCount": "58", "deletedRowCount": "60"},
                },
            },
        },
        client,
    )
    assert job_cost(job) == JobCost(52_428_800, 53_477_376, 1234)
    assert job.dml_stats is not None
    assert (job.dml_stats.deleted_row_count, job.dml_stats.inserted_row_count) == (60, 58)


def test_job_costs_add_up_keeping_unknowns() -> None:
    a = JobCost(100, 10 * 1024**2, 50)
    b = JobCost(0, None, None)  # the emulator's figures
    assert a + b == JobCost(100, 10 * 1024**2, 50)
    assert b + b == JobCost(0, None, None)
    assert JobCost.total([None, a, None, a]) == JobCost(200, 20 * 1024**2, 100)
    assert JobCost.total([None, None]) is None  # an embedded warehouse: nothing billed
