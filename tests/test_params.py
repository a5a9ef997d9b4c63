"""Run parameters are validated once, when a RunParams is built: every entry (CLI, flows,
hooks, a rerun's own RunParams) gets the same one-line UsageError, and the bounds are the
settings' bounds."""

from __future__ import annotations

import datetime as dt

import pytest

from nba_backfill.catalog import PHASE3, TOGS
from nba_backfill.errors import UsageError
from nba_backfill.params import RerunParams, RunParams, parse_phase, resolve_params
from nba_backfill.planner import chunk_dates
from nba_backfill.settings import CHUNK_DAYS_BOUNDS, MAX_CONCURRENCY_BOUNDS, load_settings

D = dt.date
GOOD = {
    "start": D(2021, 10, 19),
    "end": D(2021, 11, 1),
    "tables": None,
    "chunk_days": 7,
    "max_concurrency": 2,
}

BAD: list[tuple[dict[str, object], str]] = [
    ({"start": D(2021, 11, 2)}, "end date 2021-11-01 is before start date 2021-11-02"),
    ({"chunk_days": 0}, "chunk size must be at least 1 day, got 0"),
    ({"chunk_days": 367}, "chunk size must be at most 366 days, got 367"),
    ({"max_concurrency": 0}, "max concurrency must be at least 1, got 0"),
    ({"max_concurrency": 65}, "max concurrency must be at most 64, got 65"),
    ({"tables": ["no_such_table"]}, "unknown table 'no_such_table'"),
    ({"tables": []}, "the table list is empty"),
]


@pytest.mark.parametrize(("change", "needle"), BAD, ids=[repr(c) for c, _ in BAD])
def test_a_run_params_cannot_be_built_invalid(change: dict[str, object], needle: str) -> None:
    with pytest.raises(UsageError) as exc:
        RunParams(**{**GOOD, **change})  # type: ignore[arg-type]
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_tables_are_resolved_to_catalog_names_in_catalog_order() -> None:
    p = RunParams(**{**GOOD, "tables": ["player_game_summary", TOGS]})  # type: ignore[arg-type]
    assert p.tables == [TOGS, "nba_analytics.player_game_summary"]
    assert RunParams(**{**GOOD, "tables": p.tables}) == p  # idempotent: a flow may rebuild it
    assert p.phase_tables(4) == []


def test_resolving_raw_values_builds_the_same_model() -> None:
    settings = load_settings()
    raw = resolve_params(
        settings, "2021-10-19", "2021-11-01", "team_offense_game_summary", "7", "2"
    )
    assert raw == RunParams(**{**GOOD, "tables": [TOGS]})  # type: ignore[arg-type]
    default = resolve_params(settings)
    assert (default.start, default.end, default.chunk_days) == (
        settings.run.start_date,
        settings.run.end_date,
        settings.run.chunk_days,
    )


@pytest.mark.parametrize(
    ("field", "bounds"),
    [("chunk_days", CHUNK_DAYS_BOUNDS), ("max_concurrency", MAX_CONCURRENCY_BOUNDS)],
)
def test_the_bounds_are_the_settings_bounds(field: str, bounds: tuple[int, int]) -> None:
    lo, hi = bounds
    for ok in (lo, hi):
        assert getattr(RunParams(**{**GOOD, field: ok}), field) == ok  # type: ignore[arg-type]
        assert getattr(load_settings(run={field: ok}).run, field) == ok
    for bad in (lo - 1, hi + 1):
        with pytest.raises(UsageError):
            RunParams(**{**GOOD, field: bad})  # type: ignore[arg-type]
        with pytest.raises(UsageError, match=f"run.{field}"):
            load_settings(run={field: bad})


def test_chunking_refuses_what_run_params_refuse() -> None:
    with pytest.raises(UsageError, match="at most 366 days"):
        chunk_dates(TOGS, [], [], CHUNK_DAYS_BOUNDS[1] + 1)


def test_settings_refuse_a_reversed_default_range_with_the_same_rule() -> None:
    with pytest.raises(UsageError) as exc:
        load_settings(run={"start_date": "2022-01-02", "end_date": "2022-01-01"})
    assert "end_date 2022-01-01 is before start_date 2022-01-02" in str(exc.value)
    assert "NBA_BACKFILL_RUN" in str(exc.value)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"lookback_days": 0}, "lookback days must be at least 1, got 0"),
        ({"chunk_days": 0}, "chunk size must be at least 1 day, got 0"),
        ({"max_concurrency": 100}, "max concurrency must be at most 64"),
    ],
)
def test_rerun_params_cannot_be_built_invalid(change: dict[str, object], needle: str) -> None:
    good = {"lookback_days": 7, "chunk_days": 7, "max_concurrency": 2, "since": None}
    with pytest.raises(UsageError, match=needle):
        RerunParams(**{**good, **change})  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "phase"), [(3, 3), ("4", 4)])
def test_phase_is_3_or_4(value: object, phase: int) -> None:
    assert parse_phase(value) == phase


@pytest.mark.parametrize("value", [5, "2", None, "three"])
def test_other_phases_are_refused(value: object) -> None:
    with pytest.raises(UsageError):
        parse_phase(value)


@pytest.mark.parametrize(
    ("tables", "skip_phase4", "to_phase4", "gate"),
    [
        (None, False, True, None),  # everything: the gate covers every Phase 3 table
        (None, True, False, "all phase 3"),  # no Phase 4: the Phase 3 tables the run fills
        (["team_offense_game_summary"], False, False, ["nba_analytics.team_offense_game_summary"]),
        (["ml_feature_store_v2"], False, True, None),  # Phase 4 reads every Phase 3 table
        (["ml_feature_store_v2"], True, False, []),  # nothing of Phase 3 to check
    ],
)
def test_the_checks_that_decide_a_run_cover_what_it_fills(
    tables: list[str] | None, skip_phase4: bool, to_phase4: bool, gate: object
) -> None:
    p = RunParams(dt.date(2021, 11, 1), dt.date(2021, 11, 7), tables, 7, 2, skip_phase4)
    assert p.to_phase4 is to_phase4
    expected = [t.name for t in PHASE3] if gate == "all phase 3" else gate
    assert p.gate_tables() == expected


@pytest.mark.parametrize(("value", "fast"), [(True, True), ("true", True), ("0", False)])
def test_fail_fast_comes_as_a_bool_or_its_spelling(value: object, fast: bool) -> None:
    p = resolve_params(load_settings(), "2021-11-01", "2021-11-07", fail_fast=value)  # type: ignore[arg-type]
    assert p.fail_fast is fast
    assert resolve_params(load_settings(), "2021-11-01", "2021-11-07").fail_fast is False


def test_a_bad_fail_fast_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="fail_fast"):
        resolve_params(load_settings(), "2021-11-01", "2021-11-07", fail_fast="maybe")
