"""The local Prefect server of one checkout: its state in ``<NBA_BACKFILL_HOME>/prefect`` (SPEC
§9: ephemeral mode loses task-run history at exit, so local runs talk to a real server).

Prefect manages the process: ``prefect server start --background`` writes
``$PREFECT_HOME/server.pid`` and refuses a port in use, ``prefect server stop`` signals the pid
that file holds. This module adds what that pair does not check:

* the server answering on the port is this home's (its ``/api/admin/settings`` names its
  PREFECT_HOME); else the command refuses in one line, so a second checkout never writes its run
  history and run lock into the first one's server;
* a pid file is acted on only when the process it names is a Prefect server whose PREFECT_HOME
  is ours (``/proc/<pid>/cmdline`` and ``environ``); a stale file is removed, its pid never
  signalled;
* an explicit ``PREFECT_API_URL`` is the user's choice (no home check), but an unreachable or
  non-Prefect one is reported in one line before anything runs.

Prefect reads its settings from the environment when imported: call :func:`configure` before
anything imports prefect.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nba_backfill.errors import BackfillError, UsageError

DEFAULT_PORT = 4200
PORT_ENV = "PREFECT_SERVER_API_PORT"
HOST = "127.0.0.1"
PID_FILE_NAME = "server.pid"  # Prefect's own (prefect.cli._server_utils.SERVER_PID_FILE_NAME)
_APP_FACTORY = "prefect.server.api.server:create_app"  # what `--background` runs under uvicorn
_PREFECT = [sys.executable, "-m", "prefect", "--no-prompt"]


class ServerRefused(UsageError):
    """The Prefect API this command would use is not usable: another home's server or a
    non-Prefect service on the local port, an unreachable or non-Prefect ``PREFECT_API_URL``.
    One line naming the port or URL and what to do; exit 2, nothing written."""


def prefect_home(home: Path) -> Path:
    """The PREFECT_HOME of ``home``'s local server (absolute)."""
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


def api_url(port: int) -> str:
    return f"http://{HOST}:{port}/api"


def port_setting(port: int | None = None) -> int:
    """The local server's port: ``port`` when given, else ``PREFECT_SERVER_API_PORT``, else
    4200. Raises UsageError (one line) when it is not a TCP port."""
    if port is None:
        raw = os.environ.get(PORT_ENV, "").strip()
        if not raw:
            return DEFAULT_PORT
        try:
            port = int(raw)
        except ValueError:
            raise UsageError(f"{PORT_ENV}={raw!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise UsageError(f"port {port} is not a TCP port (1-65535)")
    return port


# --- what answers at a URL ----------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    """What answers at a Prefect API URL.

    ``kind``: ``refused`` (nothing listens), ``silent`` (no HTTP answer: timeout, reset, name
    not resolved), ``other`` (an HTTP service that is not a Prefect API; ``status`` its HTTP
    status on ``/health``), ``prefect`` (a Prefect API; ``home`` its PREFECT_HOME when its
    ``/admin/settings`` tells). ``detail`` says what was seen, for messages."""

    kind: Literal["refused", "silent", "other", "prefect"]
    detail: str
    home: Path | None = None
    status: int | None = None


def _get(url: str, timeout: float, proxies: bool) -> tuple[int, bytes]:
    # The local server is never reached through an HTTP proxy the environment names.
    handlers = [] if proxies else [urllib.request.ProxyHandler({})]
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(url, timeout=timeout) as r:
            return int(r.status), r.read(1 << 20)
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def _connection_detail(exc: BaseException) -> tuple[Literal["refused", "silent"], str]:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ConnectionRefusedError):
        return "refused", "connection refused"
    if isinstance(reason, socket.gaierror):
        return "silent", "host name not resolved"
    if isinstance(reason, TimeoutError | socket.timeout):
        return "silent", "no answer in time"
    if isinstance(reason, http.client.RemoteDisconnected | ConnectionResetError):
        return "silent", "the connection was closed without an HTTP answer"
    return "silent", str(reason) or type(reason).__name__


def probe(api: str, timeout: float = 5.0, *, proxies: bool = False) -> Probe:
    """Ask ``api`` (``…/api``) what it is: ``/health`` must answer ``true``, then
    ``/admin/settings`` names the server's PREFECT_HOME. Never raises."""
    base = api.rstrip("/")
    try:
        status, body = _get(base + "/health", timeout, proxies)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        kind, detail = _connection_detail(exc)
        return Probe(kind, detail)
    except ValueError as exc:  # not a URL at all
        return Probe("silent", f"not a URL: {exc}")
    if status != 200 or body.strip() != b"true":
        shown = body.strip()[:40].decode("utf-8", "replace")
        where = urllib.parse.urlsplit(base).path + "/health"
        said = f"HTTP {status} on {where}" + (f": {shown!r}" if shown else "")
        return Probe("other", said, status=status)
    try:
        _, body = _get(base + "/admin/settings", timeout, proxies)
        home = json.loads(body).get("home")
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError, AttributeError):
        home = None
    return Probe("prefect", "a Prefect server", Path(home) if home else None, 200)


