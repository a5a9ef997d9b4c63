"""`nba-backfill setup`'s per-table DML rate limits (BigQuery: 25 DML statements per 10 s per
table) on a real Prefect test server, and the slot a BigQuery write takes of one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

from deployments.setup import ensure_dml_rate_limits, ensure_write_limits
from nba_backfill.catalog import TABLES, TOGS
from nba_backfill.runner import dml_rate_limit_name, write_limit_name
from nba_backfill.settings import load_settings
from tasks import chunks


@pytest.fixture
def rate_limits(prefect_server: None) -> Iterator[None]:
    chunks.forget_limits()
    try:
        yield
    finally:
        with get_client(sync_client=True) as client:
            for table in TABLES:
                client.delete_global_concurrency_limit_by_name(dml_rate_limit_name(table))
        chunks.forget_limits()


@pytest.mark.timeout(300)
def test_setup_creates_a_decaying_rate_limit_per_table_once(rate_limits: None) -> None:
    settings = load_settings()
    with get_client(sync_client=True) as client:
        first = list(ensure_dml_rate_limits(client, settings))
        second = list(ensure_dml_rate_limits(client, settings))
        gcl = client.read_global_concurrency_limit_by_name(dml_rate_limit_name(TOGS))
    assert [c.action for c in first] == ["created"] * len(TABLES)
    assert [c.action for c in second] == ["unchanged"] * len(TABLES)
    assert (gcl.limit, gcl.slot_decay_per_second, gcl.active) == (25, 2.5, True)

    # A write's guard takes one slot of its table's rate limit (a rate slot decays: it is
    # not given back at the end of the write). Decay slowed here so the read still sees it.
    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(
            dml_rate_limit_name(TOGS), GlobalConcurrencyLimitUpdate(slot_decay_per_second=0.001)
        )
    with chunks._write_limit(TOGS):
        pass
    with get_client(sync_client=True) as client:
        after = client.read_global_concurrency_limit_by_name(dml_rate_limit_name(TOGS))
    assert after.active_slots == 1


@pytest.mark.timeout(300)
def test_transactions_get_one_write_slot_per_table_whatever_the_setting(
    prefect_server: None,
) -> None:
    """BigQuery cancels a transaction that meets another on the same table: with write strategy
    ``transaction`` setup gives each table's write limit 1 slot (and the runner 1 slot,
    ``Settings.writes_per_table``) whatever ``run.max_concurrency_per_table`` says; back to
    ``merge``, the setting's slots again."""
    merge = load_settings(run={"max_concurrency_per_table": 3})
    transaction = load_settings(
        run={"max_concurrency_per_table": 3}, warehouse={"write_strategy": "transaction"}
    )
    assert (merge.writes_per_table(), transaction.writes_per_table()) == (3, 1)
    try:
        with get_client(sync_client=True) as client:
            list(ensure_write_limits(client, merge))
            changes = list(ensure_write_limits(client, transaction))
            one = client.read_global_concurrency_limit_by_name(write_limit_name(TOGS)).limit
            back = list(ensure_write_limits(client, merge))
            three = client.read_global_concurrency_limit_by_name(write_limit_name(TOGS)).limit
        assert {(c.action, c.note) for c in changes} == {("updated", "1 slots")}
        assert {(c.action, c.note) for c in back} == {("updated", "3 slots")}
        assert (one, three) == (1, 3)
    finally:
        with get_client(sync_client=True) as client:
            for table in TABLES:
                client.delete_global_concurrency_limit_by_name(write_limit_name(table))
