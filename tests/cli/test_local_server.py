"""The local Prefect server manager (cli/local_server.py) with real processes: one real Prefect
server per module (home A, started as `make ui` does), other checkouts' homes, a non-Prefect
service on the port, an unreachable PREFECT_API_URL and stale pid files. Every refusal is one
line, exit 2, no traceback; `server stop` signals only a server it verified as its own.

The commands run as subprocesses (``python -m cli``): each reads its own environment, as a
second checkout's shell would, and none leaks PREFECT_* settings into this test process."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cli import local_server
from nba_backfill.settings import Settings

REPO = Path(__file__).resolve().parents[2]
RUN_ARGS = ["--start", "2021-11-01", "--end", "2021-11-03", "--skip-phase4"]
RUN_ARGS += ["--tables", "team_offense_game_summary"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any Prefect setting (a fresh shell), with its own
    NBA_BACKFILL_HOME; the warehouse settings a test set (``seeded``) are kept."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NBA_BACKFILL_"))}
    kept = {k: v for k, v in os.environ.items() if k.startswith("NBA_BACKFILL_WAREHOUSE__")}
    return {**base, **kept, "NBA_BACKFILL_HOME": str(home), **extra}


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exit 2 and exactly one non-empty stderr line, no traceback."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Server:
    home: Path
    port: int
    env: dict[str, str]

    @property
    def api(self) -> str:
        return local_server.api_url(self.port)


@pytest.fixture(scope="module")
def server_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Home A's server, started as `make ui` does: `nba-backfill server start` with the port
    from PREFECT_SERVER_API_PORT (a free one). Stopped at the end (verified: A's own)."""
    home = tmp_path_factory.mktemp("home-a")
    port = _free_port()
    env = _env(home, PREFECT_SERVER_API_PORT=str(port))
    proc = cli("server", "start", env=env)
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"(API http://127.0.0.1:{port}/api)" in proc.stdout
        yield Server(home, port, env)
    finally:
        local_server.stop_server(home)


# --- (a) one home, one server; another home's server is refused ---------------------------------
def test_server_start_honours_the_port_setting_and_reuses_its_own_server(server_a: Server):
    p = local_server.probe(server_a.api)
    assert p.kind == "prefect" and p.home == local_server.prefect_home(server_a.home)
    pid_file = local_server.read_pid_file(server_a.home)  # Prefect's own, from --background
    assert pid_file is not None and pid_file.ours and pid_file.port == server_a.port
    again = cli("server", "start", env=server_a.env)
    assert again.returncode == 0, again.stderr
    assert f"(API {server_a.api})" in again.stdout
    after = local_server.read_pid_file(server_a.home)
    assert after is not None and after.pid == pid_file.pid  # reused, not a second server


def test_another_checkouts_server_is_refused_naming_the_port(server_a: Server, tmp_path: Path):
    env_b = _env(tmp_path / "home-b", PREFECT_SERVER_API_PORT=str(server_a.port))
    home_a = local_server.prefect_home(server_a.home)
    for args in (["server", "start"], ["setup", "--target", "local"]):
        line = one_line_error(cli(*args, env=env_b))
        assert f"port {server_a.port} is taken by another Prefect server (home {home_a})" in line
        assert "PREFECT_SERVER_API_PORT or --port" in line and "stop that server" in line
    assert not (tmp_path / "home-b" / "prefect" / "server.pid").exists()


def test_run_refuses_another_checkouts_server_before_writing(server_a: Server, seeded: Settings):
    db = Path(seeded.warehouse.duckdb_path)
    before = digest(db)
    env_b = _env(seeded.home, PREFECT_SERVER_API_PORT=str(server_a.port))
    proc = cli("run", *RUN_ARGS, env=env_b)
    line = one_line_error(proc)
    assert f"port {server_a.port} is taken by another Prefect server" in line
    assert "Plan 2021-11-01..2021-11-03" in proc.stdout  # planned first: it had work to do
    assert digest(db) == before


def test_an_explicit_api_url_is_the_users_choice(server_a: Server, tmp_path: Path):
    """With PREFECT_API_URL set, home B uses A's server as told: no home check, no start."""
    code = "from pathlib import Path; import sys; from cli.local_server import configure; "
    code += "print(configure(Path(sys.argv[1])))"
    env_b = _env(tmp_path / "home-b", PREFECT_API_URL=server_a.api)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "home-b")],
        env=env_b,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == server_a.api
    assert not (tmp_path / "home-b" / "prefect" / "server.pid").exists()


def test_run_and_setup_connect_to_their_own_server(server_a: Server):
    """configure() (what `run` and `setup` call) with no PREFECT_API_URL: A's server on the port
    of PREFECT_SERVER_API_PORT, exported for the flow's Prefect client."""
    code = "import os, sys; from pathlib import Path; from cli.local_server import configure; "
    code += "print(configure(Path(sys.argv[1])), os.environ['PREFECT_API_URL'], "
    code += "os.environ['PREFECT_HOME'])"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(server_a.home)],
        env=server_a.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    home_a = str(local_server.prefect_home(server_a.home))
    assert proc.stdout.split() == [server_a.api, server_a.api, home_a]


def test_own_server_on_another_port_is_named(server_a: Server):
    other = _free_port()
    line = one_line_error(cli("server", "start", "--port", str(other), env=server_a.env))
    assert f"already runs on port {server_a.port}, not {other}" in line


