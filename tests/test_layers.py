"""The rings are enforced by import-linter (``make lint`` runs ``lint-imports``; the contracts
are in pyproject.toml). These tests keep the contracts honest: every core module is covered,
and a forbidden import really breaks the build."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("nba_backfill", "tasks", "flows", "deployments", "cli", "devtools")


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(config["tool"]["importlinter"]["contracts"])


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).parent / "lint-imports"
    return subprocess.run(
        [str(lint), "--no-logo", "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": str(Path(sys.executable).parent)},
        check=False,
    )


def test_every_core_module_is_under_the_adapter_contract() -> None:
    """A new core module must be listed, or it could import an adapter unnoticed."""
    (adapter,) = [c for c in _contracts() if "never an adapter" in str(c["name"])]
    listed = set(adapter["source_modules"])  # type: ignore[arg-type]
    core = {f"nba_backfill.{p.stem}" for p in (ROOT / "nba_backfill").glob("*.py")}
    core |= {f"nba_backfill.{p.name}" for p in (ROOT / "nba_backfill").iterdir() if p.is_dir()}
    core -= {"nba_backfill.__init__", "nba_backfill.warehouse", "nba_backfill.__pycache__"}
    core = {m for m in core if not m.endswith((".sql", ".views"))}
    assert core - listed == set()


def test_a_core_module_importing_a_flow_breaks_the_contracts(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert _lint(tmp_path).returncode == 0, _lint(tmp_path).stdout

    planner = tmp_path / "nba_backfill" / "planner.py"
    planner.write_text(planner.read_text() + "\nimport flows.backfill  # noqa\n")
    broken = _lint(tmp_path)
    assert broken.returncode == 1
    assert "Rings: entry points -> flows -> tasks -> core BROKEN" in broken.stdout
    assert "The core is Prefect-free BROKEN" in broken.stdout


def test_a_decision_importing_an_adapter_breaks_the_contracts(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    validation = tmp_path / "nba_backfill" / "validation.py"
    validation.write_text(
        validation.read_text() + "\nfrom nba_backfill.warehouse import open_warehouse  # noqa\n"
    )
    broken = _lint(tmp_path)
    assert broken.returncode == 1
    assert "never an adapter BROKEN" in broken.stdout
