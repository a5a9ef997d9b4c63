"""The destructive-command guard (nba_backfill/safety.py): which targets a seed may empty,
and the bench, which must never write BigQuery. The guard on the emulator, through the real
CLI, is in tests/warehouse/test_seed_guard.py."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from devtools.seeding import SEEDED_TABLES
from nba_backfill.catalog import TABLES, TOGS
from nba_backfill.errors import UsageError
from nba_backfill.phase2 import GAMEBOOK
from nba_backfill.safety import CONFIRM_SETTING, guard_destructive, production_names
from nba_backfill.settings import DatasetNames, Settings, env_var, load_settings

PROD_PROJECT, _ = production_names()
SANDBOX_PROJECT = "nba-backfill-sandbox"
SANDBOX_DATASETS = {d: f"{d}_sandbox" for d in DatasetNames.model_fields}
RAW_ONLY = [GAMEBOOK.name]


@pytest.fixture(autouse=True)
def _no_warehouse_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each case says its whole target: nothing from the caller's environment."""
    for key in list(os.environ):
        if key.startswith(env_var("warehouse") + "__"):
            monkeypatch.delenv(key)


def _settings(**warehouse: Any) -> Settings:
    return load_settings(warehouse=warehouse)


BQ = {"backend": "bigquery"}
# (case, warehouse settings, tables, refusal text or None when allowed)
CASES: list[tuple[str, dict[str, Any], list[str], str | None]] = [
    ("duckdb default", {}, list(SEEDED_TABLES), None),
    ("duckdb, production names", {"project": PROD_PROJECT}, list(SEEDED_TABLES), None),
    ("production names", BQ, list(SEEDED_TABLES), "production tables"),
    (
        "production names, confirmed",
        {**BQ, "allow_destructive": PROD_PROJECT},
        list(SEEDED_TABLES),
        "production tables",
    ),
    (
        "production names, another project confirmed",
        {**BQ, "allow_destructive": SANDBOX_PROJECT},
        list(SEEDED_TABLES),
        "production tables",
    ),
    ("sandbox project, unconfirmed", {**BQ, "project": SANDBOX_PROJECT}, RAW_ONLY, CONFIRM_SETTING),
    (
        "sandbox project, production confirmed",
        {**BQ, "project": SANDBOX_PROJECT, "allow_destructive": PROD_PROJECT},
        RAW_ONLY,
        f"(it names {PROD_PROJECT})",
    ),
    (
        "sandbox project, confirmed",
        {**BQ, "project": SANDBOX_PROJECT, "allow_destructive": SANDBOX_PROJECT},
        list(SEEDED_TABLES),
        None,
    ),
    (
        "sandbox datasets, unconfirmed",
        {**BQ, "datasets": SANDBOX_DATASETS},
        list(SEEDED_TABLES),
        CONFIRM_SETTING,
    ),
    (
        "sandbox datasets, confirmed",
        {**BQ, "datasets": SANDBOX_DATASETS, "allow_destructive": PROD_PROJECT},
        list(SEEDED_TABLES),
        None,
    ),
    (
        # nba_raw moved to a sandbox, nba_analytics left at production's name: a seed would
        # still empty production's Phase 3 tables.
        "one dataset renamed, confirmed, all tables",
        {**BQ, "datasets": {"nba_raw": "nba_raw_sandbox"}, "allow_destructive": PROD_PROJECT},
        list(SEEDED_TABLES),
        "nba_analytics.player_game_summary",
    ),
    (
        "one dataset renamed, confirmed, its tables only",
        {**BQ, "datasets": {"nba_raw": "nba_raw_sandbox"}, "allow_destructive": PROD_PROJECT},
        RAW_ONLY,
        None,
    ),
    (
        # Another production dataset's name is production too.
        "dataset renamed to another production dataset",
        {**BQ, "datasets": {"nba_raw": "nba_analytics"}, "allow_destructive": PROD_PROJECT},
        RAW_ONLY,
        "production tables nba_analytics.nbac_gamebook_player_stats",
    ),
]


@pytest.mark.parametrize(
    ("warehouse", "tables", "refusal"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_guard_decides_from_names_and_confirmation(
    warehouse: dict[str, Any], tables: list[str], refusal: str | None
) -> None:
    settings = _settings(**warehouse)
    if refusal is None:
        guard_destructive(settings, "seed", tables)
        return
    with pytest.raises(UsageError) as info:
        guard_destructive(settings, "seed", tables)
    message = str(info.value)
    assert "\n" not in message
    assert refusal in message, message
    assert f"project {settings.warehouse.project}" in message, message


@pytest.mark.parametrize(
    "warehouse",
    [BQ, {**BQ, "project": SANDBOX_PROJECT, "datasets": SANDBOX_DATASETS}],
    ids=["production", "sandbox"],
)
def test_refusal_names_every_physical_table(warehouse: dict[str, Any]) -> None:
    settings = _settings(**warehouse)
    with pytest.raises(UsageError) as info:
        guard_destructive(settings, "seed", SEEDED_TABLES)
    message = str(info.value)
    for name in SEEDED_TABLES:
        dataset, _, table = name.partition(".")
        assert f"{settings.warehouse.datasets.physical(dataset)}.{table}" in message


def test_an_open_duckdb_adapter_is_a_local_file_whatever_the_settings_say() -> None:
    guard_destructive(_settings(**BQ), "seed", SEEDED_TABLES, backend="duckdb")
    with pytest.raises(UsageError, match="production tables"):
        guard_destructive(_settings(), "seed", SEEDED_TABLES, backend="bigquery")


def test_invalid_confirmation_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CONFIRM_SETTING, "Not A Project; DROP")
    with pytest.raises(UsageError, match=CONFIRM_SETTING):
        load_settings()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_bench_worker_writes_its_duckdb_copy_even_with_bigquery_in_the_environment(
    phase2_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bench measures copies of a DuckDB file; a BigQuery backend exported in the shell
    (here one that answers nowhere) must not become the warehouse its strategies write."""
    from bench.strategies import RUNBOOK
    from bench.worker import run
    from nba_backfill.warehouse.duckdb import DuckDBWarehouse

    db = tmp_path / "copy.duckdb"
    shutil.copy(phase2_template, db)
    monkeypatch.setenv(env_var("warehouse", "backend"), "bigquery")
    monkeypatch.setenv(
        env_var("warehouse", "emulator_endpoint"), f"http://127.0.0.1:{_closed_port()}"
    )
    day = "2021-11-20"
    result = run({"strategy": RUNBOOK, "label": "pinned", "start": day, "end": day, "db": str(db)})
    assert result["pairs"] > 0
    wh = DuckDBWarehouse(load_settings(warehouse={"backend": "duckdb", "duckdb_path": str(db)}))
    try:
        on = dt.date.fromisoformat(day)
        assert wh.row_count(TABLES[TOGS], on, on) > 0
    finally:
        wh.close()
