"""Audits (nba_backfill/sql/audits/): each returns exactly the offending rows of a table's
window — a NULL key, a duplicated key, a player-game without usage_rate — and nothing on clean
data; the gate's key counts and ML readiness are computed from them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from devtools.synthetic import Shape
from nba_backfill import audits, validation
from nba_backfill.audits import KeyAudit
from nba_backfill.calendar import Openers
from nba_backfill.catalog import AUDITS_DIR, KEY_AUDITS, PGS, PSZA, TABLES, UPCG, TableSpec
from nba_backfill.contract import TableContract
from nba_backfill.errors import BackfillError
from nba_backfill.phase2 import RAW_TABLES
from nba_backfill.settings import load_settings
from nba_backfill.sqlfiles import fill_slots, table_slots
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

D1, D2, D3 = dt.date(2024, 1, 10), dt.date(2024, 1, 11), dt.date(2024, 1, 12)
KEYS = TABLES[PSZA]  # key (analysis_date, player_lookup)
USAGE = TABLES[PGS]


def nullable(contract: TableContract) -> TableContract:
    """``contract`` with every column NULLABLE: production's keys are REQUIRED, so a NULL key
    row can only exist in a table created without that constraint."""
    columns = tuple(
        dataclasses.replace(c, mode="NULLABLE") if c.mode == "REQUIRED" else c
        for c in contract.columns
    )
    return dataclasses.replace(contract, columns=columns)


# D1 is clean; D2 holds a key three times, two NULL-key rows (they group as one key held
# twice) and a clean row; D3, outside the audited window, holds another duplicate.
KEY_ROWS = [
    (D1, "ann"),
    (D1, "bob"),
    (D2, "ann"),
    (D2, "ann"),
    (D2, "ann"),
    (D2, None),
    (D2, None),
    (D2, "bob"),
    (D3, "cid"),
    (D3, "cid"),
]
# (player, minutes, usage_rate) on D1: played with usage, played without (offending), did not
# play without usage (not offending); D3 (outside) played without usage.
USAGE_ROWS = [
    (D1, "ann", 30, 21.5),
    (D1, "bob", 12, None),
    (D1, "cid", 0, None),
    (D1, "dan", None, None),
    (D3, "eve", 25, None),
]


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBWarehouse]:
    path = tmp_path_factory.mktemp("audits") / "w.duckdb"
    w = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    keys = Shape(KEYS.contract)
    w.load_raw(
        nullable(KEYS.contract),
        [keys.row(analysis_date=d, player_lookup=p) for d, p in KEY_ROWS],
    )
    usage = Shape(USAGE.contract)
    w.load_raw(
        nullable(USAGE.contract),
        [
            usage.row(game_date=d, player_lookup=p, minutes_played=m, usage_rate=u)
            for d, p, m, u in USAGE_ROWS
        ],
    )
    yield w
    w.close()


# --- the files and the catalog -----------------------------------------------------------------


def test_every_audit_has_a_file_and_every_file_is_run_by_a_table() -> None:
    files = {p.stem for p in AUDITS_DIR.glob("*.sql")}
    listed = {a for spec in TABLES.values() for a in spec.audits}
    assert listed == files == set(audits.audit_names())
    assert all(set(KEY_AUDITS) <= set(spec.audits) for spec in TABLES.values())
    assert TABLES[PGS].audits == (*KEY_AUDITS, "usage_rate", "unparsed_minutes")


def test_a_catalog_entry_naming_an_unknown_audit_is_refused() -> None:
    with pytest.raises(ValueError, match="no audit file"):
        dataclasses.replace(KEYS, audits=("null_keys", "gremlins"))
    with pytest.raises(BackfillError, match="unknown audit 'gremlins'"):
        audits.render("gremlins", KEYS)


@pytest.mark.parametrize("name", sorted(p.stem for p in AUDITS_DIR.glob("*.sql")))
def test_an_audit_is_one_windowed_query_with_catalog_slots(name: str) -> None:
    text = (AUDITS_DIR / f"{name}.sql").read_text(encoding="utf-8")
    assert text.startswith(f"-- audit {name}") and "One row = " in text
    tree = sqlglot.parse_one(text, read="bigquery")
    assert isinstance(tree, exp.Query)
    assert {p.name for p in tree.find_all(exp.Parameter)} == {"start_date", "end_date"}
    assert {p.name for p in tree.find_all(exp.Placeholder)} <= set(table_slots(USAGE))


@pytest.mark.parametrize("spec", list(TABLES.values()), ids=lambda s: s.table)
def test_rendering_fills_identifiers_from_the_catalog_and_keeps_values_parameters(
    spec: TableSpec,
) -> None:
    for name in spec.audits:
        sql = audits.render(name, spec)
        tree = sqlglot.parse_one(sql, read="bigquery")
        assert not list(tree.find_all(exp.Placeholder))
        assert [t.sql(dialect="bigquery") for t in tree.find_all(exp.Table)] == [spec.name]
        assert {p.name for p in tree.find_all(exp.Parameter)} == {"start_date", "end_date"}
        columns = {c.name for c in tree.find_all(exp.Column)}
        assert set(spec.key_columns) | {spec.date_column} <= columns
        assert "--" not in sql and "/*" not in sql  # the files' comments stay in the files


def test_a_multi_column_slot_outside_a_list_is_an_error() -> None:
    tree = sqlglot.parse_one("SELECT * FROM t WHERE :key_columns > 1", read="bigquery")
    with pytest.raises(BackfillError, match="names several columns"):
        fill_slots(tree, table_slots(KEYS), where="test")
    with pytest.raises(BackfillError, match="no value for the slot :nope"):
        fill_slots(sqlglot.parse_one("SELECT :nope", read="bigquery"), {}, where="test")


# --- each audit returns exactly the offending rows ---------------------------------------------


def _keys(rows: list[dict[str, object]], *columns: str) -> list[tuple[object, ...]]:
    return sorted((tuple(r[c] for c in columns) for r in rows), key=repr)


def test_null_keys_returns_each_null_key_row_with_its_date(wh: DuckDBWarehouse) -> None:
    rows = audits.offending_rows(wh, "null_keys", KEYS, D1, D2)
    assert _keys(rows, "day", "analysis_date", "player_lookup") == [(D2, D2, None)] * 2
    assert audits.offending_rows(wh, "null_keys", KEYS, D1, D1) == []  # clean
    assert audits.offending_rows(wh, "null_keys", KEYS, D3, D3) == []  # duplicates only


def test_duplicate_keys_returns_each_duplicated_key_with_its_copies(wh: DuckDBWarehouse) -> None:
    rows = audits.offending_rows(wh, "duplicate_keys", KEYS, D1, D2)
    got = _keys(rows, "analysis_date", "player_lookup", "copies")
    assert got == sorted([(D2, "ann", 3), (D2, None, 2)], key=repr)
    assert audits.offending_rows(wh, "duplicate_keys", KEYS, D1, D1) == []
    assert _keys(
        audits.offending_rows(wh, "duplicate_keys", KEYS, D3, D3), "player_lookup", "copies"
    ) == [("cid", 2)]


def test_usage_rate_returns_player_games_played_without_usage(wh: DuckDBWarehouse) -> None:
    rows = audits.offending_rows(wh, "usage_rate", USAGE, D1, D2)
    assert _keys(rows, "day", "player_lookup", "minutes_played") == [(D1, "bob", 12)]
    assert audits.offending_rows(wh, "usage_rate", USAGE, D2, D2) == []


def test_an_absent_table_has_no_offending_rows(wh: DuckDBWarehouse) -> None:
    spec = TABLES["nba_precompute.player_daily_cache"]
    assert not wh.table_exists(spec.name)
    assert audits.offending_rows(wh, "null_keys", spec, D1, D3) == []
    assert audits.key_counts(wh, spec, D1, D3) == KeyAudit(0, 0, 0)


# --- what validation counts from them ----------------------------------------------------------


def test_key_counts_are_rows_null_key_rows_and_surplus_duplicate_rows(
    wh: DuckDBWarehouse,
) -> None:
    # D1..D2: 8 rows; 2 NULL-key rows; surplus: ann 3 - 1, the NULL key 2 - 1.
    assert audits.key_counts(wh, KEYS, D1, D2) == KeyAudit(8, 2, 3)
    assert audits.key_counts(wh, KEYS, D1, D1) == KeyAudit(2, 0, 0)
    assert audits.key_counts(wh, KEYS, D1, D3) == KeyAudit(10, 2, 4)
    assert wh.key_audit(KEYS, D1, D2) == KeyAudit(8, 2, 3)  # the protocol's read is the same
    assert wh.row_count(KEYS, D1, D2) == 8


def test_an_audit_the_catalog_does_not_list_counts_nothing(wh: DuckDBWarehouse) -> None:
    only_nulls = dataclasses.replace(KEYS, audits=("null_keys",))
    assert audits.key_counts(wh, only_nulls, D1, D2) == KeyAudit(8, 2, 0)


def test_check_table_reports_the_audits_counts(wh: DuckDBWarehouse) -> None:
    wh.ensure_tables([TABLES[UPCG]])  # where the Phase 4 table's teams and inputs come from
    wh.ensure_raw_tables(RAW_TABLES)  # empty: which games lack their inputs is read there
    check = validation.check_table(wh, KEYS, D1, D2, {D1: 1, D2: 1}, _no_openers())
    assert (check.rows, check.null_keys, check.duplicate_keys) == (8, 2, 3)
    # Each names its date (issue 12: a gate failure names tables and dates).
    assert "2 rows with NULL key columns on 2024-01-11" in check.problems
    assert "3 duplicate key rows on 2024-01-11" in check.problems
    assert check.key_dates == {D2: (2, 3)}


def test_key_dates_are_the_key_audits_counts_per_date(wh: DuckDBWarehouse) -> None:
    assert audits.key_dates(wh, KEYS, D1, D3) == {
        D2: audits.DateKeys(2, 3),
        D3: audits.DateKeys(0, 1),
    }
    assert audits.key_dates(wh, KEYS, D1, D1) == {}
    assert audits.key_dates(wh, dataclasses.replace(KEYS, audits=("null_keys",)), D1, D3) == {
        D2: audits.DateKeys(2, 0)
    }
    profile = wh.date_profile(KEYS, D1, D3)  # what readiness reads carries them
    assert (profile[D1].null_keys, profile[D1].duplicate_keys) == (0, 0)
    assert (profile[D2].null_keys, profile[D2].duplicate_keys) == (2, 3)


def test_usage_rate_share_is_the_played_games_the_audit_passes(wh: DuckDBWarehouse) -> None:
    assert audits.usage_rate_counts(wh, USAGE, D1, D1) == (2, 1)
    assert validation.usage_rate_share(wh, D1, D1) == 0.5
    assert validation.usage_rate_share(wh, D1, D3) == pytest.approx(1 / 3)
    assert validation.usage_rate_share(wh, D2, D2) is None  # nobody played


def test_usage_rate_share_without_the_table_is_none(tmp_path: Path) -> None:
    w = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(tmp_path / "e.duckdb")}))
    try:
        assert validation.usage_rate_share(w, D1, D3) is None
    finally:
        w.close()


def _no_openers() -> Openers:
    return Openers({})
