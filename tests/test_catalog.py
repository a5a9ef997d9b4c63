import subprocess
import sys

import pytest

from nba_backfill.catalog import (
    AUDITS_DIR,
    PHASE3,
    PHASE4,
    PHASE4_GROUPS,
    SQL_DIR,
    TABLES,
    downstream_of,
    get_table,
    resolve_tables,
)
from nba_backfill.errors import UsageError
from nba_backfill.sqlfiles import READS_DIR


def test_every_table_has_a_sql_file_and_every_file_a_table():
    # sql/audits/ and sql/reads/ hold queries for any table, not models.
    shared = {AUDITS_DIR, READS_DIR}
    files = {f"{p.parent.name}.{p.stem}" for p in SQL_DIR.glob("*/*.sql") if p.parent not in shared}
    assert files == set(TABLES)


def test_ten_tables_in_phases_and_groups():
    assert len(PHASE3) == 5 and len(PHASE4) == 5
    assert [[t.table for t in g] for g in PHASE4_GROUPS] == [
        ["team_defense_zone_analysis", "player_shot_zone_analysis"],
        ["player_daily_cache", "player_composite_factors"],
        ["ml_feature_store_v2"],
    ]
    assert get_table("ml_feature_store_v2").dataset == "nba_predictions"


def test_dependencies_point_backwards_in_catalog_order():
    order = list(TABLES)
    for spec in TABLES.values():
        for dep in spec.depends_on:
            assert order.index(dep.table) < order.index(spec.name), (spec.name, dep.table)


def test_downstream_closure():
    down = downstream_of("nba_analytics.team_offense_game_summary")
    assert "nba_analytics.player_game_summary" in down
    assert "nba_predictions.ml_feature_store_v2" in down
    assert "nba_analytics.upcoming_team_game_context" not in down


@pytest.mark.parametrize("bad", ["nope", "nba_analytics.x", "x; DROP TABLE y", ""])
def test_unknown_tables_are_usage_errors(bad):
    with pytest.raises(UsageError, match="unknown table"):
        get_table(bad)


def test_empty_table_list_is_a_usage_error():
    with pytest.raises(UsageError, match="empty"):
        resolve_tables([])


def test_core_never_imports_prefect():
    code = (
        "import pkgutil, importlib, sys, nba_backfill\n"
        "for m in pkgutil.walk_packages(nba_backfill.__path__, 'nba_backfill.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m == 'prefect' or m.startswith('prefect.')]\n"
        "assert not bad, bad[:5]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
