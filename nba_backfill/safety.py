"""The one decision on commands that destroy warehouse data outside a run's planned windows.

A backfill run only replaces the date windows it planned. Seeding is different: it replaces
whole Phase 2 tables and empties the Phase 3/4 ones. On the embedded DuckDB file that is the
point; on BigQuery, with production's names, it is data loss. :func:`guard_destructive` is
called by every such entry point (``nba-backfill seed``, :func:`devtools.seeding.seed`)
before its first write.
"""

from __future__ import annotations

from collections.abc import Iterable

from nba_backfill.errors import UsageError
from nba_backfill.settings import DatasetNames, Settings, WarehouseSettings, env_var

CONFIRM_SETTING = env_var("warehouse", "allow_destructive")


def production_names() -> tuple[str, frozenset[str]]:
    """Production's project and physical dataset names: the settings model's defaults."""
    project = WarehouseSettings.model_fields["project"].get_default()
    datasets = frozenset(str(v) for v in DatasetNames().model_dump().values())
    return str(project), datasets


def guard_destructive(
    settings: Settings, action: str, tables: Iterable[str], *, backend: str | None = None
) -> None:
    """Allow ``action``, which empties or replaces ``tables`` (logical ``dataset.table``
    names), on ``settings``' warehouse, or raise :class:`UsageError` with one line naming the
    project and the tables it would have destroyed.

    ``backend`` is the adapter that will be written when it is already open
    (``Warehouse.dialect``: "duckdb" or "bigquery"); unset, ``settings.warehouse.backend``.
    DuckDB is always allowed (a local file). BigQuery is allowed only when both hold: every
    table is outside production — the project is not production's default, or the table's
    physical dataset is none of production's default dataset names — and
    ``warehouse.allow_destructive`` equals the target project. Production's names are refused
    whatever the confirmation says."""
    wh = settings.warehouse
    if (backend or wh.backend) == "duckdb":
        return
    physical = []
    for name in tables:
        dataset, _, table = name.partition(".")
        physical.append(f"{wh.datasets.physical(dataset)}.{table}")
    prod_project, prod_datasets = production_names()
    # A sandbox in production's project is fine only dataset by dataset: seeding empties
    # every table it lists, so one dataset left at its production name is one too many.
    in_production = [
        name
        for name in physical
        if wh.project == prod_project and name.partition(".")[0] in prod_datasets
    ]
    if in_production:
        raise UsageError(
            f"refusing to {action} BigQuery project {wh.project}: it would destroy production "
            f"tables {', '.join(in_production)}; point {env_var('warehouse', 'project')} or "
            f"{env_var('warehouse', 'datasets')}__* at a sandbox and set {CONFIRM_SETTING} to "
            "its project"
        )
    if wh.allow_destructive != wh.project:
        given = f" (it names {wh.allow_destructive})" if wh.allow_destructive else ""
        raise UsageError(
            f"refusing to {action} BigQuery project {wh.project}: it would destroy "
            f"{', '.join(physical)}; if this is a sandbox, set {CONFIRM_SETTING}={wh.project}"
            f"{given}"
        )


__all__ = ["CONFIRM_SETTING", "guard_destructive", "production_names"]
