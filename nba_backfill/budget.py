"""A run's byte budget (``--max-bytes``): before each chunk starts, the bytes already billed
plus the estimates of the chunks still running plus this chunk's estimate must fit; the first
chunk that does not fit stops every later launch (they end "not run: over budget").

A chunk's estimate is the warehouse's (``Warehouse.estimate_bytes``: a BigQuery dry run) and what
it cost is its jobs' bytes billed once it ends. DuckDB bills nothing and has no dry run: there
a chunk's bytes are its estimate, :func:`embedded_estimate` — the rows the tables its model
reads hold in the chunk's read windows times 8 bytes per column, a stand-in for BigQuery's
bytes scanned — both before and after it runs. A BigQuery chunk whose estimate is unknown
(the emulator, a table not created yet) counts as 0 until it is billed.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass, field

from sqlglot import exp

from nba_backfill import contract
from nba_backfill.catalog import TableSpec
from nba_backfill.errors import BackfillError, UsageError
from nba_backfill.estimate import format_bytes
from nba_backfill.sqlfiles import LOGICAL_DATASETS, load_model
from nba_backfill.warehouse.base import Warehouse

_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "PB": 10**15,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
    "PIB": 2**50,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
# Bytes one value of a column counts for in the DuckDB stand-in (BigQuery's INT64, FLOAT64,
# DATE and TIMESTAMP are 8 bytes; strings vary).
VALUE_BYTES = 8


def parse_bytes(text: str | int) -> int:
    """``50GB`` (10^9), ``1.5TiB`` (2^40), ``2048`` (bytes) … as bytes; UsageError if not."""
    if isinstance(text, int):
        value = text
    else:
        m = _SIZE.match(str(text))
        unit = m.group(2).upper() if m else None
        if m is None or unit not in _UNITS:
            raise UsageError(
                f"max_bytes: {text!r} is not a size (e.g. 50GB, 1.5TiB, 2048: a number and "
                "B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            )
        value = int(float(m.group(1)) * _UNITS[unit])
    if value <= 0:
        raise UsageError(f"max_bytes: {text!r} must be more than 0 bytes")
    return value


class OverBudget(BackfillError):
    """A chunk not started: it would take the run past its ``--max-bytes``."""


@dataclass
class RunBudget:
    max_bytes: int
    billed: int = 0
    in_flight: dict[str, int] = field(default_factory=dict)
    stopped: str | None = None  # why launches stopped (the first chunk that did not fit)
    refused: list[str] = field(default_factory=list)  # chunks not started, in order
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def admit(self, chunk: str, estimate: int) -> None:
        """Let ``chunk`` start with ``estimate`` bytes reserved, or raise OverBudget (and
        refuse every later chunk too: launching stops at the first that does not fit)."""
        with self._lock:
            committed = self.billed + sum(self.in_flight.values())
            if self.stopped is None and committed + estimate > self.max_bytes:
                self.stopped = (
                    f"{chunk} would take {format_bytes(committed + estimate)} "
                    f"(billed {format_bytes(self.billed)}, running "
                    f"{format_bytes(committed - self.billed)}, this chunk "
                    f"{format_bytes(estimate)}) past max_bytes {format_bytes(self.max_bytes)}"
                )
            if self.stopped is not None:
                self.refused.append(chunk)
                raise OverBudget(f"not run: over budget: {self.stopped}")
            self.in_flight[chunk] = estimate

    def settle(self, chunk: str, billed: int | None) -> None:
        """``chunk`` ended: its reservation becomes what it billed (its estimate when None:
        DuckDB, or a chunk that failed before a job billed)."""
        with self._lock:
            reserved = self.in_flight.pop(chunk, 0)
            self.billed += reserved if billed is None else billed


def _model_inputs(spec: TableSpec) -> list[str]:
    """The ``dataset.table`` names the table's model reads (shared pieces spliced in)."""
    tree = load_model(spec, {d: d for d in LOGICAL_DATASETS})
    names = {
        f"{ref.args['db'].name}.{ref.name}"
        for ref in tree.find_all(exp.Table)
        if ref.args.get("db") is not None
    }
    return sorted(names - {spec.name})


def embedded_estimate(wh: Warehouse, spec: TableSpec, start: dt.date, end: dt.date) -> int:
    """The DuckDB stand-in for a chunk's bytes: for each table its model reads, the rows it
    holds on ``[start - look-back, end]`` (the catalog's widest look-back on that table, else
    the chunk's dates) times its columns times :data:`VALUE_BYTES`."""
    lookback = {dep.table: dep.lookback_days for dep in spec.input_windows}
    total = 0
    for name in _model_inputs(spec):
        try:
            tc = contract.table(name)
        except KeyError:
            continue
        if tc.partition_by is None or not wh.table_exists(name):
            continue
        lo = start - dt.timedelta(days=lookback.get(name, 0))
        row = wh.fetch(
            f"SELECT COUNT(*) AS n FROM {name} "
            f"WHERE {tc.partition_by} BETWEEN @start_date AND @end_date",
            {"start_date": lo, "end_date": end},
        )[0]
        total += int(row["n"]) * len(tc.live_columns) * VALUE_BYTES
    return total


def chunk_estimate(wh: Warehouse, spec: TableSpec, start: dt.date, end: dt.date) -> int:
    """Bytes a chunk is expected to cost: the warehouse's estimate, or on DuckDB (which has
    none) :func:`embedded_estimate`; 0 when BigQuery cannot tell."""
    if wh.settings.warehouse.backend == "duckdb":
        return embedded_estimate(wh, spec, start, end)
    return wh.estimate_bytes(spec, start, end) or 0


_active: RunBudget | None = None
_active_lock = threading.Lock()


def start_budget(max_bytes: int | None) -> RunBudget | None:
    """Make ``max_bytes`` this process's run budget (None: no budget) and return it."""
    global _active
    with _active_lock:
        _active = RunBudget(max_bytes) if max_bytes else None
        return _active


def active_budget() -> RunBudget | None:
    with _active_lock:
        return _active


__all__ = [
    "OverBudget",
    "RunBudget",
    "active_budget",
    "chunk_estimate",
    "embedded_estimate",
    "parse_bytes",
    "start_budget",
]
