"""Process-wide handles the tasks share: settings and the shared warehouse."""

from __future__ import annotations

from nba_backfill.settings import Settings, get_settings
from nba_backfill.warehouse import Warehouse, close_shared, shared_warehouse


def settings() -> Settings:
    return get_settings()


def warehouse() -> Warehouse:
    return shared_warehouse()


def release_warehouse() -> None:
    """Close the shared warehouse (the next :func:`warehouse` call opens it again): the
    embedded DuckDB file takes one writer process at a time."""
    close_shared()


def end_of_run() -> None:
    """At the end of a deployment run's work, before its final state is reported, let go of
    the warehouse, so whoever reacts to that state (a parent waiting on this run, the next
    run) can open it. In-process callers (the CLI, tests) keep their handle."""
    from prefect.runtime import deployment

    if deployment.id:
        close_shared()