# --- (b) a service that is not Prefect on the port ---------------------------------------------
class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # 200 on every path, /api/health included
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_service() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tcp_service() -> Iterator[int]:
    """A listener that accepts and closes at once: no HTTP at all."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        sock.close()


@pytest.mark.parametrize(
    ("service", "seen"),
    [
        ("http_service", "HTTP 200 on /api/health: 'hello'"),
        ("tcp_service", "the connection was closed without an HTTP answer"),
    ],
)
def test_a_non_prefect_service_on_the_port_is_one_line(
    request: pytest.FixtureRequest, tmp_path: Path, service: str, seen: str
):
    port = request.getfixturevalue(service)
    env = _env(tmp_path / "home")
    line = one_line_error(cli("server", "start", "--port", str(port), env=env))
    assert f"port {port} is taken by a service that is not a Prefect server ({seen})" in line
    assert "PREFECT_SERVER_API_PORT or --port" in line
    line = one_line_error(cli("setup", env={**env, "PREFECT_SERVER_API_PORT": str(port)}))
    assert f"port {port} is taken by a service that is not a Prefect server" in line
    assert not (tmp_path / "home" / "prefect" / "server.pid").exists()  # nothing started


# --- (c) an unreachable PREFECT_API_URL ---------------------------------------------------------
def test_an_unreachable_api_url_is_one_line_for_run_and_setup(seeded: Settings):
    db = Path(seeded.warehouse.duckdb_path)
    before = digest(db)
    url = local_server.api_url(_free_port())
    env = _env(seeded.home, PREFECT_API_URL=url)
    for args in (["run", *RUN_ARGS], ["setup"]):
        line = one_line_error(cli(*args, env=env))
        assert f"PREFECT_API_URL {url} is unreachable (connection refused)" in line
    unresolved = "http://nba-backfill-no-such-host.invalid:4200/api"
    line = one_line_error(cli("setup", env={**env, "PREFECT_API_URL": unresolved}))
    assert f"PREFECT_API_URL {unresolved} is unreachable (host name not resolved)" in line
    assert digest(db) == before


def test_an_api_url_that_is_not_prefect_is_one_line(http_service: int, tmp_path: Path):
    url = local_server.api_url(http_service)
    line = one_line_error(cli("setup", env=_env(tmp_path / "home", PREFECT_API_URL=url)))
    assert f"PREFECT_API_URL {url} does not answer as a Prefect API (HTTP 200" in line


# --- (d) `server stop` signals only its own verified server ------------------------------------
def _write_pid(home: Path, text: str) -> Path:
    path = local_server.prefect_home(home) / "server.pid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_stop_with_a_stale_pid_file_leaves_the_unrelated_processis_running(tmp_path: Path):
    sleeper = subprocess.Popen(["sleep", "300"], start_new_session=True)  # its own group
    try:
        pid_file = _write_pid(tmp_path / "home", str(sleeper.pid))
        proc = cli("server", "stop", env=_env(tmp_path / "home"))
        assert proc.returncode == 0, proc.stderr
        message = " ".join(proc.stdout.split())
        assert f"was stale (pid {sleeper.pid}: `sleep 300`, not a Prefect server)" in message
        assert "signalled nothing" in message
        time.sleep(0.5)
        assert sleeper.poll() is None  # still alive
        assert not pid_file.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize(
    ("content", "seen"),
    [("exited", "no such process"), ("garbage", "holds 'garbage', not a pid")],
)
def test_stop_with_a_pid_file_naming_nothing_is_stale(tmp_path: Path, content: str, seen: str):
    if content == "exited":
        gone = subprocess.Popen(["true"])
        gone.wait()
        content = str(gone.pid)
    pid_file = _write_pid(tmp_path / "home", content)
    proc = cli("server", "stop", env=_env(tmp_path / "home"))
    assert proc.returncode == 0, proc.stderr
    assert seen in " ".join(proc.stdout.split()) and not pid_file.exists()


def test_stop_never_signals_another_homes_server(server_a: Server, tmp_path: Path):
    a_pid = local_server.read_pid_file(server_a.home)
    assert a_pid is not None and a_pid.ours
    _write_pid(tmp_path / "home-b", str(a_pid.pid))
    proc = cli("server", "stop", env=_env(tmp_path / "home-b"))
    assert proc.returncode == 0, proc.stderr
    home_a = local_server.prefect_home(server_a.home)
    assert f"a Prefect server of another home ({home_a})" in " ".join(proc.stdout.split())
    assert local_server.probe(server_a.api).kind == "prefect"  # A still serves


def test_stop_stops_its_own_verified_server(server_a: Server):
    """Last in the module: A's own `server stop` ends A (its pid, its port, its pid file)."""
    pid_file = local_server.read_pid_file(server_a.home)
    assert pid_file is not None and pid_file.ours and pid_file.pid is not None
    proc = cli("server", "stop", env=server_a.env)
    assert proc.returncode == 0, proc.stderr
    assert f"stopped the Prefect server on port {server_a.port} (pid {pid_file.pid})" in proc.stdout
    assert not local_server.is_running(pid_file.pid)
    assert local_server.probe(server_a.api).kind == "refused"
    assert not pid_file.path.exists()
    again = cli("server", "stop", env=server_a.env)
    assert "no server started by nba-backfill is running" in again.stdout
