"""The plan's cost estimate: bytes per table summed over its chunks (one estimate per chunk),
the on-demand price arithmetic and its formatting, and what DuckDB shows ("n/a (embedded)").
On the emulator (dry runs report 0 bytes) see tests/warehouse/test_bigquery_runner.py."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from typer.testing import CliRunner

from cli.app import app
from nba_backfill.catalog import PDC, TABLES, TDGS, TOGS, TableSpec
from nba_backfill.errors import WarehouseError
from nba_backfill.estimate import (
    EMBEDDED,
    UNAVAILABLE,
    PlanEstimate,
    cost_usd,
    estimate_plan,
    format_bytes,
    format_estimate,
    format_usd,
)
from nba_backfill.planner import Chunk, Plan, TablePlan
from nba_backfill.settings import Settings, load_settings

GIB, TIB = 1024**3, 1024**4
D = dt.date(2022, 1, 3)


@pytest.mark.parametrize(
    ("nbytes", "price", "usd"),
    [(0, 6.25, 0.0), (TIB, 6.25, 6.25), (TIB // 2, 6.25, 3.125), (100 * GIB, 6.25, 0.6103515625),
     (3 * TIB, 5.0, 15.0), (TIB, 0.0, 0.0)],
)  # fmt: skip
def test_cost_is_bytes_over_a_tib_times_the_price(nbytes: int, price: float, usd: float):
    assert cost_usd(nbytes, price) == pytest.approx(usd)


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536 * 1024**2, "1.5 GiB"),
     (5 * TIB, "5.0 TiB"), (3 * 1024**5, "3.0 PiB"), (2048 * 1024**5, "2048.0 PiB")],
)  # fmt: skip
def test_format_bytes(nbytes: int, text: str):
    assert format_bytes(nbytes) == text


@pytest.mark.parametrize(
    ("usd", "text"),
    [(0.0, "$0.00"), (0.004, "<$0.01"), (0.01, "$0.01"), (0.6103, "$0.61"), (1234.5, "$1,234.50")],
)
def test_format_usd(usd: float, text: str):
    assert format_usd(usd) == text


def test_format_estimate_says_unavailable_never_zero():
    assert format_estimate(None, 6.25) == UNAVAILABLE == "estimate unavailable"
    assert format_estimate(0, 6.25) == "0 B / $0.00"
    assert format_estimate(TIB, 6.25) == "1.0 TiB / $6.25"
    assert format_estimate(100 * GIB, 6.25) == "100.0 GiB / $0.61"


# --- estimate_plan over a plan ------------------------------------------------------------------


class FakeWarehouse:
    """Answers ``estimate_bytes`` per chunk start from ``answers`` (an exception is raised)."""

    def __init__(self, settings: Settings, answers: dict[tuple[str, dt.date], object]) -> None:
        self.settings = settings
        self.answers = answers
        self.calls: list[tuple[str, dt.date, dt.date]] = []
        self._lock = threading.Lock()

    def estimate_bytes(self, table: TableSpec, start: dt.date, end: dt.date) -> int | None:
        with self._lock:
            self.calls.append((table.name, start, end))
        answer = self.answers[(table.name, start)]
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]


def _plan(chunks: dict[str, list[int]]) -> Plan:
    """A plan whose table ``t`` has one chunk per offset (days after D) in ``chunks[t]``."""
    tables = {}
    for name, offsets in chunks.items():
        days = [D + dt.timedelta(days=o) for o in offsets]
        tp = TablePlan(name, 3, days, set(), days, [], {})
        tp.chunks = [Chunk(name, d, d, (d,)) for d in days]
        tables[name] = tp
    return Plan(D, D + dt.timedelta(days=30), 1, tables)


def _bigquery(price: float = 6.25) -> Settings:
    return load_settings(warehouse={"backend": "bigquery", "price_per_tib_usd": price})


def test_bytes_are_summed_per_table_with_one_estimate_per_chunk():
    plan = _plan({TOGS: [0, 1, 2], TDGS: [0], PDC: []})
    answers: dict[tuple[str, dt.date], object] = {
        (TOGS, D): 10 * GIB,
        (TOGS, D + dt.timedelta(days=1)): 20 * GIB,
        (TOGS, D + dt.timedelta(days=2)): 2 * GIB,
        (TDGS, D): 512 * GIB,
    }
    wh = FakeWarehouse(_bigquery(5.0), answers)
    est = estimate_plan(wh, plan)  # type: ignore[arg-type]
    assert sorted(wh.calls) == sorted((c.table, c.start, c.end) for c in plan.chunks)
    assert est.kind == "dry_run" and est.price_per_tib_usd == 5.0
    assert est.bytes(TOGS) == 32 * GIB and est.bytes(TDGS) == 512 * GIB
    assert est.bytes(PDC) == 0  # nothing to fill costs nothing
    assert est.total_bytes == 544 * GIB
    assert est.cost_usd(TDGS) == pytest.approx(2.5)
    assert est.cell(TOGS) == "32.0 GiB / $0.16"
    assert est.cell(PDC) == "0 B / $0.00"
    assert est.as_dict() == {
        "kind": "dry_run",
        "price_per_tib_usd": 5.0,
        "total_bytes": 544 * GIB,
        "total_cost_usd": pytest.approx(544 / 1024 * 5.0),
    }


def test_one_unknown_chunk_makes_its_table_unknown_not_cheaper():
    plan = _plan({TOGS: [0, 1], TDGS: [0]})
    answers: dict[tuple[str, dt.date], object] = {
        (TOGS, D): 10 * GIB,
        (TOGS, D + dt.timedelta(days=1)): None,  # the emulator's dry run, for instance
        (TDGS, D): WarehouseError("reading the schema of nba_analytics.x: 404 Not found"),
    }
    est = estimate_plan(FakeWarehouse(_bigquery(), answers), plan)  # type: ignore[arg-type]
    assert est.bytes(TOGS) is None and est.bytes(TDGS) is None
    assert est.cell(TOGS) == est.cell(TDGS) == UNAVAILABLE
    assert est.total_bytes is None and est.as_dict()["total_cost_usd"] is None


def test_duckdb_and_skip_ask_nothing():
    plan = _plan({TOGS: [0]})
    wh = FakeWarehouse(load_settings(warehouse={"backend": "duckdb"}), {})
    embedded = estimate_plan(wh, plan)  # type: ignore[arg-type]
    assert embedded.kind == "embedded" and embedded.cell(TOGS) == EMBEDDED == "n/a (embedded)"
    assert embedded.bytes(TOGS) is None and embedded.total_bytes is None
    skipped = estimate_plan(FakeWarehouse(_bigquery(), {}), plan, skip=True)  # type: ignore[arg-type]
    assert skipped.kind == "skipped" and skipped.bytes(TOGS) is None
    assert wh.calls == []


def test_plan_estimate_as_dict_for_non_dry_runs():
    assert PlanEstimate("embedded", 6.25, {}).as_dict() == {
        "kind": "embedded",
        "price_per_tib_usd": 6.25,
        "total_bytes": None,
        "total_cost_usd": None,
    }


# --- the CLI on the embedded warehouse ----------------------------------------------------------


def test_plan_on_duckdb_shows_not_applicable(seeded: Settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    args = ["plan", "--start", "2021-10-19", "--end", "2021-12-05", "--chunk-days", "10"]
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.output
    # A table's row starts with its short name (the dataset is the heading above it).
    shorts = tuple(spec.table for spec in TABLES.values())
    # (Lines saying why a table's dates are planned start with its name too.)
    rows = [
        line
        for line in shown.output.splitlines()
        if line.split(" ")[0] in shorts and EMBEDDED in line
    ]
    assert sorted(line.split(" ")[0] for line in rows) == sorted(shorts)
    assert "estimated total" not in shown.output

    data = json.loads(runner.invoke(app, [*args, "--json"]).output)
    assert data["estimate"]["kind"] == "embedded"
    assert all(t["estimated_bytes"] is None for t in data["tables"].values())

    skipped = runner.invoke(app, [*args, "--no-estimate"])
    assert skipped.exit_code == 0 and EMBEDDED not in skipped.output
