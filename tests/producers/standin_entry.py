"""Entry points for the entry point producer tests: ``tests.producers.standin_entry:<name>``,
each called with a chunk's dates in a child process."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from tests.producers.standin import merge


def team_offense(dates: list[dt.date]) -> None:
    """The stand-in's MERGE of team_offense_game_summary; the first ``STANDIN_QUOTA_FAILS``
    calls raise BigQuery's quota error instead (counted in ``STANDIN_STATE``)."""
    fails = int(os.environ.get("STANDIN_QUOTA_FAILS", "0"))
    if fails:
        state = Path(os.environ["STANDIN_STATE"])
        seen = int(state.read_text()) if state.exists() else 0
        state.write_text(str(seen + 1))
        if seen < fails:
            from google.api_core.exceptions import Forbidden

            raise Forbidden("Quota exceeded: Your table exceeded quota for table update operations")
    print(f"merging {len(dates)} dates", flush=True)
    merge("team_offense_game_summary", dates, [])


NOT_CALLABLE = 42
