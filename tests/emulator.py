"""An offline BigQuery emulator (bqemulator, SPEC §8) for the BigQuery adapter's tests.

bqemulator pins DuckDB 1.5.5 while nba-backfill uses DuckDB 2.x, so it lives in its own virtual
environment under ``$NBA_BACKFILL_HOME/tools/`` (default ``.nba-backfill``, git-ignored),
installed once from PyPI and reused: a second session finds it ready in well under a second.
The DuckDB ``spatial`` extension that the emulator loads at start (and would otherwise
download) is installed from its PyPI wheel into a HOME of its own under the same folder, so
starting needs no network.

Use it as a pytest plugin (``pytest_plugins = ["tests.emulator"]`` in a root conftest, or import
the fixtures into a conftest): ``bq_emulator`` (session) is the REST endpoint,
``bq_settings`` (session) the settings of a ``bigquery`` backend pointed at it, and
``bq_warehouse`` a :class:`BigQueryWarehouse` with datasets of its own per test. If the
emulator cannot be installed or started the tests using it fail, with the reason: CI must prove
the BigQuery adapter, not skip it.

From a shell: ``uv run python -m tests.emulator install`` or ``... serve [--port 9050]``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nba_backfill.settings import Settings, load_settings
from nba_backfill.sqlfiles import LOGICAL_DATASETS
from nba_backfill.warehouse.bigquery import BigQueryWarehouse

BQEMULATOR_VERSION = "1.4.0"
DUCKDB_VERSION = "1.5.5"  # the DuckDB that bqemulator 1.4.0 is built against
REQUIREMENTS = (
    f"bqemulator=={BQEMULATOR_VERSION}",
    f"duckdb=={DUCKDB_VERSION}",
    f"duckdb-extension-spatial=={DUCKDB_VERSION}",  # loaded at start; else downloaded
    f"duckdb-extension-avro=={DUCKDB_VERSION}",  # optional; else a download is tried at start
    "numpy",  # imported by bqemulator, not declared by it
    "testcontainers",  # bqemulator's pytest plugin fails to load without it
)
EXTENSIONS = ("spatial", "avro")
PROJECT = "nba-test-project"

ROOT = Path(__file__).resolve().parents[1]


def _local_home() -> Path:
    """NBA_BACKFILL_HOME as the session starts (a relative one is the repository's, as in the
    Makefile); read once, so a test's own home never moves the installed tools."""
    home = load_settings().home
    return home if home.is_absolute() else ROOT / home


TOOLS_DIR = _local_home() / "tools"
START_TIMEOUT_SECONDS = 60.0
INSTALL_TIMEOUT_SECONDS = 600.0

# Seconds spent by the last install() / start() of this process, for reports.
TIMINGS: dict[str, float] = {}


class EmulatorError(RuntimeError):
    """The emulator could not be installed or started; the message says what to look at."""


