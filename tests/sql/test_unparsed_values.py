"""Issue 12, unparseable values: a gamebook minutes value that does not parse is never turned
into a plausible number. player_game_summary writes minutes_played NULL for such an active
player (production's _parse_minutes_to_decimal returns None), the unparsed_minutes audit
returns the row, validation reports it for the table with its date, and ML readiness counts
the player-game (active, scored, no minutes) in its denominator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from nba_backfill import audits, catalog, validation
from nba_backfill.calendar import Openers
from nba_backfill.catalog import PGS, TABLES
from nba_backfill.settings import load_settings
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

from .fixtures import Phase2, Player

DAY = dt.date(2024, 1, 10)
CLEAN = dt.date(2024, 1, 11)

# Active players who scored 9-17 points with minutes the gamebook did not fill in (issue 12's
# cases), seconds out of range and a three-part value (the same kind: "MM:SS" that does not
# parse), next to values that do parse (a plain number of minutes as production accepts it).
BAD = {"blank": "", "dash": "-", "nulled": None, "badsecs": "12:75", "threeparts": "1:2:3"}
GOOD = {"normal": ("30:00", Decimal("30.0")), "spaced": (" 24 : 05", Decimal("24.1"))}
GOOD["plain"] = ("32", Decimal("32.0"))


def messy_phase2() -> Phase2:
    """DAY: a game whose LAL gamebook holds the BAD and GOOD minutes and a DNP; CLEAN: a clean
    game."""
    p2 = Phase2()
    lal = [Player(n, minutes=m, points=9 + 2 * i) for i, (n, m) in enumerate(BAD.items())]
    lal += [Player(n, minutes=m) for n, (m, _) in GOOD.items()]
    lal.append(Player("benched", minutes=None, status="dnp", points=0))
    p2.game(DAY, "BOS", "LAL", players={"LAL": lal, "BOS": [Player("jaysontatum")]})
    p2.game(CLEAN, "BOS", "NYK", players={"NYK": [Player("jalenbrunson")]})
    return p2


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBWarehouse]:
    p2 = messy_phase2()
    path = tmp_path_factory.mktemp("unparsed") / "w.duckdb"
    w = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    p2.load(w)
    w.ensure_tables(list(catalog.PHASE3))
    for spec in catalog.PHASE3:
        w.replace_range(spec, DAY, CLEAN)
    yield w
    w.close()


def _pgs(w: DuckDBWarehouse) -> dict[str, dict[str, object]]:
    got = w.fetch(f"SELECT * FROM {PGS} WHERE game_date BETWEEN @s AND @e", {"s": DAY, "e": CLEAN})
    return {str(r["player_lookup"]): r for r in got}


def test_unparseable_minutes_are_null_not_zero(wh: DuckDBWarehouse) -> None:
    p = _pgs(wh)
    for name in BAD:
        row = p[name]
        assert row["is_active"] is True, name
        assert row["minutes_played"] is None, name
        assert row["usage_rate"] is None, name  # no minutes, no rate
        assert row["starter_flag"] is False, name  # REQUIRED: unknown is not a starter
        assert row["points"] == 9 + 2 * list(BAD).index(name), name  # the box score is kept
    for name, (_, minutes) in GOOD.items():
        assert p[name]["minutes_played"] == minutes, name
        assert p[name]["usage_rate"] is not None, name
    assert p["benched"]["minutes_played"] == Decimal("0.0")  # a DNP did not play: 0


def test_the_audit_returns_each_active_player_game_without_minutes(wh: DuckDBWarehouse) -> None:
    rows = audits.offending_rows(wh, "unparsed_minutes", TABLES[PGS], DAY, CLEAN)
    assert sorted((r["day"], r["player_lookup"]) for r in rows) == [(DAY, n) for n in sorted(BAD)]
    assert audits.rows_by_date(wh, "unparsed_minutes", TABLES[PGS], DAY, CLEAN) == {DAY: 5}
    assert audits.offending_rows(wh, "unparsed_minutes", TABLES[PGS], CLEAN, CLEAN) == []


def test_validation_reports_the_problem_for_the_table_with_its_date(wh: DuckDBWarehouse) -> None:
    check = validation.check_table(wh, TABLES[PGS], DAY, CLEAN, {DAY: 1, CLEAN: 1}, Openers({}))
    assert check.data_problems == {"unparsed_minutes": {DAY: 5}}
    # Reported, not failing: a rerun cannot repair the raw feed; ML readiness counts the rows.
    assert check.warnings == ["unparsed_minutes: 5 rows on 1 date(s): 2024-01-10"]
    assert not [p for p in check.problems if "unparsed" in p]
    assert check.as_dict()["data_problems"] == {"unparsed_minutes": {"2024-01-10": 5}}
    clean = validation.check_table(wh, TABLES[PGS], CLEAN, CLEAN, {CLEAN: 1}, Openers({}))
    assert clean.data_problems == {"unparsed_minutes": {}}
    assert not [p for p in clean.problems if "unparsed" in p]


def test_ml_readiness_counts_scorers_without_minutes_in_its_denominator(
    wh: DuckDBWarehouse,
) -> None:
    # Played on DAY: 3 parsed LAL players + Tatum with usage; 5 scorers without minutes.
    assert audits.usage_rate_counts(wh, TABLES[PGS], DAY, DAY) == (9, 5)
    assert validation.usage_rate_share(wh, DAY, DAY) == pytest.approx(4 / 9)
    assert validation.usage_rate_share(wh, CLEAN, CLEAN) == 1.0


def test_team_context_does_not_count_unparsed_minutes_as_a_game(tmp_path: Path) -> None:
    """upcoming_team_game_context reads gamebook minutes for its starters-out count: a value
    that does not parse is not a game played there either (the same rule)."""
    sql = TABLES["nba_analytics.upcoming_team_game_context"].sql_path.read_text()
    pgs = TABLES[PGS].sql_path.read_text()
    assert "r'^[0-9]+:[0-9]+$'" in sql and "r'^[0-9]+:[0-9]+$'" in pgs
    assert "COALESCE(SAFE_CAST(SPLIT(TRIM(minutes)" not in sql
