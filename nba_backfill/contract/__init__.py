"""Production's warehouse contract: the platform's BigQuery tables as data.

``warehouse.json`` is production's schema of every table nba-backfill reads (``inputs``: Phase 2
raw tables and the player registry) and writes (``outputs``: the 5 Phase 3 and 5 Phase 4
tables), parsed from the platform's public DDL (``schemas/bigquery/**`` of
``najicham/nba-stats-scraper``); a test keeps it equal to the shared copy the project was given.
Every table fact (date column, clustering, expiration, partition filter, columns, types, modes)
comes from here; nothing else states a schema.

Decisions recorded here (the contract states facts, these say how they are read):

* ``BOOLEAN`` and ``BOOL`` are one type (BigQuery aliases); types are normalised to the names
  BigQuery reports back (``BOOL``, ``INT64``, ``FLOAT64``, ``NUMERIC(p,s)`` …).
* An ``ARRAY<…>`` column is ``REPEATED`` whatever mode the DDL line gave: BigQuery has no
  NULLABLE arrays (``ALTER TABLE … ADD COLUMN x ARRAY<STRING>`` creates a REPEATED column).
* Columns added by a file under ``migrations/`` exist only once that migration is promoted
  (the feature store's V18 columns): they are *optional* — never created, never required,
  and not drift when a live table has them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlglot import exp

CONTRACT_PATH = Path(__file__).parent / "warehouse.json"

_ALIASES = {"BOOLEAN": "BOOL", "INTEGER": "INT64", "FLOAT": "FLOAT64", "DECIMAL": "NUMERIC"}


@dataclass(frozen=True)
class Column:
    """One production column: ``type`` as BigQuery DDL text (normalised), ``mode`` one of
    REQUIRED / NULLABLE / REPEATED, ``optional`` when only a not-yet-promoted migration adds it."""

    name: str
    type: str
    mode: str
    source: str | None = None

    @property
    def required(self) -> bool:
        return self.mode == "REQUIRED"

    @property
    def optional(self) -> bool:
        return bool(self.source and "/migrations/" in f"/{self.source}")

    @property
    def data_type(self) -> exp.DataType:
        """The type as a sqlglot tree (render it for any dialect)."""
        return _data_type(self.type)

    @property
    def base(self) -> str:
        """``NUMERIC`` for ``NUMERIC(5,2)``, ``ARRAY`` for ``ARRAY<STRING>`` …"""
        return self.type.split("<")[0].split("(")[0].strip()

    @property
    def scale(self) -> int | None:
        """Digits after the point of a ``NUMERIC(p,s)`` column (production rounds to it)."""
        if self.base != "NUMERIC" or "(" not in self.type:
            return None
        return int(self.type.split("(")[1].rstrip(")").split(",")[1])


@dataclass(frozen=True)
class TableContract:
    """Production's definition of one table (``dataset.table``)."""

    dataset: str
    table: str
    columns: tuple[Column, ...]
    partition_by: str | None
    cluster_by: tuple[str, ...]
    require_partition_filter: bool
    partition_expiration_days: float | None
    source: str
    extra: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.dataset}.{self.table}"

    @property
    def live_columns(self) -> tuple[Column, ...]:
        """The columns a table created today has (optional migration columns left out)."""
        return tuple(c for c in self.columns if not c.optional)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r} in production's contract")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.live_columns)


def normalise_type(text: str) -> str:
    """BigQuery DDL type text in one canonical form (aliases resolved, ``NUMERIC(5,2)``)."""
    return _data_type(text).sql(dialect="bigquery").replace(", ", ",")


@cache
def _data_type(text: str) -> exp.DataType:
    return exp.DataType.build(text, dialect="bigquery")


def _column(raw: dict[str, Any]) -> Column:
    ty = normalise_type(raw["type"])
    head = ty.split("<")[0].split("(")[0]
    ty = _ALIASES.get(head, head) + ty[len(head) :]
    mode = "REPEATED" if head == "ARRAY" else raw["mode"]
    return Column(raw["name"], ty, mode, raw.get("source"))


def _table(name: str, raw: dict[str, Any]) -> TableContract:
    cols = tuple(_column(c) for c in [*raw["columns"], *raw.get("added_columns", [])])
    known = {"dataset", "columns", "added_columns", "partition_by", "cluster_by", "source"}
    known |= {"require_partition_filter", "partition_expiration_days"}
    return TableContract(
        dataset=raw["dataset"],
        table=name,
        columns=cols,
        partition_by=raw.get("partition_by"),
        cluster_by=tuple(raw.get("cluster_by") or ()),
        require_partition_filter=bool(raw.get("require_partition_filter")),
        partition_expiration_days=raw.get("partition_expiration_days"),
        source=raw.get("source", ""),
        extra={k: v for k, v in raw.items() if k not in known},
    )


@cache
def load() -> dict[str, TableContract]:
    """Every table of the contract by ``dataset.table`` (inputs and outputs)."""
    raw = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
    out: dict[str, TableContract] = {}
    for section in ("inputs", "outputs"):
        for name, table in raw[section].items():
            t = _table(name, table)
            out[t.name] = t
    return out


@cache
def output_names() -> tuple[str, ...]:
    raw = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
    return tuple(f"{t['dataset']}.{n}" for n, t in raw["outputs"].items())


def table(name: str) -> TableContract:
    """Production's contract of ``dataset.table``; KeyError names the table when unknown."""
    try:
        return load()[name]
    except KeyError:
        raise KeyError(f"{name} is not in production's contract") from None
