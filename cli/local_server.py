"""A local Prefect server whose state lives in the project's folder (SPEC §9: ephemeral mode
loses task-run history at exit, so local runs talk to a real `prefect server start`).

Prefect reads its settings from the environment when imported: call :func:`configure` before
anything imports prefect."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from nba_backfill.errors import BackfillError

DEFAULT_PORT = 4200


def prefect_home(home: Path) -> Path:
    return (home / "prefect").resolve()


def base_env(home: Path) -> dict[str, str]:
    """Environment every local Prefect process of this project shares."""
    return {
        "PREFECT_HOME": str(prefect_home(home)),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "PREFECT_LOGGING_EXTRA_LOGGERS": "nba_backfill",
        # Core code also runs outside flows (seeding, CLI reads): log locally there.
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    }


def healthy(api_url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _pid_file(home: Path) -> Path:
    return prefect_home(home) / "server.pid"


def ensure_server(home: Path, port: int = DEFAULT_PORT, timeout: float = 120.0) -> str:
    """Return the API URL of the local server, starting it in the background when it is not
    running. It keeps running after the command so the UI shows the history; stop it with
    :func:`stop_server`."""
    api = f"http://127.0.0.1:{port}/api"
    if healthy(api):
        return api
    phome = prefect_home(home)
    phome.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **base_env(home), "PREFECT_UI_API_URL": api}
    env.pop("PREFECT_API_URL", None)
    log = open(phome / "server.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    _pid_file(home).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthy(api):
            return api
        if proc.poll() is not None:
            raise BackfillError(
                f"the local Prefect server exited (code {proc.returncode}); "
                f"see {phome / 'server.log'}"
            )
        time.sleep(0.5)
    raise BackfillError(f"the local Prefect server did not become healthy in {timeout:.0f}s")


def stop_server(home: Path) -> bool:
    pid_file = _pid_file(home)
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    pid_file.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def configure(home: Path, port: int = DEFAULT_PORT, *, start_server: bool = True) -> str | None:
    """Point this process's Prefect at the project's server (unless PREFECT_API_URL is already
    set: CI, deployments and tests bring their own)."""
    for key, value in base_env(home).items():
        os.environ.setdefault(key, value)
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    if not start_server:
        return None
    api = ensure_server(home, port)
    os.environ["PREFECT_API_URL"] = api
    return api
