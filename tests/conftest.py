"""Shared fixtures: an isolated settings/warehouse per test, a synthetic Phase 2 template built
once per session and copied per test, and one Prefect test server per session."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# The CLI's rich consoles fix their width from COLUMNS when they are created (import time);
# pytest-xdist's workers inherit COLUMNS=80, which would pin every later CliRunner invoke to 80
# columns. Tests that care set COLUMNS per invoke.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "nba_backfill")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
# The synthetic seasons are years older than today: under production's partition expiration
# (30 / 90 days) three Phase 4 tables would skip every date. Tests model a warehouse whose
# operator lifted it; tests/test_expiration.py sets "contract" to test the skipping itself.
os.environ.setdefault("NBA_BACKFILL_WAREHOUSE__DUCKDB_PARTITION_EXPIRATION", "none")

from nba_backfill.settings import Settings, load_settings
from nba_backfill.warehouse import close_shared
from nba_backfill.warehouse.duckdb import DuckDBWarehouse

# The BigQuery emulator's fixtures (bq_emulator, bq_settings, bq_warehouse) for every test
# directory: tests/warehouse uses them, and so does the BigQuery flow test in tests/flows. The
# chaos figures' summary is here too: under xdist only the controller prints it.
pytest_plugins = ["tests.emulator", "tests.chaos.figures"]

# A small slice: the 2021-22 opener through early December (bootstrap + ~5 weeks).
SLICE_START = dt.date(2021, 10, 19)
SLICE_END = dt.date(2021, 12, 5)
SLICE_FINAL_THROUGH = dt.date(2021, 12, 8)


@pytest.fixture(scope="session")
def phase2_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file holding synthetic Phase 2 data (final games through SLICE_FINAL_THROUGH)
    and empty Phase 3/4 tables; tests copy it instead of regenerating."""
    from devtools.synthetic import seed_phase2
    from nba_backfill.catalog import TABLES

    path = tmp_path_factory.mktemp("template") / "phase2.duckdb"
    wh = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(path)}))
    seed_phase2(wh, seed=7, final_through=SLICE_FINAL_THROUGH)
    wh.ensure_tables(list(TABLES.values()))
    wh.close()
    return path


@pytest.fixture
def local_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings (env-driven, as the flows read them) pointing at a per-test DuckDB file."""
    db = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("NBA_BACKFILL_WAREHOUSE__DUCKDB_PATH", str(db))
    monkeypatch.setenv("NBA_BACKFILL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NBA_BACKFILL_RETRY__INITIAL_WAIT_SECONDS", "0.01")
    monkeypatch.setenv("NBA_BACKFILL_RETRY__JITTER_SECONDS", "0")
    close_shared()
    yield load_settings()
    close_shared()


@pytest.fixture
def seeded(local_settings: Settings, phase2_template: Path) -> Settings:
    """``local_settings`` whose warehouse starts as a copy of the Phase 2 template."""
    shutil.copy(phase2_template, local_settings.warehouse.duckdb_path)
    return local_settings


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=600):
        yield


# The end-to-end tier (`make test-slow`, run by CI after `make test`): whole backfills on the
# BigQuery emulator, deployments under a process worker, SIGKILLs and their resumes, the chaos
# scenarios on the slice. Each takes minutes; `make test` keeps the rest (14.7 min on an idle
# 2-core machine, 27.6 min on a shared one, against a ~15 min budget: `--durations=25` names
# what to cut next).
SLOW_MODULES = (
    "tests/chaos/",
    "tests/cli/test_resume.py",
    "tests/deployments/test_deployments_e2e.py",
    "tests/flows/test_backfill_bigquery.py",
    "tests/flows/test_cancel_deployment.py",
    "tests/flows/test_gate_flow.py",
    "tests/flows/test_modes_flow.py",
    "tests/producers/test_producer_bigquery.py",
    "tests/producers/test_producer_interrupt.py",
    "tests/producers/test_producer_worker.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups for pytest-xdist's ``--dist loadgroup`` (``make test`` runs ``-n 2``): each
    module stays on one worker, so its module-scoped fixtures are built once. Session fixtures
    are built once per worker: each worker has its own Prefect test server and emulator (free
    ports, temporary databases), and the chaos modules' clean ``fast`` run (~30 s of CPU) is
    made at most twice rather than keeping all of tests/chaos (~10 min) on one worker."""
    for item in items:
        if item.nodeid.startswith(SLOW_MODULES) and not item.get_closest_marker("chaos"):
            item.add_marker(pytest.mark.slow)
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