def healthy(api_url: str, timeout: float = 1.0) -> bool:
    """Whether ``api_url`` answers as a Prefect API."""
    return probe(api_url, timeout).kind == "prefect"


def check_api(url: str, timeout: float = 10.0) -> None:
    """Refuse an explicit ``PREFECT_API_URL`` that is unreachable or not a Prefect API (one
    line). A 401/403 passes: the URL is an API that wants credentials, Prefect's client
    reports that itself."""
    p = probe(url, timeout, proxies=True)
    if p.kind in ("refused", "silent"):
        raise ServerRefused(
            f"PREFECT_API_URL {url} is unreachable ({p.detail}): start that server, or unset "
            "PREFECT_API_URL to use this checkout's local one"
        )
    if p.kind == "other" and p.status not in (401, 403):
        raise ServerRefused(
            f"PREFECT_API_URL {url} does not answer as a Prefect API ({p.detail}): check the "
            "URL (it ends in /api), or unset PREFECT_API_URL to use this checkout's local one"
        )


# --- the process a pid file names ---------------------------------------------------------------
@dataclass(frozen=True)
class PidFile:
    """``$PREFECT_HOME/server.pid`` of a home and what it names. ``ours``: the pid is a live
    Prefect server whose PREFECT_HOME is this home's (``port`` then its port); otherwise
    ``what`` says what the pid is instead (for the "stale" message)."""

    path: Path
    pid: int | None
    ours: bool
    port: int | None = None
    what: str = ""


