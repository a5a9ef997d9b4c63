"""Tables for people, at any terminal width from 80 columns up (STYLE 13).

A table is named by its short name (``player_game_summary``) under a row naming its dataset, so
a name never has to be cut: the longest short name is 28 characters, a ``dataset.table`` name
up to 42. Columns are separated by two spaces and no frame; text columns wrap on words; a
layout too wide for the terminal is replaced by a narrower one that says the same (see
:func:`fits`), never truncated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import groupby

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

NAME_COLUMN = "table"


def new_table(title: str, columns: Sequence[str], *, text: Sequence[str] = ()) -> Table:
    """An empty table: the first column holds table names (never wrapped), the columns in
    ``text`` hold text (left-aligned, wrapped on words, a word longer than the column folded),
    the others numbers (right-aligned; their headers wrap on spaces)."""
    t = Table(
        title=title,
        min_width=Text.from_markup(title).cell_len,  # a title never wraps above a narrow table
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for col in columns:
        if col == columns[0]:
            t.add_column(col, no_wrap=True)
        elif col in text:
            t.add_column(col, overflow="fold")
        else:
            t.add_column(col, justify="right")
    return t


def add_grouped_rows(
    t: Table,
    rows: Iterable[tuple[str, Sequence[str | Text]]],
    label: dict[str, str] | None = None,
) -> None:
    """Add ``(dataset.table, cells)`` rows: a dimmed row naming each dataset (or
    ``label[dataset]``), then its tables by short name. Consecutive rows of one dataset share
    its heading; the order of ``rows`` is kept."""
    width = len(t.columns) - 1
    for dataset, group in groupby(rows, key=lambda row: row[0].partition(".")[0]):
        heading = (label or {}).get(dataset, dataset)
        t.add_row(Text(heading, style="bold dim"), *([""] * width))
        for name, cells in group:
            t.add_row(short_name(name), *cells)


def short_name(name: str) -> str:
    """``nba_analytics.player_game_summary`` -> ``player_game_summary`` (a bare name as is)."""
    return name.rpartition(".")[2]


def fits(console: Console, table: Table) -> bool:
    """Whether ``table`` fits the console's width without cutting a cell: its narrowest
    rendering (every wrappable column at its longest word) is no wider than the console."""
    # Measured against an unbounded width: Console.measure clamps the minimum to the
    # console's width, which would make every table "fit".
    unbounded = console.options.update(max_width=10_000)
    return Measurement.get(console, unbounded, table).minimum <= console.width
