"""Flow-run names built from a run's *resolved* parameters.

A name template such as ``"backfill · {start}..{end}"`` formats the raw parameters, so a
deployment run started without dates showed ``backfill · None..None`` although it ran the
settings' default range. Prefect accepts a callable ``flow_run_name`` (called with no
arguments, inside the run's context): these read the run's parameters and resolve them with
the same ``nba_backfill.params`` functions the flows use, so the name shows what the run does.

A name never fails a run: parameters that do not resolve keep their raw spelling in the name,
and the flow itself then fails with its one-line UsageError, as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from nba_backfill.params import parse_phase, resolve_params, resolve_rerun_params
from tasks import common


def _parameters() -> Mapping[str, Any]:
    from prefect.runtime import flow_run

    return flow_run.parameters or {}


def _span(p: Mapping[str, Any]) -> str:
    """``start..end`` as the run resolves them; the raw values when they do not resolve."""
    try:
        params = resolve_params(
            common.settings(),
            p.get("start"),
            p.get("end"),
            mode=p.get("mode"),
            dates=p.get("dates"),
            downstream=p.get("downstream", True),
        )
    except Exception:  # a bad parameter: the flow reports it in one line; the name just shows it
        return f"{p.get('start')}..{p.get('end')}"
    return f"{params.start}..{params.end}"


def backfill_run_name() -> str:
    return f"backfill · {_span(_parameters())}"


def table_run_name() -> str:
    p = _parameters()
    return f"backfill-table · {p.get('table')} · {_span(p)}"


def validate_run_name() -> str:
    p = _parameters()
    try:
        phase: object = parse_phase(p.get("phase", 3))
    except Exception:  # reported by the flow, in one line
        phase = p.get("phase")
    return f"validate · phase {phase} · {_span(p)}"


def rerun_run_name() -> str:
    """``rerun-failed-dates · since <when>``: the start of the history window it reads (the
    dates it refills are only known once it has read that history)."""
    p = _parameters()
    try:
        rp = resolve_rerun_params(
            common.settings(),
            p.get("lookback_days"),
            p.get("chunk_days"),
            p.get("max_concurrency"),
            p.get("since"),
        )
    except Exception:  # reported by the flow, in one line
        return "rerun-failed-dates"
    since = rp.since or dt.datetime.now(dt.UTC) - dt.timedelta(days=rp.lookback_days)
    return f"rerun-failed-dates · since {since:%Y-%m-%d %H:%M} UTC"
