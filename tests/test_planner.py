import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nba_backfill.calendar import BOOTSTRAP_DAYS, Openers, season_year
from nba_backfill.catalog import TABLES, TDGS, TOGS
from nba_backfill.errors import UsageError
from nba_backfill.planner import check_range, chunk_dates
from nba_backfill.readiness import is_complete
from nba_backfill.warehouse.base import DateProfile

D = dt.date


def days(start: dt.date, n: int, step: int = 1) -> list[dt.date]:
    return [start + dt.timedelta(days=i * step) for i in range(n)]


def test_chunks_are_consecutive_expected_dates_of_at_most_n_days():
    expected = days(D(2024, 1, 1), 20, step=2)  # a game every other day
    to_fill = expected[:6] + expected[8:]
    chunks = chunk_dates(TOGS, to_fill, expected, chunk_days=7)
    assert [(c.start, c.end) for c in chunks] == [
        (D(2024, 1, 1), D(2024, 1, 7)),
        (D(2024, 1, 9), D(2024, 1, 11)),  # run broken by the complete dates Jan 13, 15
        (D(2024, 1, 17), D(2024, 1, 23)),
        (D(2024, 1, 25), D(2024, 1, 31)),
        (D(2024, 2, 2), D(2024, 2, 8)),
    ]
    assert sorted(d for c in chunks for d in c.dates) == sorted(to_fill)
    assert all((c.end - c.start).days < 7 for c in chunks)


@pytest.mark.parametrize("size", [0, -3])
def test_chunk_size_must_be_positive(size):
    with pytest.raises(UsageError, match="chunk size"):
        chunk_dates(TOGS, [], [], size)


def test_range_checks():
    bounds = (D(2021, 10, 19), D(2026, 1, 3))
    check_range(D(2022, 1, 1), D(2022, 2, 1), bounds)
    with pytest.raises(UsageError, match="before start"):
        check_range(D(2022, 2, 1), D(2022, 1, 1), bounds)
    with pytest.raises(UsageError, match="outside"):
        check_range(D(2030, 1, 1), D(2030, 2, 1), bounds)
    with pytest.raises(UsageError, match="seed"):
        check_range(D(2022, 1, 1), D(2022, 2, 1), None)


def test_completeness_counts_teams_not_just_rows():
    togs, pgs = TABLES[TOGS], TABLES["nba_analytics.player_game_summary"]
    assert is_complete(togs, DateProfile(16, 16), games=8)
    assert not is_complete(togs, DateProfile(2, 2), games=8)  # 2 of 16 teams saved
    assert not is_complete(togs, DateProfile(17, 16), games=8)  # a duplicate row
    assert not is_complete(togs, None, games=8)
    assert is_complete(pgs, DateProfile(300, 16), games=8)
    assert not is_complete(pgs, DateProfile(1, 1), games=8)  # 1 player of 187
    assert TABLES[TDGS].critical_threshold == pytest.approx(915 / 917)


def test_bootstrap_and_season_year():
    openers = Openers({2021: D(2021, 10, 19), 2025: D(2025, 10, 21)})
    assert openers.is_bootstrap(D(2021, 10, 19)) and openers.is_bootstrap(D(2021, 11, 1))
    assert not openers.is_bootstrap(D(2021, 11, 2))
    assert openers.is_bootstrap(D(2025, 10, 21)) and not openers.is_bootstrap(D(2025, 11, 4))
    assert not openers.is_bootstrap(D(2023, 10, 24))  # a season the schedule does not hold
    assert len(openers.bootstrap_days()) == 2 * BOOTSTRAP_DAYS
    assert season_year(D(2022, 3, 1)) == 2021 and season_year(D(2022, 10, 30)) == 2022


# --- openers and bootstrap days from the schedule -------------------------------------------
PLAN_END = D(2026, 11, 28)


@pytest.fixture(scope="module")
def six_seasons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse whose schedule holds the synthetic 2021-22 .. 2026-27 seasons, final
    through PLAN_END (the 2026-27 season is 40 days old). Openers and bootstrap days come from
    the schedule alone, so only it is loaded: the other Phase 2 tables (1.5 M play-by-play
    rows) exist but stay empty — loading them made this fixture cost ~90 s."""
    from devtools.synthetic import generate
    from nba_backfill.phase2 import RAW_TABLES
    from nba_backfill.settings import load_settings
    from nba_backfill.warehouse.duckdb import DuckDBWarehouse

    path = tmp_path_factory.mktemp("six") / "w.duckdb"
    wh = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    try:
        data = generate(7, PLAN_END)
        wh.ensure_raw_tables(RAW_TABLES)
        schedule = next(t for t in RAW_TABLES if t.name == "nba_raw.nbac_schedule")
        wh.load_raw(schedule, data[schedule.name])
        wh.ensure_tables(list(TABLES.values()))  # as `seed` does: a run writes existing tables
    finally:
        wh.close()
    return path


def test_openers_are_each_seasons_first_regular_season_game(six_seasons: Path) -> None:
    from devtools.synthetic import SYNTHETIC_OPENERS
    from nba_backfill.settings import load_settings
    from nba_backfill.warehouse.duckdb import DuckDBWarehouse

    wh = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(six_seasons)}), read_only=True)
    try:
        assert dict(wh.season_openers().by_season) == SYNTHETIC_OPENERS
    finally:
        wh.close()


def test_plan_skips_the_bootstrap_days_of_every_season_in_the_schedule(
    six_seasons: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`plan --end 2026-11-28` skips exactly the 2026-27 season's first 14 days (opener
    2026-10-20, read from the schedule), and the five older seasons still skip theirs."""
    from cli.app import app
    from nba_backfill.warehouse import close_shared

    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__DUCKDB_PATH", str(six_seasons))
    monkeypatch.setenv("NBA_BACKFILL_HOME", str(six_seasons.parent / "home"))
    close_shared()
    try:
        res = CliRunner().invoke(app, ["plan", "--end", PLAN_END.isoformat(), "--json"])
    finally:
        close_shared()
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)
    assert plan["start"] == "2021-10-19"
    openers = [D(2021, 10, 19), D(2022, 10, 18), D(2023, 10, 24), D(2024, 10, 22), D(2025, 10, 21)]
    older = {o + dt.timedelta(days=i) for o in openers for i in range(14)}
    new_season = {D(2026, 10, 20) + dt.timedelta(days=i) for i in range(14)}
    for name, table in plan["tables"].items():
        skipped = {D.fromisoformat(d) for d, why in table["skipped"].items() if "bootstrap" in why}
        if TABLES[name].phase == 3:
            assert skipped == set(), name
            continue
        assert {d for d in skipped if d >= D(2026, 10, 1)} == new_season, name
        assert {d for d in skipped if d < D(2026, 10, 1)} == older, name
