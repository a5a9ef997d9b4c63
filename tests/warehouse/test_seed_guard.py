"""``nba-backfill seed`` on the BigQuery emulator: refused with production's names (the data
loss of issue 11 item 6), refused on a sandbox that is not confirmed, allowed on a confirmed
one. The real CLI, the real adapter and the real emulator; the guard's decision table is in
tests/test_safety.py.

The emulator serves any project, so these tests use production's project name itself
(and a sandbox project), which no other test touches; each test removes what it created.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.app import app
from devtools.seeding import SEED_INFO, STANDARD_END, seed
from nba_backfill.errors import UsageError
from nba_backfill.phase2 import GAMEBOOK
from nba_backfill.safety import CONFIRM_SETTING, production_names
from nba_backfill.settings import DatasetNames, Settings, env_var, load_settings
from nba_backfill.warehouse import close_shared
from nba_backfill.warehouse.bigquery import BigQueryWarehouse

PROD_PROJECT, _ = production_names()
SANDBOX_PROJECT = "nba-backfill-sandbox"
OTHER_PROJECT = "nba-someone-else"
ALL_DATASETS = tuple(DatasetNames.model_fields)  # logical names, the run metadata's included
# One existing Phase 2 row in production's gamebook columns (a value of each column's type).
_VALUES: dict[str, Any] = {
    "STRING": "kept",
    "DATE": dt.date(2024, 1, 2),
    "INT64": 7,
    "FLOAT64": 1.5,
    "BOOL": True,
    "TIMESTAMP": dt.datetime(2024, 1, 2, 12, tzinfo=dt.UTC),
    "ARRAY<STRING>": [],
}
ROW = tuple(_VALUES[c.type] for c in GAMEBOOK.live_columns)
SANDBOXES: dict[str, dict[str, Any]] = {
    "sandbox-project": {"project": SANDBOX_PROJECT},
    "sandbox-datasets": {"datasets": {d: f"{d}_sandbox" for d in ALL_DATASETS}},
}

Target = Callable[..., Settings]
Snapshot = dict[str, dict[str, list[str]]]


@pytest.fixture
def target(bq_emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    """Point the environment (what the CLI reads) at the emulator with the given project,
    datasets and confirmation (unset: the settings' defaults, i.e. production's names)."""

    def point(
        project: str | None = None,
        datasets: dict[str, str] | None = None,
        confirm: str | None = None,
    ) -> Settings:
        for key in list(os.environ):
            if key.startswith(env_var("warehouse") + "__"):
                monkeypatch.delenv(key)
        monkeypatch.setenv(env_var("warehouse", "backend"), "bigquery")
        monkeypatch.setenv(env_var("warehouse", "emulator_endpoint"), bq_emulator)
        if project:
            monkeypatch.setenv(env_var("warehouse", "project"), project)
        for logical, physical in (datasets or {}).items():
            monkeypatch.setenv(env_var("warehouse", "datasets", logical), physical)
        if confirm:
            monkeypatch.setenv(CONFIRM_SETTING, confirm)
        close_shared()  # the CLI reads settings once per process
        return load_settings()

    yield point
    close_shared()
    # Leave the emulator as found: drop every dataset of the two projects only this module uses.
    cleanup = BigQueryWarehouse(
        load_settings(warehouse={"backend": "bigquery", "emulator_endpoint": bq_emulator})
    )
    try:
        for project in (PROD_PROJECT, SANDBOX_PROJECT):
            for ds in cleanup.client.list_datasets(project=project):
                cleanup.client.delete_dataset(ds.reference, delete_contents=True)
    finally:
        cleanup.close()


def snapshot(wh: BigQueryWarehouse) -> Snapshot:
    """Every dataset of the warehouse's project, its tables, and their rows."""
    client = wh.client
    out: Snapshot = {}
    for ds in client.list_datasets(project=wh.project):
        tables = out.setdefault(ds.dataset_id, {})
        for t in client.list_tables(ds.reference):
            rows = client.query(f"SELECT * FROM `{wh.project}.{ds.dataset_id}.{t.table_id}`")
            tables[t.table_id] = sorted(repr(tuple(r.values())) for r in rows.result())
    return out


def invoke(args: list[str]) -> tuple[int, list[str]]:
    res = CliRunner().invoke(app, args)
    return res.exit_code, [ln for ln in res.output.splitlines() if ln.strip()]


