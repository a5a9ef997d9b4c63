"""BigQuery adapter tests: the emulator fixtures (``bq_emulator``, ``bq_settings``,
``bq_warehouse``, see tests/emulator.py) are registered for the whole suite by the root
conftest (``pytest_plugins = ["tests.emulator"]``)."""
