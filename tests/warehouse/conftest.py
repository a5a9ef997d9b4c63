"""BigQuery adapter fixtures: the offline emulator and warehouses on it (see tests/emulator.py).

A root conftest can register them for every test directory instead, with
``pytest_plugins = ["tests.emulator"]``; importing them here keeps tests/warehouse self-contained.
"""

from tests.emulator import bq_emulator, bq_settings, bq_warehouse

__all__ = ["bq_emulator", "bq_settings", "bq_warehouse"]
