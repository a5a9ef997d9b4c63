"""Every aggregate in the table SQL sums exact values (integers or NUMERIC), never FLOAT64.

A FLOAT64 SUM / AVG / STDDEV depends on the order rows arrive in — which changes with the
chunking, a rerun, the join order the engine picks and its threads — and the last bit can cross a
ROUND(…, 4): a rerun would then rewrite a feature with a different 4th decimal (seen once in a
chaos run: 0.3412 vs 0.3413). So float inputs are cast to NUMERIC(38, 9) before they are summed.
The types come from sqlglot's annotation of each file against the warehouse's own columns."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from nba_backfill.catalog import TABLES, TableSpec
from nba_backfill.sqlfiles import LOGICAL_DATASETS, load_model, splice_views

ORDER_SENSITIVE = (exp.Sum, exp.Avg, exp.Stddev, exp.StddevSamp, exp.StddevPop, exp.Variance)
FLOATS = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT}


@pytest.fixture(scope="module")
def schema(phase2_template: Path) -> MappingSchema:
    con = duckdb.connect(str(phase2_template), read_only=True)
    try:
        cols = con.execute(
            "SELECT table_schema, table_name, column_name, data_type "
            "FROM information_schema.columns"
        ).fetchall()
    finally:
        con.close()
    mapping: dict[str, dict[str, dict[str, str]]] = {}
    for dataset, table, column, type_ in cols:
        mapping.setdefault(dataset, {}).setdefault(table, {})[column] = type_
    return MappingSchema(mapping, dialect="duckdb")


def aggregates(tree: exp.Expr, schema: MappingSchema) -> list[tuple[str, exp.DataType]]:
    """Each order-sensitive aggregate of a BigQuery SELECT with the type of what it sums."""
    duck = exp.maybe_parse(tree.sql(dialect="duckdb"), dialect="duckdb")
    typed = annotate_types(qualify(duck, schema=schema, dialect="duckdb"), schema=schema)
    return [(agg.sql("duckdb"), agg.this.type) for agg in typed.find_all(*ORDER_SENSITIVE)]


def floats(found: list[tuple[str, exp.DataType]]) -> list[str]:
    assert all(t is not None and not t.is_type(exp.DataType.Type.UNKNOWN) for _, t in found), found
    return [sql for sql, t in found if t.this in FLOATS]


@pytest.mark.parametrize("spec", list(TABLES.values()), ids=lambda s: s.table)
def test_no_aggregate_sums_floats(spec: TableSpec, schema: MappingSchema) -> None:
    found = floats(aggregates(load_model(spec, {d: d for d in LOGICAL_DATASETS}), schema))
    assert not found, f"{spec.table}: FLOAT64 aggregated (cast it to NUMERIC(38, 9)): {found}"


def test_the_check_sees_a_float_aggregate(schema: MappingSchema) -> None:
    """With a FLOAT64 cast in place of its NUMERIC one, player_composite_factors' usage average
    is flagged (a pass means something; production stores usage_rate as NUMERIC already)."""
    text = TABLES["nba_precompute.player_composite_factors"].sql_path.read_text()
    cast = "CAST(usage_rate AS NUMERIC(38, 9))"
    assert text.count(cast) == 2
    found = floats(
        aggregates(
            splice_views(
                sqlglot.parse_one(text.replace(cast, "CAST(usage_rate AS FLOAT64)"), "bigquery")
            ),
            schema,
        )
    )
    assert len(found) == 2 and all("usage_rate" in sql for sql in found), found


STATISTICS = (exp.Stddev, exp.StddevSamp, exp.StddevPop, exp.Variance, exp.VariancePop)


@pytest.mark.parametrize("spec", list(TABLES.values()), ids=lambda s: s.table)
def test_no_floating_point_statistics(spec: TableSpec) -> None:
    """STDDEV / VARIANCE accumulate in floating point whatever the input type (integers
    included), so their last bit depends on row order: a rerun in other chunks would write other
    bits (seen: a feature's 16th digit). Compute them from exact sums instead."""
    tree = load_model(spec, {d: d for d in LOGICAL_DATASETS})
    found = [s.sql("bigquery") for s in tree.find_all(*STATISTICS)]
    assert not found, f"{spec.table}: use exact sums instead of {found}"
