"""The validation gate on demand (the runbook's hand-run validation script), as a flow."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow

from flows import hooks, names
from nba_backfill.params import parse_phase, resolve_params
from tasks import common
from tasks.validation import validate_phase


@flow(
    name="validate",
    flow_run_name=names.validate_run_name,
    on_failure=[hooks.validate_failed],
    on_crashed=[hooks.run_crashed],
    validate_parameters=False,  # resolve_params validates, in one line (nba_backfill.params)
)
def validate(
    phase: int = 3,
    start: dt.date | None = None,
    end: dt.date | None = None,
    tables: list[str] | None = None,
) -> dict[str, Any]:
    """Check ``phase`` on ``[start, end]`` (coverage, per-date completeness, NULL and duplicate
    keys; Phase 4 adds ML readiness). Fails, naming what is missing, when the gate does not
    pass; publishes the ``phase<N>-validation`` / ``phase<N>-gate`` artifacts either way."""
    phase = parse_phase(phase)
    params = resolve_params(common.settings(), start, end, tables)
    try:
        report = validate_phase(phase, params.start, params.end, params.tables, gate=True)
    finally:
        common.end_of_run()
    return report.as_dict()
