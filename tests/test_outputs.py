"""Production's full output schemas: every column has a role, the write SELECT fills them all
with production's exact types, and the tables created on DuckDB are production's."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from nba_backfill import contract, outputs
from nba_backfill.catalog import TABLES, TableSpec
from nba_backfill.sqlfiles import LOGICAL_DATASETS, load_model, load_query, splice_views

SPECS = list(TABLES.values())
# A model may hand a float to a NUMERIC(p,s) column (the write rounds it to s digits, as
# BigQuery stores it); any other type must be production's exactly (no FLOAT64 into INT64).
_NUMERIC_SOURCES = {"FLOAT64", "NUMERIC"}


def _is_json(spec: TableSpec, column: str) -> bool:
    return spec.contract.column(column).type == "JSON"


def _base(type_sql: str) -> str:
    return type_sql.split("(")[0].split("<")[0]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.table)
def test_model_selects_production_columns_cast_to_production_types(spec: TableSpec) -> None:
    tree = load_query(spec)
    assert isinstance(tree, exp.Query)
    for projection in tree.selects:
        assert isinstance(projection, exp.Alias), projection.sql("bigquery")
        cast = projection.this
        if not outputs.is_helper(projection.alias) and _is_json(spec, projection.alias):
            # BigQuery has no CAST to JSON: a JSON column is built by PARSE_JSON / TO_JSON
            assert isinstance(cast, (exp.ParseJSON, exp.JSONFormat)), projection.alias
            continue
        assert isinstance(cast, exp.Cast), f"{spec.table}.{projection.alias} is not cast"
        if outputs.is_helper(projection.alias):
            # A per-feature helper: an array of the type of the columns it is spread into.
            kind = next(k for k, a in outputs.PER_FEATURE_ARRAYS.items() if a == projection.alias)
            element = spec.contract.column(f"feature_0_{kind}").type
            assert contract.normalise_type(cast.to.sql(dialect="bigquery")) == f"ARRAY<{element}>"
            continue
        want = spec.contract.column(projection.alias)
        got = contract.normalise_type(cast.to.sql(dialect="bigquery"))
        if want.scale is not None:
            assert _base(got) in _NUMERIC_SOURCES, (projection.alias, got, want.type)
        else:
            assert got == want.type, (spec.table, projection.alias, got, want.type)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.table)
def test_every_production_column_has_one_role(spec: TableSpec) -> None:
    roles = outputs.roles(spec.name, load_query(spec))
    names = [*roles.computed, *roles.tracked, *roles.not_derived]
    assert sorted(names) == sorted(spec.contract.column_names)
    required = {c.name for c in spec.contract.live_columns if c.required}
    assert not required & set(roles.not_derived), "a REQUIRED column is never left NULL"
    assert all(reason.strip() for reason in roles.not_derived.values())


def test_a_column_production_lacks_is_refused() -> None:
    spec = TABLES["nba_analytics.team_offense_game_summary"]
    query = sqlglot.parse_one("SELECT 1 AS game_id, 2 AS not_a_column", read="bigquery")
    with pytest.raises(ValueError, match="not_a_column"):
        outputs.roles(spec.name, query)


def test_per_feature_columns_are_spread_from_the_model_arrays() -> None:
    """feature_N_value / _quality / _source come from element N of the model's arrays (the value
    NULL where the source is 'default'); helper arrays are never written."""
    spec = TABLES["nba_predictions.ml_feature_store_v2"]
    query = sqlglot.parse_one(
        "SELECT DATE '2024-01-02' AS game_date, 'p' AS player_lookup, 'g' AS game_id, "
        "1.0 AS feature_quality_score, 'mixed' AS data_source, "
        "[1.5, 2.5] AS features, [100.0, 40.0] AS _feature_quality, "
        "['phase4', 'default'] AS _feature_source",
        read="bigquery",
    )
    roles = outputs.roles(spec.name, query)
    assert {"feature_0_value", "feature_1_quality", "feature_1_source"} <= set(roles.computed)
    tree = outputs.write_select(spec.name, query)
    assert not any(outputs.is_helper(n) for n in tree.named_selects)
    wanted = ("feature_0_value", "feature_1_value", "feature_1_quality", "feature_1_source")
    wanted += ("feature_names",)
    # Just these columns, without the source-tracking joins (they read warehouse tables).
    tree.set("joins", None)
    tree.set("expressions", [e for e in tree.expressions if e.alias in wanted])
    sql = f"SELECT {', '.join(wanted)} FROM ({tree.sql(dialect='duckdb')})"
    row = duckdb.sql(sql).fetchall()[0]
    assert row[:4] == (1.5, None, 40.0, "default")
    assert row[4] == spec.contract.extra["feature_names"]


def test_an_unexplained_required_column_is_refused() -> None:
    spec = TABLES["nba_analytics.team_offense_game_summary"]
    query = sqlglot.parse_one("SELECT 'x' AS game_id", read="bigquery")
    with pytest.raises(ValueError, match=r"game_date \(REQUIRED\)"):
        outputs.roles(spec.name, query)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.table)
def test_write_select_has_every_live_column_in_production_order(spec: TableSpec) -> None:
    tree = load_model(spec, {d: d for d in LOGICAL_DATASETS})
    assert isinstance(tree, exp.Query)
    assert tuple(tree.named_selects) == spec.contract.column_names


@pytest.mark.parametrize(
    ("value", "column", "stored"),
    [
        ("101.23456", "offensive_rating", "101.23"),  # NUMERIC(6,2)
        ("100.125", "offensive_rating", "100.13"),  # an exact tie: half away from zero
        ("-0.0625", "ts_pct", "-0.063"),  # NUMERIC(5,3)
        ("97.6", "pace", "97.6"),  # NUMERIC(5,1)
    ],
)
def test_numeric_columns_are_stored_rounded_to_their_scale(value, column, stored) -> None:
    col = contract.table("nba_analytics.team_offense_game_summary").column(column)
    literal = exp.cast(exp.Literal.number(value), exp.DataType.build("FLOAT64", dialect="bigquery"))
    sql = exp.select(outputs.as_stored(literal, col).as_("v")).sql(dialect="duckdb")
    assert str(duckdb.sql(sql).fetchall()[0][0]) == stored


def test_repeated_columns_are_written_as_empty_arrays() -> None:
    col = contract.table("nba_analytics.team_offense_game_summary").column("quality_issues")
    sql = exp.select(outputs.empty_value(col).as_("v")).sql(dialect="duckdb")
    assert duckdb.sql(sql).fetchall() == [([],)]


def _duck(type_sql: str) -> str:
    """DuckDB's canonical spelling of a type (VARCHAR for TEXT, …)."""
    return str(duckdb.sql(f"SELECT CAST(NULL AS {type_sql})").types[0])