def _gamebook(settings: Settings) -> str:
    return f"{settings.warehouse.datasets.physical(GAMEBOOK.dataset)}.{GAMEBOOK.table}"


def _with_existing_row(settings: Settings) -> tuple[BigQueryWarehouse, Snapshot]:
    """Production's gamebook table, created as seeding creates it, holding one row."""
    wh = BigQueryWarehouse(settings)
    wh.ensure_raw_tables([GAMEBOOK])
    wh.load_raw(GAMEBOOK, [ROW], replace=False)
    before = snapshot(wh)
    dataset, _, table = _gamebook(settings).partition(".")
    assert list(before) == [dataset] and list(before[dataset]) == [table]
    assert len(before[dataset][table]) == 1 and "'kept'" in before[dataset][table][0]
    return wh, before


@pytest.mark.parametrize(
    ("args", "confirm"),
    [
        (["seed", "--state", "empty"], None),
        (["seed", "--state", "empty"], PROD_PROJECT),  # confirming production changes nothing
        (["seed", "--state", "seeds", "--if-missing"], PROD_PROJECT),
    ],
    ids=["empty", "empty-confirmed", "seeds-if-missing-confirmed"],
)
def test_seed_with_production_names_refuses_and_writes_nothing(
    target: Target, args: list[str], confirm: str | None
) -> None:
    settings = target(confirm=confirm)
    assert settings.warehouse.project == PROD_PROJECT
    wh, before = _with_existing_row(settings)
    try:
        code, lines = invoke(args)
        assert code == 2, lines
        assert len(lines) == 1, lines
        assert f"project {PROD_PROJECT}" in lines[0] and _gamebook(settings) in lines[0], lines
        assert snapshot(wh) == before  # the row kept, no dataset or table created
    finally:
        wh.close()


def test_seed_function_refuses_production_before_its_first_write(target: Target) -> None:
    """The core entry point (what the bench and any script call) decides the same way."""
    settings = target()
    wh, before = _with_existing_row(settings)
    try:
        with pytest.raises(UsageError, match=f"project {PROD_PROJECT}"):
            seed(wh, "empty")
        assert snapshot(wh) == before
    finally:
        wh.close()


@pytest.mark.parametrize("confirm", [None, OTHER_PROJECT], ids=["unconfirmed", "wrong-project"])
@pytest.mark.parametrize("sandbox", SANDBOXES.values(), ids=SANDBOXES.keys())
def test_seed_on_an_unconfirmed_sandbox_refuses(
    target: Target, sandbox: dict[str, Any], confirm: str | None
) -> None:
    settings = target(**sandbox, confirm=confirm)
    code, lines = invoke(["seed", "--state", "empty"])
    assert code == 2, lines
    assert len(lines) == 1, lines
    project = settings.warehouse.project
    assert f"project {project}" in lines[0] and _gamebook(settings) in lines[0], lines
    assert f"{CONFIRM_SETTING}={project}" in lines[0], lines
    wh = BigQueryWarehouse(settings)
    try:
        assert snapshot(wh) == {}  # not even a dataset
    finally:
        wh.close()


class _Stop(Exception):
    pass


def _stop(message: str) -> None:
    raise _Stop(message)


@pytest.mark.parametrize("sandbox", SANDBOXES.values(), ids=SANDBOXES.keys())
def test_seed_on_a_confirmed_sandbox_proceeds(target: Target, sandbox: dict[str, Any]) -> None:
    """The CLI lets a confirmed sandbox through, and the seed writes. A whole seed on the
    emulator takes ~27 s and leaves ~700 MB in the session's emulator (measured, 5 seasons,
    1.4 M rows), so the write checked is the first one: the seed marker emptied, stopped
    there by the progress callback the seed reports through."""
    settings = target(**sandbox, confirm=sandbox.get("project", PROD_PROJECT))
    wh = BigQueryWarehouse(settings)
    try:
        wh.load_raw(SEED_INFO, [(7, "seeds", STANDARD_END, dt.date.today())], replace=False)
        code, lines = invoke(["seed", "--state", "empty", "--if-missing"])
        assert code == 0, lines
        assert any("already seeded (state seeds)" in ln for ln in lines), lines

        with pytest.raises(_Stop, match="generating"):
            seed(wh, "empty", progress=_stop)
        assert wh.fetch(f"SELECT COUNT(*) AS n FROM {SEED_INFO.name}") == [{"n": 0}]
    finally:
        wh.close()
