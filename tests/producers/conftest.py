"""The stand-in processor as a command producer."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from nba_backfill.settings import ProducerSettings

STANDIN = Path(__file__).with_name("standin.py")


def standin_command(table: str) -> str:
    """The platform job's command line, the stand-in in its place."""
    return (
        f"{shlex.quote(sys.executable)} {shlex.quote(str(STANDIN))} --table {table} "
        "--start-date {start} --end-date {end} --dates {dates} --no-resume --parallel "
        "--workers 2"
    )


def standin(table: str, *, timeout: float = 120, pre_delete: bool = False, **env: str):
    return ProducerSettings(
        command=standin_command(table),
        env=env,
        timeout_seconds=timeout,
        pre_delete=pre_delete,
    )


__all__ = ["STANDIN", "standin", "standin_command"]