@dataclass(frozen=True)
class Installation:
    venv: Path
    home: Path  # HOME of the emulator process: holds ~/.duckdb/extensions

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def executable(self) -> Path:
        return self.venv / "bin" / "bqemulator"

    @property
    def marker(self) -> Path:
        return self.venv / "nba-backfill-install.json"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
        env["HOME"] = str(self.home)
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=env,
            timeout=INSTALL_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EmulatorError(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        raise EmulatorError(
            f"{what} failed (exit {done.returncode}): {' '.join(cmd)}\n" + "\n".join(tail)
        )
    return done.stdout


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (pytest sessions running side by side)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _expected_marker() -> dict[str, object]:
    return {"requirements": list(REQUIREMENTS), "extensions": list(EXTENSIONS)}


def _is_installed(inst: Installation) -> bool:
    if not (inst.executable.exists() and inst.marker.exists()):
        return False
    try:
        recorded = json.loads(inst.marker.read_text())
    except (OSError, ValueError):
        return False
    ext_dir = inst.home / ".duckdb" / "extensions" / f"v{DUCKDB_VERSION}"
    have = {p.name.split(".")[0] for p in ext_dir.glob("*/*.duckdb_extension")}
    return recorded == _expected_marker() and set(EXTENSIONS) <= have


def _base_python() -> str:
    """The interpreter to build the tool venv from: this one's base (Python 3.11, installed
    locally — uv must not try to download one)."""
    return str(getattr(sys, "_base_executable", None) or sys.executable)


def install(tools_dir: Path = TOOLS_DIR) -> Installation:
    """Install bqemulator and its DuckDB extensions into ``tools_dir`` unless already there."""
    inst = Installation(tools_dir / "bqemulator", tools_dir / "bqemulator-home")
    started = time.perf_counter()
    with _locked(tools_dir / "bqemulator.lock"):
        if _is_installed(inst):
            TIMINGS["install"] = time.perf_counter() - started
            return inst
        if inst.venv.exists():
            shutil.rmtree(inst.venv)
        uv = shutil.which("uv")
        if uv:
            _run(
                [
                    uv,
                    "venv",
                    "--python",
                    _base_python(),
                    "--python-preference",
                    "only-system",
                    str(inst.venv),
                ],
                "creating the bqemulator venv",
            )
            _run(
                [uv, "pip", "install", "--python", str(inst.python), *REQUIREMENTS],
                "installing bqemulator (from PyPI)",
            )
        else:  # no uv on PATH: the standard library's venv and pip do the same, slower
            _run([_base_python(), "-m", "venv", str(inst.venv)], "creating the bqemulator venv")
            _run(
                [str(inst.python), "-m", "pip", "install", "--quiet", *REQUIREMENTS],
                "installing bqemulator (from PyPI)",
            )
        inst.home.mkdir(parents=True, exist_ok=True)
        # FORCE INSTALL from the wheels' files, with the HOME the emulator runs with, lands the
        # extensions in $HOME/.duckdb/extensions/v1.5.5/<platform>/ where LOAD finds them.
        script = (
            "import glob, importlib, os, sys, duckdb\n"
            "con = duckdb.connect()\n"
            "for name in sys.argv[1:]:\n"
            "    pkg = importlib.import_module('duckdb_extension_' + name)\n"
            "    root = os.path.dirname(pkg.__file__)\n"
            "    files = glob.glob(os.path.join(root, 'extensions', '*', name + "
            "'.duckdb_extension'))\n"
            "    if not files:\n"
            "        sys.exit(f'no {name}.duckdb_extension in {root}')\n"
            '    path = files[0].replace("\'", "\'\'")\n'
            "    con.execute(f\"FORCE INSTALL '{path}'\")\n"
        )
        _run(
            [str(inst.python), "-c", script, *EXTENSIONS],
            "installing the DuckDB extensions offline",
            env=inst.env(),
        )
        inst.marker.write_text(json.dumps(_expected_marker()))
    TIMINGS["install"] = time.perf_counter() - started
    return inst


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/healthz", timeout=1.0) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class EmulatorProcess:
    endpoint: str
    process: subprocess.Popen[bytes]
    log_path: Path
    rest_port: int
    grpc_port: int
    _stopped: bool = field(default=False, repr=False)

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Terminate the emulator (SIGTERM to its process group, then SIGKILL after 10 s)."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM the emulator when the process that started it dies (a killed pytest or
    CI step must not leave it running)."""
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def start(
    inst: Installation,
    project: str = PROJECT,
    *,
    rest_port: int | None = None,
    grpc_port: int | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
) -> EmulatorProcess:
    """Start an ephemeral (in-memory) emulator on free local ports; return once /healthz
    answers. Raises EmulatorError with the end of its log when it does not come up."""
    rest = rest_port or _free_port()
    grpc = grpc_port or _free_port()
    logs = inst.venv.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old in sorted(logs.glob("bqemulator-*.log"), key=lambda p: p.stat().st_mtime)[:-4]:
        old.unlink(missing_ok=True)  # keep the last few runs' logs for debugging
    log_path = logs / f"bqemulator-{rest}.log"
    cmd = [
        str(inst.executable), "start", "--project", project,
        "--rest-host", "127.0.0.1", "--rest-port", str(rest),
        "--grpc-host", "127.0.0.1", "--grpc-port", str(grpc),
        "--ephemeral", "--log-level", "warning", "--log-format", "console",
    ]  # fmt: skip
    started = time.perf_counter()
    with open(log_path, "wb") as log_fh:
        process = subprocess.Popen(
            cmd,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=inst.env(),
            start_new_session=True,  # its own process group: stop() ends it and its children
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    emu = EmulatorProcess(f"http://127.0.0.1:{rest}", process, log_path, rest, grpc)
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise EmulatorError(
                f"bqemulator exited with code {process.returncode} before it was ready "
                f"({log_path}):\n{emu.log_tail()}"
            )
        if _healthy(emu.endpoint):
            TIMINGS["start"] = time.perf_counter() - started
            return emu
        time.sleep(0.1)
    emu.stop()
    raise EmulatorError(
        f"bqemulator did not answer {emu.endpoint}/healthz within {timeout:.0f} s "
        f"({log_path}):\n{emu.log_tail()}"
    )


@contextlib.contextmanager
def running_emulator(project: str = PROJECT, tools_dir: Path = TOOLS_DIR) -> Iterator[str]:
    """Install if needed, start, yield the REST endpoint, and stop the emulator at the end."""
    inst = install(tools_dir)
    emu = start(inst, project)
    try:
        yield emu.endpoint
    finally:
        emu.stop()


# --- pytest fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def bq_emulator() -> Iterator[str]:
    """REST endpoint of a bqemulator running for the whole test session (project
    ``nba-test-project``). Fails — never skips — when it cannot be installed or started."""
    try:
        emu = start(install(), PROJECT)
    except EmulatorError as exc:
        pytest.fail(f"BigQuery emulator unavailable: {exc}", pytrace=False)
    try:
        yield emu.endpoint
    finally:
        emu.stop()


def emulator_settings(endpoint: str, suffix: str = "") -> Settings:
    """Settings of a ``bigquery`` backend on the emulator; ``suffix`` makes every physical
    dataset name unique (per test) so tests never see each other's tables."""
    warehouse: dict[str, object] = {
        "backend": "bigquery",
        "emulator_endpoint": endpoint,
        "project": PROJECT,
    }
    if suffix:
        warehouse["datasets"] = {d: f"{d}_{suffix}" for d in LOGICAL_DATASETS}
    return load_settings(warehouse=warehouse)


