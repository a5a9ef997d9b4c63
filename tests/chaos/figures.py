"""The chaos tests' figures (faults injected, retries, dates failed / filled, time to recover):
collected while they run, printed at the end of the session and written to
``$NBA_BACKFILL_HOME/chaos/figures-<scenario>.json`` (default ``.nba-backfill``).

A plugin of the root conftest rather than hooks of tests/chaos/conftest.py: under pytest-xdist
(``make test`` runs ``-n 2``) the tests run in worker processes and the summary is printed by
the controller, which never collects tests/chaos; the workers hand their figures over at the
end (``workeroutput``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nba_backfill.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
_HOME = load_settings().home  # NBA_BACKFILL_HOME as the session starts (tests set their own)
FIGURES_DIR = (_HOME if _HOME.is_absolute() else REPO / _HOME) / "chaos"
FIGURES: list[dict[str, Any]] = []
_KEY = "chaos_figures"


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller prints and writes them
        workeroutput[_KEY] = json.dumps(FIGURES, default=str)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist's controller: a worker finished; keep its figures."""
    FIGURES.extend(json.loads(getattr(node, "workeroutput", {}).get(_KEY, "[]")))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    for name in sorted({f["scenario"] for f in FIGURES}):
        rows = [f for f in FIGURES if f["scenario"] == name]
        (FIGURES_DIR / f"figures-{name}.json").write_text(json.dumps(rows, indent=2, default=str))
    terminalreporter.section("chaos figures")
    for f in FIGURES:
        rest = {k: v for k, v in f.items() if k not in ("scenario", "test")}
        terminalreporter.write_line(
            f"{f['scenario']:>4} · {f['test']}: {json.dumps(rest, default=str)}"
        )
    terminalreporter.write_line(f"(written to {FIGURES_DIR}/figures-<scenario>.json)")
