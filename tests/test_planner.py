import datetime as dt

import pytest

from nba_backfill.calendar import is_bootstrap, season_year
from nba_backfill.catalog import TABLES, TDGS, TOGS
from nba_backfill.errors import UsageError
from nba_backfill.planner import check_range, chunk_dates, is_complete
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
    assert is_bootstrap(D(2021, 10, 19)) and is_bootstrap(D(2021, 11, 1))
    assert not is_bootstrap(D(2021, 11, 2))
    assert is_bootstrap(D(2025, 10, 21)) and not is_bootstrap(D(2025, 11, 4))
    assert season_year(D(2022, 3, 1)) == 2021 and season_year(D(2022, 10, 30)) == 2022
