"""The settings reference, written from the settings model:
``python -m cli.settings_doc > docs/settings.md``.

Every field of :class:`nba_backfill.settings.Settings` becomes one row: its environment
variable, type, default, bounds and description, so the reference cannot drift from the
model (``tests/test_docs.py`` fails when the committed file is stale).
"""

from __future__ import annotations

import datetime as dt
import sys
import types
import typing
from pathlib import Path

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from nba_backfill.settings import Settings, env_var

COMMAND = "python -m cli.settings_doc > docs/settings.md"

INTRO = f"""\
# Settings reference

<!-- Generated from nba_backfill/settings.py by `{COMMAND}`; do not edit by hand
     (tests/test_docs.py fails when this file and the model differ). -->

Every setting is an environment variable with the prefix `NBA_BACKFILL_`, nested sections
joined with `__` (`NBA_BACKFILL_WAREHOUSE__BACKEND=bigquery`), or the same line in a `.env`
file in the working directory. Lists take a JSON list or comma-separated values. An invalid
value (out of bounds, wrong pattern, an end date before the start, a Slack URL that is not
https) stops every command before it starts with one line naming the variable, exit 2.

Why the run defaults are what they are (chunk_days 92, max_concurrency 8): see
[benchmarks.md](benchmarks.md#defaults). The `faults` section is a test seam, off by default:
see [reliability.md](reliability.md#fault-injection).
"""

SECTION_TITLES = {
    "": "Top level",
    "warehouse": "warehouse: where the tables live",
    "warehouse.datasets": "warehouse.datasets: physical dataset names",
    "run": "run: what a backfill covers and how wide it runs",
    "retry": "retry: the one retry policy of warehouse jobs",
    "prefect": "prefect: work pools, Slack, fan-out, reruns",
    "deploy": "deploy: what `nba-backfill setup` registers for Cloud Run",
    "faults": "faults: test seams (off by default)",
    "producers.<table>": "producers.<table>: the platform's own processor instead of the SQL model",
}


def _type(annotation: object) -> str:
    """A field's type in words: ``Literal['a', 'b']`` -> ```a` | `b```, ``int | None`` ->
    ``int, optional``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        text = " \\| ".join(_type(a) for a in inner)
        return f"{text}, optional" if len(inner) < len(args) else text
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return "JSON object"
    names = {
        str: "text",
        int: "integer",
        float: "number",
        bool: "boolean",
        Path: "path",
        dt.date: "date (YYYY-MM-DD)",
        SecretStr: "secret text (never logged)",
    }
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))  # type: ignore[call-overload]


def _size(n: int) -> str:
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} bytes"


def _default(name: str, field: FieldInfo) -> str:
    value = field.default
    if value is PydanticUndefined and field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    if value is None:
        return "unset"
    if isinstance(value, dict):
        return "empty" if not value else f"`{value}`"
    if isinstance(value, list):
        return ", ".join(f"`{v}`" for v in value) if value else "empty"
    if isinstance(value, int) and not isinstance(value, bool) and "bytes" in name:
        return f"`{value}` ({_size(value)})"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def _bounds(name: str, field: FieldInfo) -> str:
    parts = []
    for m in field.metadata:
        if isinstance(m, Ge):
            parts.append(f"≥ {_number(name, m.ge)}")
        elif isinstance(m, Gt):
            parts.append(f"> {_number(name, m.gt)}")
        elif isinstance(m, Le):
            parts.append(f"≤ {_number(name, m.le)}")
        elif isinstance(m, Lt):
            parts.append(f"< {_number(name, m.lt)}")
        elif isinstance(m, MinLen):
            parts.append(f"length ≥ {m.min_length}")
        elif isinstance(m, MaxLen):
            parts.append(f"length ≤ {m.max_length}")
        elif (pattern := getattr(m, "pattern", None)) is not None:
            parts.append("matches `" + pattern.replace("|", "\\|") + "`")
    return ", ".join(parts)


def _number(name: str, value: object) -> str:
    if isinstance(value, int) and "bytes" in name:
        return _size(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _sections(
    model: type[BaseModel], path: tuple[str, ...] = ()
) -> typing.Iterator[tuple[tuple[str, ...], type[BaseModel], list[tuple[str, FieldInfo]]]]:
    """(path, model, leaf fields) for ``model`` and every nested section, depth first."""
    leaves = []
    nested: list[tuple[tuple[str, ...], type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        args = typing.get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested.append(((name,), annotation))
        elif typing.get_origin(annotation) is dict and issubclass(args[1], BaseModel):
            # One section per key (a table): documented once, the key as a placeholder.
            nested.append(((name, "<table>"), args[1]))
        else:
            leaves.append((name, field))
    yield path, model, leaves
    for parts, sub in nested:
        yield from _sections(sub, (*path, *parts))


def render() -> str:
    """The whole reference as Markdown, one table per settings section."""
    lines = [INTRO]
    for path, model, leaves in _sections(Settings):
        if not leaves:
            continue
        key = ".".join(path)
        lines.append(f"## {SECTION_TITLES.get(key, key)}\n")
        if path and model.__doc__:
            lines.append(" ".join(model.__doc__.split()) + "\n")
        lines.append("| variable | type | default | bounds | description |")
        lines.append("|---|---|---|---|---|")
        for name, field in leaves:
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"`{env_var(*path, name)}`",
                        _type(field.annotation),
                        _default(name, field),
                        _bounds(name, field),
                        _cell(field.description or ""),
                    ]
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
