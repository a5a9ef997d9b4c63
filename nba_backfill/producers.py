"""External producers: a table filled by the platform's own backfill job instead of its SQL
model (``NBA_BACKFILL_PRODUCERS__<TABLE>__COMMAND``, :class:`ProducerSettings`).

One place for the whole rule: :func:`check_producers` validates every configured command at
start (``run``, ``plan`` and the flows call it: one line, exit 2, nothing run);
:func:`run_command` runs one chunk's command in its own process group, streams its output line
by line, stops the whole group at the timeout (SIGTERM, then SIGKILL), and raises
:class:`~nba_backfill.errors.ProducerFailed` classified for the one retry policy. Whether the
chunk worked is never the exit code's to say: the runner judges the warehouse afterwards.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import datetime as dt
import os
import shlex
import shutil
import signal
import string
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO

from nba_backfill.errors import ProducerFailed, UsageError, classify_text
from nba_backfill.settings import ProducerSettings, Settings, env_var

PLACEHOLDERS = ("start", "end", "dates")
# How long a stopped process group has between SIGTERM and SIGKILL.
TERM_GRACE_SECONDS = 5.0
# The stderr lines kept for the error message and the retry classifier.
STDERR_TAIL_LINES = 20
# How long importing an entry point at start may take.
ENTRY_POINT_CHECK_SECONDS = 60

OnLine = Callable[[str, str], None]  # (stream "stdout" | "stderr", line without newline)


def describe(settings: Settings, table: str) -> str:
    """What produces ``table``, in words (``plan`` shows it): ``sql`` or the command's
    executable."""
    producer = settings.producer(table)
    if producer is None:
        return "sql"
    if producer.entry_point:
        return f"entry point: {producer.entry_point}"
    assert producer.command is not None
    words = shlex.split(producer.command)
    # The executable and, for an interpreter's command line, the script it runs, by their
    # names; then every other word as configured (placeholders and ``{{…}}`` as written).
    shown = [Path(words[0]).name]
    rest = words[1:]
    if rest and not rest[0].startswith("-"):
        shown.append(Path(rest.pop(0)).name)
    shown += [
        shlex.quote(w) if not w or any(c.isspace() or c in "'\"" for c in w) else w for w in rest
    ]
    return "command: " + " ".join(shown)


def _words(template: str) -> list[str]:
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise ValueError(f"cannot split the command: {exc}") from None
    if not words:
        raise ValueError("the command is empty")
    return words


def _check_placeholders(words: Iterable[str]) -> None:
    for word in words:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(word) if f is not None]
        except ValueError as exc:
            raise ValueError(f"bad placeholder in {word!r}: {exc}") from None
        for f in fields:
            if f not in PLACEHOLDERS:
                known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                raise ValueError(f"unknown placeholder {{{f}}} (known: {known})")


def _executable(word: str, producer: ProducerSettings) -> str | None:
    """The executable ``word`` names (a path, relative to the command's cwd, or a name looked
    up on its PATH), or None when there is none."""
    if os.sep in word:
        path = Path(word)
        if not path.is_absolute() and producer.cwd is not None:
            path = producer.cwd / path
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    search = producer.env.get("PATH", os.environ.get("PATH", os.defpath))
    return shutil.which(word, path=search)


# Entry points that imported, by (entry point, cwd, env): only successes are kept, so a fixed
# one is checked again.
_entry_points_ok: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()


def _entry_point_problem(producer: ProducerSettings) -> str | None:
    """Why ``producer``'s entry point cannot be called, or None: checked in a child Python
    process with the producer's cwd and environment (where the platform's code is found), so
    that importing it has no effect on this process."""
    assert producer.entry_point is not None
    key = (producer.entry_point, str(producer.cwd), tuple(sorted(producer.env.items())))
    if key in _entry_points_ok:  # a run resolves its parameters more than once
        return None
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "nba_backfill.producers", "check", producer.entry_point],
            cwd=producer.cwd,
            env={**os.environ, **producer.env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=ENTRY_POINT_CHECK_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return f"importing {producer.entry_point} took over {ENTRY_POINT_CHECK_SECONDS}s"
    if proc.returncode == 0:
        _entry_points_ok.add(key)
        return None
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else f"checking it exited {proc.returncode}"


def check_producer(table: str, producer: ProducerSettings) -> None:
    """Raise UsageError (one line naming the setting) when ``table``'s producer cannot run:
    unknown placeholders, no such executable, no such working directory, an entry point that
    does not import or is not callable."""
    if not producer.external:
        return
    bare = table.rpartition(".")[2]
    where = env_var("producers", bare, "entry_point" if producer.entry_point else "command")
    try:
        if producer.cwd is not None and not producer.cwd.is_dir():
            raise ValueError(f"working directory {producer.cwd} does not exist")
        if producer.entry_point:
            problem = _entry_point_problem(producer)
            if problem is not None:
                raise ValueError(f"entry point {producer.entry_point}: {problem}")
            return
        assert producer.command is not None
        words = _words(producer.command)
        _check_placeholders(words)
        if _executable(words[0], producer) is None:
            raise ValueError(f"executable {words[0]!r} not found")
    except ValueError as exc:
        raise UsageError(f"invalid producer of {table} ({where}): {exc}") from None


def check_producers(settings: Settings, tables: Iterable[str] | None = None) -> None:
    """Validate the commands of ``tables`` (catalog names; None: every configured one)."""
    names = settings.producers.keys() if tables is None else tables
    for table in names:
        producer = settings.producer(table)
        if producer is not None:
            check_producer(table, producer)


def command_argv(
    producer: ProducerSettings, start: dt.date, end: dt.date, dates: Sequence[dt.date]
) -> list[str]:
    """The command's words with the chunk's placeholders filled in (no shell: a date list
    never needs quoting); for an entry point, this module run as a script calling it."""
    if producer.entry_point:
        joined = ",".join(d.isoformat() for d in dates)
        return [
            sys.executable,
            "-m",
            "nba_backfill.producers",
            "call",
            producer.entry_point,
            joined,
        ]
    assert producer.command is not None
    values = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "dates": ",".join(d.isoformat() for d in dates),
    }
    return [w.format(**values) for w in _words(producer.command)]


# --- running ------------------------------------------------------------------------------
_running: dict[int, subprocess.Popen[str]] = {}
_stopped: set[int] = set()  # pids stop_all stopped: their attempt is not retried
_running_lock = threading.Lock()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a member we may not signal still exists
        return True
    return True


def _stop_group(proc: subprocess.Popen[str], grace: float = TERM_GRACE_SECONDS) -> None:
    """Stop ``proc``'s whole process group: SIGTERM, then SIGKILL after ``grace`` seconds for
    whatever is still there. Members a processor left behind go too."""
    pgid = proc.pid  # start_new_session: the leader's pid is the group id
    if not _group_alive(pgid):
        proc.poll()
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = dt.datetime.now() + dt.timedelta(seconds=grace)
    while dt.datetime.now() < deadline:
        proc.poll()  # reap the leader, or the group never looks empty
        if not _group_alive(pgid):
            return
        threading.Event().wait(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored
        proc.wait(timeout=grace)
    # SIGKILL is delivered asynchronously: wait (bounded) until the members are gone too.
    deadline = dt.datetime.now() + dt.timedelta(seconds=grace)
    while _group_alive(pgid) and dt.datetime.now() < deadline:
        threading.Event().wait(0.05)


def stop_all() -> list[int]:
    """Stop every command this process runs (an interrupted, cancelled or crashed run;
    interpreter exit); returns their pids. Their attempts fail without a retry."""
    with _running_lock:
        procs = list(_running.values())
        _stopped.update(p.pid for p in procs)
    for proc in procs:
        _stop_group(proc, grace=1.0)
    return [p.pid for p in procs]


atexit.register(stop_all)


def _pump(stream: IO[str], name: str, on_line: OnLine, tail: collections.deque[str]) -> None:
    for raw in stream:
        line = raw.rstrip("\n")
        if name == "stderr":
            tail.append(line)
        on_line(name, line)
    stream.close()


def run_command(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout_seconds: float,
    on_line: OnLine,
    what: str,
) -> None:
    """Run ``argv`` in a new process group, each output line to ``on_line``; return when it
    exits 0. Raises ProducerFailed on a non-zero exit (classified by its last stderr lines)
    or at the timeout (the group is stopped; a timeout is transient). Whatever happens to the
    caller (an interrupt, a cancelled task), the group is stopped before this returns."""
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        bufsize=1,
        start_new_session=True,
    )
    with _running_lock:
        _running[proc.pid] = proc
    pumps = [
        threading.Thread(target=_pump, args=(s, n, on_line, tail), daemon=True)
        for s, n in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))
    ]
    for t in pumps:
        t.start()
    timed_out = False
    try:
        try:
            code = proc.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            code = None
    finally:
        _stop_group(proc)  # a timeout, an interrupt, or members left after a normal exit
        with _running_lock:
            _running.pop(proc.pid, None)
            stopped = proc.pid in _stopped
            _stopped.discard(proc.pid)
        for t in pumps:
            t.join(timeout=5)
    if stopped:
        raise ProducerFailed(f"{what}: stopped, the run is ending", reason=None, stopped=True)
    if timed_out:
        raise ProducerFailed(
            f"{what}: stopped after the {timeout_seconds:g}s timeout", reason="timeout"
        )
    if code != 0:
        last = "\n".join(tail)
        shown = tail[-1] if tail else "no stderr"
        raise ProducerFailed(
            f"{what}: exit code {code}: {shown}", reason=classify_text(last), stderr=last
        )


def _load(entry_point: str) -> Callable[[list[dt.date]], object]:
    import importlib

    module, _, name = entry_point.partition(":")
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn):
        raise TypeError(f"{entry_point} is not a callable")
    return fn


def main(argv: Sequence[str]) -> int:
    """``python -m nba_backfill.producers check|call <module:callable> [dates]``: how an entry
    point producer runs, in a child process like any command (its own process group, its
    output streamed, stopped at the timeout). ``check`` imports it; ``call`` calls it with
    the dates; an exception ends it with its traceback on stderr (the last line classified)."""
    if len(argv) < 2 or argv[0] not in ("check", "call"):
        sys.stderr.write("usage: python -m nba_backfill.producers check|call M:F [DATES]\n")
        return 2
    sys.path.insert(0, os.getcwd())  # the platform's code, from the producer's cwd
    fn = _load(argv[1])
    if argv[0] == "call":
        dates = [
            dt.date.fromisoformat(d) for d in (argv[2] if len(argv) > 2 else "").split(",") if d
        ]
        fn(dates)
    return 0


__all__ = [
    "PLACEHOLDERS",
    "check_producer",
    "check_producers",
    "command_argv",
    "describe",
    "run_command",
    "stop_all",
]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