def test_duckdb_tables_are_production_tables(phase2_template: Path) -> None:
    con = duckdb.connect(str(phase2_template), read_only=True)
    try:
        for spec in SPECS:
            got = con.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [spec.dataset, spec.table],
            ).fetchall()
            want = [
                (c.name, _duck(c.data_type.sql(dialect="duckdb")), "NO" if c.required else "YES")
                for c in spec.contract.live_columns
            ]
            assert [(n, _duck(t), nl) for n, t, nl in got] == want, spec.name
    finally:
        con.close()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.table)
def test_tracked_sources_are_what_the_model_reads(spec: TableSpec) -> None:
    """source_<prefix>_* describe an input the model reads, or a raw fallback production's
    dependency check tracks (docs/production-contract.md); never a table the backfill writes
    that the model does not read (a row would then depend on whether that table happened to
    be written first)."""
    query = splice_views(load_query(spec))  # the schedule is read through shared pieces
    read = {f"{t.db}.{t.name}" for t in query.find_all(exp.Table) if t.db}
    written = {s.table for s in TABLES.values()}
    for src in outputs.sources(spec.name).values():
        assert src.table in read or src.table not in written, (spec.table, src.prefix)
        assert any(c.startswith(f"source_{src.prefix}_") for c in spec.contract.column_names)
