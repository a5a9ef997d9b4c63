"""Write fingerprints: what a write of (table, date) read, and which model wrote it.

Each write records, per date written, a hash of the table's model (its rendered SQL) and, per
input table, a fingerprint of the input rows its windows read (row counts and a hash of the
rows' content, per input date). They go to nba-backfill's own ledger,
``nba_backfill_meta.write_fingerprints``, outside production's datasets: production's tables
keep their schemas. Production's ``source_*_hash`` columns are not enough to compare with: they
hash the row count and the latest ``processed_at`` of one input only, so a raw row corrected in
place (same count, same time) goes unseen, and several inputs have none.

The ledger is appended to right after each range is written, not in the write's transaction:
the BigQuery write is one MERGE (or one script) of the table, and a load job appending the
ledger is free and atomic on its own. The inputs are fingerprinted *before* the write, so an
input changed between the two makes the date look stale (one harmless rewrite), never fresh;
a process killed between the write and the append leaves the date's previous record, so the
date is judged against what was read before (stale if anything changed since), and a date
never recorded (written before fingerprints, or by hand) is not judged by fingerprint at all.

Which dates are stale is decided in :mod:`nba_backfill.readiness` (``fingerprint_stale``); this
module only reads and records.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import sqlglot
from sqlglot import exp

from nba_backfill.catalog import EXPECTED_GAMES, SCHEDULE, TABLES, TableSpec
from nba_backfill.contract import Column, TableContract
from nba_backfill.errors import WarehouseError
from nba_backfill.phase2 import RAW_BY_NAME
from nba_backfill.sqlfiles import (
    LOGICAL_DATASETS,
    READS_DIR,
    VIEWS_DATASET,
    Slot,
    load_model,
    load_query,
    render_file,
    splice_views,
)
from nba_backfill.warehouse.base import Warehouse, _as_date
from nba_backfill.warehouse.wrapper import innermost, loader

log = logging.getLogger("nba_backfill")

# nba-backfill's own bookkeeping: the one schema defined here, never a production table.
FINGERPRINTS = TableContract(
    dataset="nba_backfill_meta",
    table="write_fingerprints",
    columns=tuple(
        Column(name, ty, "NULLABLE")
        for name, ty in (
            ("table_name", "STRING"),
            ("game_date", "DATE"),
            ("model_sha", "STRING"),
            ("inputs_fingerprint", "STRING"),  # JSON: input table -> its window's fingerprint
            ("written_at", "TIMESTAMP"),
        )
    ),
    partition_by="game_date",
    cluster_by=("table_name",),
    require_partition_filter=False,
    partition_expiration_days=None,
    source="nba_backfill/fingerprints.py",
    extra={},
)
_RAW_DATASETS = ("nba_raw", "nba_reference")


@dataclass(frozen=True)
class Input:
    """An input table of a reader and the dates of it one reader date reads: ``[d -
    lookback_days, d]`` (``d`` left out unless ``same_date``); every row when the input has
    no date column (``date_column`` None)."""

    table: str
    lookback_days: int
    same_date: bool
    date_column: str | None
    catalog: bool  # a catalog table (its data_hash is its content) or a Phase 2 one

    def window(self, day: dt.date) -> tuple[dt.date, dt.date]:
        hi = day if self.same_date else day - dt.timedelta(days=1)
        return day - dt.timedelta(days=self.lookback_days), hi

    def describe(self, day: dt.date) -> str:
        """The input dates of ``day`` named in a stale reason."""
        if self.date_column is None:
            return "(whole table)"
        lo, hi = self.window(day)
        return str(hi) if lo == hi else f"{lo}..{hi}"


@cache
def inputs_of(name: str) -> tuple[Input, ...]:
    """Everything a date of table ``name`` reads: its catalog inputs over their windows
    (``TableSpec.input_windows``) and the Phase 2 tables its model reads (the shared pieces
    spliced in), on the date itself unless the catalog declares a window over them (a
    schedule piece's window is the schedule's)."""
    spec = TABLES[name]
    out = [
        Input(w.table, w.lookback_days, w.same_date, TABLES[w.table].date_column, True)
        for w in spec.input_windows
    ]
    tree = splice_views(load_query(spec))
    raw = sorted(
        {
            f"{ref.args['db'].name}.{ref.name}"
            for ref in tree.find_all(exp.Table)
            if ref.args.get("db") is not None and ref.args["db"].name in _RAW_DATASETS
        }
    )
    spans: dict[str, int] = {}
    for w in spec.windows:
        target = SCHEDULE if w.table.startswith(f"{VIEWS_DATASET}.") else w.table
        if w.table == EXPECTED_GAMES or target in RAW_BY_NAME:
            days = w.span * (366 if w.unit == "YEAR" else 1)
            spans[target] = max(days, spans.get(target, 0))
    for table in raw:
        contract = RAW_BY_NAME[table]
        out.append(Input(table, spans.get(table, 0), True, contract.partition_by, False))
    return tuple(out)


@cache
def model_sha(name: str) -> str:
    """A hash of what a write of table ``name`` runs: its model rendered in full (shared
    pieces spliced, production's schema around it), logical dataset names."""
    identity = {d: d for d in LOGICAL_DATASETS}
    text = load_model(TABLES[name], identity).sql(dialect="bigquery", comments=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _content(inp: Input) -> exp.Expr:
    if inp.catalog:
        return exp.column("data_hash")
    return sqlglot.parse_one("TO_JSON_STRING(s)", read="bigquery")


# input table -> date (None: the whole table) -> "rows:hash"
DayHashes = dict[dt.date | None, str]


def read_day_hashes(wh: Warehouse, inp: Input, lo: dt.date, hi: dt.date) -> DayHashes:
    """Per date of ``inp``'s table on ``[lo, hi]`` with rows: ``rows:hash``. One query."""
    if not wh.table_exists(inp.table):
        return {}
    slots: dict[str, Slot] = {"this_table": inp.table, "content": _content(inp)}
    if inp.date_column is None:
        sql = render_file(READS_DIR / "input_fingerprint_whole.sql", slots)
        rows = wh.fetch(sql)
        whole: DayHashes = {}
        if rows and rows[0]["n"]:
            whole[None] = f"{rows[0]['n']}:{rows[0]['h']}"
        return whole
    slots["date_column"] = inp.date_column
    sql = render_file(READS_DIR / "input_fingerprints.sql", slots)
    rows = wh.fetch(sql, {"start_date": lo, "end_date": hi})
    return {_as_date(r["day"]): f"{r['n']}:{r['h']}" for r in rows}


def read_many_day_hashes(
    wh: Warehouse, asks: Sequence[tuple[Input, dt.date, dt.date]]
) -> dict[tuple[str, bool], DayHashes]:
    """:func:`read_day_hashes` of several inputs (each over its own ``[lo, hi]``) in one query
    job: the per-input reads joined by UNION ALL, each row tagged with its input, each
    input's dates as its own parameters. Inputs whose table does not exist read as empty.
    A chunk's fingerprints are one job this way, not one per input table."""
    out: dict[tuple[str, bool], DayHashes] = {}
    parts: list[exp.Select] = []
    params: dict[str, object] = {}
    tags: dict[str, tuple[str, bool]] = {}
    for n, (inp, lo, hi) in enumerate(asks):
        key = (inp.table, inp.catalog)
        out[key] = {}
        if not wh.table_exists(inp.table):
            continue
        tag = f"i{n}"
        tags[tag] = key
        slots: dict[str, Slot] = {"this_table": inp.table, "content": _content(inp)}
        if inp.date_column is None:
            piece = sqlglot.parse_one(
                render_file(READS_DIR / "input_fingerprint_whole.sql", slots), read="bigquery"
            )
            day: exp.Expr = exp.cast(exp.null(), "DATE")
        else:
            slots["date_column"] = inp.date_column
            piece = sqlglot.parse_one(
                render_file(READS_DIR / "input_fingerprints.sql", slots), read="bigquery"
            )
            for param in list(piece.find_all(exp.Parameter)):
                name = f"{param.name}_{tag}"
                param.replace(exp.Parameter(this=exp.var(name)))
            params[f"start_date_{tag}"], params[f"end_date_{tag}"] = lo, hi
            day = exp.cast(exp.column("day", table="q"), "DATE")
        parts.append(
            exp.select(
                exp.alias_(exp.Literal.string(tag), "input"),
                exp.alias_(day, "day"),
                exp.column("n", table="q"),
                exp.column("h", table="q"),
            ).from_(exp.Subquery(this=piece, alias=exp.TableAlias(this=exp.to_identifier("q"))))
        )
    if not parts:
        return out
    query: exp.Query = parts[0]
    for part in parts[1:]:
        query = exp.union(query, part, distinct=False)
    for r in wh.fetch(query.sql(dialect="bigquery"), params):
        key = tags[str(r["input"])]
        if r["day"] is None:
            if r["n"]:
                out[key][None] = f"{r['n']}:{r['h']}"
        else:
            out[key][_as_date(r["day"])] = f"{r['n']}:{r['h']}"
    return out


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# date -> input table -> the fingerprint of what that date reads of it
Fingerprints = dict[dt.date, dict[str, str]]


class InputReader:
    """Fingerprints of the inputs of several tables' dates, each input table read once over
    the widest range asked (the planner asks for every table of a plan); the inputs of one
    table not yet held are read together, in one query."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh
        self._hashes: dict[tuple[str, bool], tuple[dt.date, dt.date, DayHashes, list[dt.date]]] = {}

    def _read(self, asks: Sequence[tuple[Input, dt.date, dt.date]]) -> None:
        """Read every input of ``asks`` not yet held over its range (a held range is widened
        to cover both), all in one query."""
        wanted: dict[tuple[str, bool], tuple[Input, dt.date, dt.date]] = {}
        for inp, lo, hi in asks:  # one range per input table: the union of those asked
            key = (inp.table, inp.catalog)
            if key in wanted:
                lo, hi = min(lo, wanted[key][1]), max(hi, wanted[key][2])
            wanted[key] = (inp, lo, hi)
        todo = []
        for inp, lo, hi in wanted.values():
            have = self._hashes.get((inp.table, inp.catalog))
            if have is None or have[0] > lo or have[1] < hi:
                if have is not None:
                    lo, hi = min(lo, have[0]), max(hi, have[1])
                todo.append((inp, lo, hi))
        if not todo:
            return
        read = read_many_day_hashes(self.wh, todo)
        for inp, lo, hi in todo:
            hashes = read[(inp.table, inp.catalog)]
            days = sorted(d for d in hashes if d is not None)
            self._hashes[(inp.table, inp.catalog)] = (lo, hi, hashes, days)

    def current(self, spec: TableSpec, dates: Sequence[dt.date]) -> Fingerprints:
        """Per date of ``dates``: per input table, the fingerprint of the input rows its
        window reads now."""
        out: Fingerprints = {d: {} for d in dates}
        if not dates:
            return out
        first, last = min(dates), max(dates)
        inputs = inputs_of(spec.name)
        self._read([(i, first - dt.timedelta(days=i.lookback_days), last) for i in inputs])
        for inp in inputs:
            _, _, hashes, days = self._hashes[(inp.table, inp.catalog)]
            for day in dates:
                if inp.date_column is None:
                    parts = [hashes.get(None, "0:")]
                else:
                    lo, hi = inp.window(day)
                    span = days[bisect.bisect_left(days, lo) : bisect.bisect_right(days, hi)]
                    parts = [f"{d}={hashes[d]}" for d in span]
                out[day][inp.table] = _digest(parts)
        return out


@dataclass(frozen=True)
class Recorded:
    """What the latest write of one date recorded."""

    model_sha: str
    inputs: Mapping[str, str]


def recorded(wh: Warehouse, spec: TableSpec, lo: dt.date, hi: dt.date) -> dict[dt.date, Recorded]:
    """The latest record of each date of ``spec`` on ``[lo, hi]`` (dates never recorded are
    absent; empty before the first record). One query."""
    if not wh.table_exists(FINGERPRINTS.name):
        return {}
    rows = wh.fetch(
        render_file(READS_DIR / "recorded_fingerprints.sql"),
        {"table_name": spec.name, "start_date": lo, "end_date": hi},
    )
    return {
        _as_date(r["game_date"]): Recorded(
            str(r["model_sha"]), json.loads(str(r["inputs_fingerprint"] or "{}"))
        )
        for r in rows
    }


def before_write(wh: Warehouse, spec: TableSpec, dates: Sequence[dt.date]) -> Fingerprints:
    """The fingerprints of what ``dates`` of ``spec`` read now, taken before they are written
    (see the module's docstring for why before). Read from the adapter itself, not through
    the run's wrappers (retries, injected faults, accounting): bookkeeping, which never fails a
    chunk — on a
    warehouse error nothing is recorded (the dates keep their previous record) and it is
    logged."""
    try:
        return InputReader(innermost(wh)).current(spec, dates)
    except WarehouseError as exc:
        log.warning("%s: inputs not fingerprinted, nothing recorded: %s", spec.name, exc)
        return {}


def after_write(
    wh: Warehouse, spec: TableSpec, prints: Mapping[dt.date, Mapping[str, str]]
) -> None:
    """:func:`record` the written dates' fingerprints; a warehouse error is logged, never
    raised (the rows are written: failing the chunk now would only rewrite them)."""
    try:
        record(wh, spec, prints)
    except WarehouseError as exc:
        log.warning("%s: write fingerprints not recorded: %s", spec.name, exc)


def record(wh: Warehouse, spec: TableSpec, prints: Mapping[dt.date, Mapping[str, str]]) -> None:
    """Append one ledger row per date of ``prints`` (taken before the write): the model's hash
    and the inputs' fingerprints. Appending the same record again changes nothing."""
    if not prints:
        return
    target = loader(wh)
    target.ensure_raw_tables([FINGERPRINTS])
    now = dt.datetime.now(dt.UTC)
    sha = model_sha(spec.name)
    rows = [
        (spec.name, day, sha, json.dumps(dict(sorted(fp.items())), sort_keys=True), now)
        for day, fp in sorted(prints.items())
    ]
    target.load_raw(FINGERPRINTS, rows, replace=False)


__all__ = [
    "FINGERPRINTS",
    "Fingerprints",
    "Input",
    "InputReader",
    "Recorded",
    "after_write",
    "before_write",
    "inputs_of",
    "model_sha",
    "record",
    "recorded",
]
