"""Process-wide handles the tasks share: settings and the shared warehouse."""

from __future__ import annotations

from nba_backfill.settings import Settings, get_settings
from nba_backfill.warehouse import Warehouse, shared_warehouse


def settings() -> Settings:
    return get_settings()


def warehouse() -> Warehouse:
    return shared_warehouse()