def _argv(pid: int) -> list[str] | None:
    """The process's command line; None when there is no such (live) process."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a] or None
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return None
    except OSError:
        return None
    # No /proc (macOS): ps prints the command line, split as a shell would.
    ps = subprocess.run(
        ["ps", "-ww", "-o", "command=", "-p", str(pid)], capture_output=True, text=True
    )
    if ps.returncode != 0:
        return None
    return shlex.split(ps.stdout.strip()) or None


def _environ(pid: int) -> dict[str, str] | None:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    pairs = (a.decode("utf-8", "replace").partition("=") for a in raw.split(b"\0") if a)
    return {k: v for k, _, v in pairs}


def _is_prefect_server(argv: list[str]) -> bool:
    """`prefect server start --background` runs uvicorn on Prefect's app factory; a foreground
    `prefect server start` (or `python -m prefect server start`) serves in-process."""
    if _APP_FACTORY in argv:
        return True
    for i, arg in enumerate(argv[:-1]):
        if arg == "server" and argv[i + 1] == "start":
            return any(Path(a).name == "prefect" for a in argv[:i])
    return False


def _argv_port(argv: list[str], env: dict[str, str] | None) -> int:
    for i, arg in enumerate(argv):
        if arg == "--port" and i + 1 < len(argv) and argv[i + 1].isdigit():
            return int(argv[i + 1])
        if arg.startswith("--port=") and arg[7:].isdigit():
            return int(arg[7:])
    raw = (env or {}).get(PORT_ENV, "")
    return int(raw) if raw.isdigit() else DEFAULT_PORT


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.expanduser().resolve() == b.expanduser().resolve()
    except OSError:
        return False


def read_pid_file(home: Path) -> PidFile | None:
    """Prefect's pid file of ``home``'s server and what the pid is; None when there is none.
    Reads only, never signals."""
    path = prefect_home(home) / PID_FILE_NAME
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return PidFile(path, None, False, what=f"unreadable: {exc.strerror}")
    if not text.isdigit() or int(text) <= 0:
        # `--background` creates the file empty and writes the pid a moment later.
        return PidFile(path, None, False, what=f"holds {text[:20]!r}, not a pid")
    pid = int(text)
    argv = _argv(pid)
    if argv is None:
        return PidFile(path, pid, False, what="no such process")
    shown = shlex.join(argv)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    if not _is_prefect_server(argv):
        return PidFile(path, pid, False, what=f"`{shown}`, not a Prefect server")
    env = _environ(pid)
    port = _argv_port(argv, env)
    if env is not None:
        their = Path(env.get("PREFECT_HOME") or "~/.prefect").expanduser()  # Prefect's default
        if not their.is_absolute():
            with contextlib.suppress(OSError):  # relative to the server's working directory
                their = Path(os.readlink(f"/proc/{pid}/cwd")) / their
    else:  # another user's process, or no /proc: ask the server on its port
        their = probe(api_url(port), 2.0).home or Path("/nonexistent/home/unknown")
    if not _same_path(their, prefect_home(home)):
        return PidFile(path, pid, False, port, f"a Prefect server of another home ({their})")
    return PidFile(path, pid, True, port)


def is_running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie does not: it waits to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        return _argv(pid) is not None  # no /proc
    return state not in ("Z", "X")


# --- start / stop -------------------------------------------------------------------------------
def _wait_healthy(home: Path, port: int, timeout: float) -> str:
    api, ours = api_url(port), prefect_home(home)
    deadline = time.monotonic() + timeout
    while True:
        p = probe(api, 2.0)
        if p.kind == "prefect" and p.home is not None and _same_path(p.home, ours):
            return api
        pid = read_pid_file(home)
        if pid is None or not pid.ours:
            raise BackfillError(
                f"the local Prefect server on port {port} exited before it answered; to see "
                f"why, run it in the foreground: PREFECT_HOME={ours} uv run prefect server "
                f"start --port {port}"
            )
        if time.monotonic() > deadline:
            raise BackfillError(
                f"the local Prefect server on port {port} did not answer in {timeout:.0f}s"
            )
        time.sleep(0.5)


def _refuse_taken(port: int, p: Probe, ours: Path) -> None:
    if p.kind == "prefect":
        whose = f"home {p.home}" if p.home else "a home it does not tell"
        raise ServerRefused(
            f"port {port} is taken by another Prefect server ({whose}), not this checkout's "
            f"({ours}): set {PORT_ENV} or --port to a free port, or stop that server"
        )
    raise ServerRefused(
        f"port {port} is taken by a service that is not a Prefect server ({p.detail}): set "
        f"{PORT_ENV} or --port to a free port, or stop that service"
    )


def _start(home: Path, port: int) -> None:
    """`prefect server start --background` in a session of its own (a Ctrl-C in the terminal
    never reaches the server). Its own output goes to ``<PREFECT_HOME>/server-start.log``."""
    phome = prefect_home(home)
    phome.mkdir(parents=True, exist_ok=True)
    stale = read_pid_file(home)
    if stale is not None and not stale.ours:
        stale.path.unlink(missing_ok=True)  # Prefect refuses to start while the file exists
    env = {**os.environ, **base_env(home), "PREFECT_UI_API_URL": api_url(port)}
    env.pop("PREFECT_API_URL", None)
    log = phome / "server-start.log"
    with open(log, "wb") as out:
        proc = subprocess.run(
            [*_PREFECT, "server", "start", "--background", "--host", HOST, "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            timeout=300,
        )
    if proc.returncode != 0:
        own = read_pid_file(home)
        if own is not None and own.ours:  # another command of this home started it just now
            return
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        said = lines[-1] if lines else f"exit code {proc.returncode}"
        raise BackfillError(f"`prefect server start --background` failed: {said} (see {log})")


def ensure_server(home: Path, port: int = DEFAULT_PORT, timeout: float = 120.0) -> str:
    """Return the API URL of ``home``'s local server on ``port``, starting it in the background
    when nothing listens there. It keeps running after the command (the UI shows the history);
    :func:`stop_server` stops it.

    Raises ServerRefused (one line) when the port is another home's Prefect server or a
    non-Prefect service, or when this home's server runs on another port; BackfillError when
    the started server exits or does not answer in ``timeout`` seconds."""
    api, ours = api_url(port), prefect_home(home)
    own = read_pid_file(home)
    if own is not None and own.ours:
        if own.port != port:
            raise ServerRefused(
                f"this checkout's Prefect server already runs on port {own.port}, not {port}: "
                f"use --port {own.port} (or {PORT_ENV}), or stop it first (nba-backfill server "
                "stop)"
            )
        return _wait_healthy(home, port, timeout)
    p = probe(api)
    if p.kind == "prefect" and p.home is not None and _same_path(p.home, ours):
        return api  # this home's server, started by hand (`prefect server start`)
    if p.kind != "refused":
        _refuse_taken(port, p, ours)
    _start(home, port)
    return _wait_healthy(home, port, timeout)


@dataclass(frozen=True)
class Stopped:
    """What :func:`stop_server` did: ``stopped`` a verified server, or nothing (``message``
    says why, e.g. a stale pid file it removed)."""

    stopped: bool
    message: str


def stop_server(home: Path, timeout: float = 30.0) -> Stopped:
    """Stop ``home``'s background server with `prefect server stop`, only after verifying that
    the pid its pid file names is a Prefect server of this home. A stale file (no such process,
    an unrelated process, another home's server, not a pid) is removed and nothing is
    signalled."""
    pid_file = read_pid_file(home)
    if pid_file is None:
        return Stopped(False, "no server started by nba-backfill is running")
    if not pid_file.ours or pid_file.pid is None:
        pid_file.path.unlink(missing_ok=True)
        pid = f"pid {pid_file.pid}: " if pid_file.pid is not None else ""
        return Stopped(
            False,
            f"the pid file {pid_file.path} was stale ({pid}{pid_file.what}); removed it, "
            "signalled nothing",
        )
    env = {**os.environ, **base_env(home)}
    env.pop("PREFECT_API_URL", None)
    subprocess.run(
        [*_PREFECT, "server", "stop"],
        env=env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    deadline = time.monotonic() + timeout
    while is_running(pid_file.pid):
        if time.monotonic() > deadline:
            return Stopped(
                True, f"asked the Prefect server (pid {pid_file.pid}) to stop; it is still exiting"
            )
        time.sleep(0.2)
    return Stopped(True, f"stopped the Prefect server on port {pid_file.port} (pid {pid_file.pid})")


def configure(home: Path, port: int | None = None) -> str:
    """Point this process's Prefect at a server and return its API URL: ``PREFECT_API_URL``
    when it is set (CI, deployments and tests bring their own; checked reachable), else
    ``home``'s local server on ``port`` (default :func:`port_setting`), started if needed.
    Raises ServerRefused / UsageError / BackfillError with one line."""
    for key, value in base_env(home).items():
        os.environ.setdefault(key, value)
    explicit = os.environ.get("PREFECT_API_URL", "").strip()
    if explicit:
        check_api(explicit)
        return explicit
    api = ensure_server(home, port_setting(port))
    os.environ["PREFECT_API_URL"] = api
    return api