@pytest.fixture(scope="session")
def bq_settings(bq_emulator: str) -> Settings:
    """Settings of a ``bigquery`` backend on the session's emulator (production dataset names)."""
    return emulator_settings(bq_emulator)


@pytest.fixture
def bq_warehouse(bq_emulator: str) -> Iterator[BigQueryWarehouse]:
    """A BigQueryWarehouse on the emulator whose datasets are this test's own."""
    wh = BigQueryWarehouse(emulator_settings(bq_emulator, uuid.uuid4().hex[:8]))
    try:
        yield wh
    finally:
        wh.close()


# --- command line --------------------------------------------------------------------------------


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="install bqemulator into .nba-backfill/tools")
    serve = sub.add_parser("serve", help="install if needed and run until interrupted")
    serve.add_argument("--port", type=int, default=9050, help="REST port (gRPC: port + 10)")
    serve.add_argument("--project", default=PROJECT)
    args = parser.parse_args(argv)
    try:
        inst = install()
        print(f"bqemulator {BQEMULATOR_VERSION} ready in {inst.venv} ({TIMINGS['install']:.1f} s)")
        if args.command == "serve":
            emu = start(inst, args.project, rest_port=args.port, grpc_port=args.port + 10)
            print(
                f"serving {emu.endpoint} (project {args.project}) after "
                f"{TIMINGS['start']:.1f} s; set NBA_BACKFILL_WAREHOUSE__EMULATOR_ENDPOINT="
                f"{emu.endpoint}; Ctrl-C stops it"
            )
            # SIGTERM (timeout, kill) stops it as cleanly as Ctrl-C does.
            signal.signal(signal.SIGTERM, _interrupt)
            try:
                emu.process.wait()
            except KeyboardInterrupt:
                pass
            finally:
                emu.stop()
    except EmulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
