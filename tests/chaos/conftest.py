"""Chaos scenarios: a warehouse's starting state, the range to backfill, and what a clean run
(no faults) leaves — the reference every chaos run must match row for row (:func:`same_as_clean`).

* ``fast`` (``make test``): the synthetic slice 2021-10-19 → 2021-12-05, Phase 3 and 4 empty.
* ``full`` (``make chaos``, marked ``chaos``): the standard range 2021-10-19 → 2026-01-03 from
  the runbook's starting point (``nba-backfill seed --state seeds``: Phase 3 pre-filled except
  its known gaps, Phase 4 empty) — exactly what ``make run`` does.

Each scenario's clean run happens once per session on a copy of its starting state. The tests
record their figures (faults injected, retries, dates failed / filled, duplicates, time to
recover) in :data:`FIGURES`; tests/chaos/figures.py prints them at the end of the session and
writes them to ``$NBA_BACKFILL_HOME/chaos/figures-<scenario>.json`` (default ``.nba-backfill``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bench.checksum import checksum
from nba_backfill.catalog import PHASE3, PHASE4
from nba_backfill.settings import Settings, load_settings
from nba_backfill.validation import validate
from nba_backfill.warehouse import Warehouse, close_shared, shared_warehouse
from nba_backfill.warehouse.duckdb import DuckDBWarehouse
from tests.chaos.figures import FIGURES, FIGURES_DIR  # noqa: F401 (where the figures go)
from tests.conftest import SLICE_END, SLICE_START

REPO = Path(__file__).resolve().parents[2]
SPECS = [*PHASE3, *PHASE4]


@dataclass
class Scenario:
    name: str
    start: dt.date
    end: dt.date
    chunk_days: int
    max_concurrency: int
    template: Path  # the warehouse before any backfill
    clean_db: Path | None = None  # the warehouse after a clean run
    clean_seconds: float = 0.0
    filled: dict[str, int] = field(default_factory=dict)  # table-dates the clean run filled

    def args(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "chunk_days": self.chunk_days,
            "max_concurrency": self.max_concurrency,
        }


def duplicate_keys(wh: Warehouse, start: dt.date, end: dt.date) -> int:
    return sum(wh.key_audit(s, start, end).duplicate_keys for s in SPECS)


def record(scenario: Scenario, test: str, **figures: Any) -> None:
    FIGURES.append({"scenario": scenario.name, "test": test, **figures})


def env_for(path: Path, home: Path) -> dict[str, str]:
    """The settings a chaos run reads (the flows read them from the environment): its own
    warehouse file and state folder, and the real retry policy with its waits shortened."""
    return {
        "NBA_BACKFILL_WAREHOUSE__DUCKDB_PATH": str(path),
        "NBA_BACKFILL_HOME": str(home),
        "NBA_BACKFILL_RETRY__INITIAL_WAIT_SECONDS": "0.01",
        "NBA_BACKFILL_RETRY__JITTER_SECONDS": "0",
    }


def _clean_run(scenario: Scenario, workdir: Path) -> None:
    """The reference: the flow with no fault on a copy of the starting state."""
    from flows.backfill import backfill

    db = workdir / "clean.duckdb"
    shutil.copy(scenario.template, db)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env_for(db, workdir / "home").items():
            mp.setenv(key, value)
        mp.delenv("NBA_BACKFILL_FAULTS__PERMANENT", raising=False)
        close_shared()
        started = time.perf_counter()
        state = backfill(**scenario.args(), return_state=True)
        scenario.clean_seconds = time.perf_counter() - started
        assert state.is_completed(), state.message
        scenario.filled = {r["table"]: r["filled"] for r in state.result()["tables"]}
        wh = shared_warehouse()
        for phase in (3, 4):
            report = validate(wh, phase, scenario.start, scenario.end)
            assert report.ok, report.problems
        assert duplicate_keys(wh, scenario.start, scenario.end) == 0
        close_shared()
    scenario.clean_db = db


def same_as_clean(
    scenario: Scenario,
    db: Path,
    tables: list[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, tuple[int, str]]:
    """Assert that ``db`` holds exactly the clean run's rows in each table (default: every
    Phase 3/4 table over the scenario's range), bit for bit, and return per table (rows,
    checksum). The SQL aggregates floats exactly (tests/sql/test_exact_aggregates.py), so a
    run under faults, after a kill or with another chunking has no excuse to differ. When a
    checksum differs, the rows are compared by key and the assertion names the first
    difference. Close the warehouse before calling."""
    import duckdb

    from bench.checksum import stable_columns
    from nba_backfill.catalog import TABLES

    assert scenario.clean_db is not None
    lo, hi = start or scenario.start, end or scenario.end
    con = duckdb.connect()
    con.execute(f"ATTACH '{scenario.clean_db}' AS clean (READ_ONLY)")
    con.execute(f"ATTACH '{db}' AS run (READ_ONLY)")
    out: dict[str, tuple[int, str]] = {}
    try:
        for name in tables or [s.name for s in SPECS]:
            spec = TABLES[name]
            where = f"{spec.date_column} BETWEEN DATE '{lo}' AND DATE '{hi}'"
            # Every column but the write's time (processed_at, created_at differ by design).
            cols = ", ".join(f'"{c}"' for c in stable_columns(spec))
            x = f"(SELECT {cols} FROM clean.{spec.dataset}.{spec.table} WHERE {where})"
            y = f"(SELECT {cols} FROM run.{spec.dataset}.{spec.table} WHERE {where})"
            sums = {
                cat: con.execute(f"SELECT COUNT(*), BIT_XOR(HASH(t)) FROM {q} AS t").fetchone()
                for cat, q in (("clean", x), ("run", y))
            }
            rows, digest = sums["run"] or (0, None)
            out[name] = (int(rows), str(digest))
            if sums["run"] == sums["clean"]:
                continue
            keys = ", ".join(spec.key_columns)
            only = con.execute(
                f"SELECT 'clean run only', * FROM ({x} EXCEPT ALL {y}) "
                f"UNION ALL SELECT 'this run only', * FROM ({y} EXCEPT ALL {x}) "
                f"ORDER BY {keys}, 1 LIMIT 2"
            ).fetchall()
            raise AssertionError(
                f"{name}: {rows} rows vs {sums['clean'][0]} in the clean run "  # type: ignore[index]
                f"(checksums differ); first difference: {only}"
            )
    finally:
        con.close()
    return out


def clean_checksum(scenario: Scenario, table: str, start: dt.date, end: dt.date) -> tuple[int, str]:
    """What the clean run left in ``table`` on ``[start, end]``."""
    from nba_backfill.catalog import TABLES

    assert scenario.clean_db is not None
    wh = DuckDBWarehouse(
        load_settings(warehouse={"duckdb_path": str(scenario.clean_db)}), read_only=True
    )
    try:
        return checksum(wh, TABLES[table], start, end)
    finally:
        wh.close()


@pytest.fixture(scope="session")
def fast_scenario(
    phase2_template: Path, prefect_server: None, tmp_path_factory: pytest.TempPathFactory
) -> Scenario:
    scenario = Scenario("fast", SLICE_START, SLICE_END, 5, 3, phase2_template)
    _clean_run(scenario, tmp_path_factory.mktemp("fast-clean"))
    return scenario


@pytest.fixture(scope="session")
def full_scenario(prefect_server: None, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The standard range from the runbook's starting state (what `make run` seeds)."""
    from devtools.seeding import STANDARD_END, STANDARD_START, seed

    workdir = tmp_path_factory.mktemp("full")
    template = workdir / "seeds.duckdb"
    wh = DuckDBWarehouse(load_settings(warehouse={"duckdb_path": str(template)}))
    seed(wh, "seeds")
    wh.close()
    scenario = Scenario("full", STANDARD_START, STANDARD_END, 31, 4, template)
    _clean_run(scenario, workdir)
    return scenario


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> Scenario:
    """``fast`` or ``full``, by the test's parameter."""
    return request.getfixturevalue(f"{request.param}_scenario")  # type: ignore[no-any-return]


# ``fast`` is in the end-to-end tier (`make test-slow`), ``full`` in `make chaos`.
SCENARIOS = ["fast", pytest.param("full", marks=pytest.mark.chaos)]


@pytest.fixture
def chaos_env(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """A fresh copy of the scenario's starting state, and the environment pointing at it."""
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(scenario.template, db)
    for key, value in env_for(db, tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    for key in [k for k in os.environ if k.startswith("NBA_BACKFILL_FAULTS__")]:
        monkeypatch.delenv(key)
    close_shared()
    yield load_settings()
    close_shared()


def reopen_clean(monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    """The warehouse as a later run sees it: faults off, opened afresh."""
    for key in [k for k in os.environ if k.startswith("NBA_BACKFILL_FAULTS__")]:
        monkeypatch.delenv(key)
    close_shared()
    return shared_warehouse()
