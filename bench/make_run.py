"""``make bench-make-run``: the full local ``make run`` of two commits, side by side in one run
on this machine, wall time and peak RSS per step.

Sides:

- **baseline** — by default ``6e2e9d3``, the last commit before issue 15's first model change
  (``b940f0a`` write fingerprints, ``c7ffdaf`` player_daily_cache): the wall time issue 15 is held
  to (within 1.5x). It is checked out with ``git worktree add --detach`` under a temp dir, its
  tools linked like our worktrees (``.nba-backfill/tools`` -> this checkout's, when present, else
  the ``uv`` on PATH) and ``uv sync --frozen`` there, outside any clock; the worktree is removed at
  the end unless ``--keep``.
- **head** — this checkout (its working tree, as it is), with its own ``.venv``.

Each side runs ``make run``'s two steps as the Makefile does them — ``nba-backfill seed --state
seeds --if-missing``, then ``nba-backfill run`` with
``NBA_BACKFILL_WAREHOUSE__DUCKDB_PARTITION_EXPIRATION=none`` (unless set) — started directly with
the side's ``.venv/bin/nba-backfill`` (not through make or uv: no sync is timed), each side in its
own fresh ``NBA_BACKFILL_HOME`` with its own ``PREFECT_SERVER_API_PORT`` (a free port), so the two
never share a warehouse or a server. The steps interleave — baseline seed, head seed, baseline
run, head run — so a change of load on the machine hits both sides; ``--repeat N`` repeats that
N times and reports the medians. After each pair its servers are stopped (``nba-backfill server
stop``, same env) and the homes removed unless ``--keep``.

What is measured per step: wall clock around the child, and its peak RSS from ``os.wait4``
(``ru_maxrss``, kB). That covers the child and the descendants it waited for; the background
Prefect server ``nba-backfill run`` starts is a separate, detached process and is not counted.
The bench's own (small: it imports no engine) RSS at fork time is counted.

Results: an 80-column table on the terminal and ``bench/results/make_run-<timestamp>.{json,md}``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_BASELINE = "6e2e9d3"
RSS_LIMIT_MIB = 1024.0  # issue 15: peak RSS < 1 GiB per step
WALL_RATIO_LIMIT = 1.5  # issue 15: make run within 1.5x of the baseline's wall time
SIDES = ("baseline", "head")
STEPS = ("seed", "run")
WIDTH = 80
STDERR_TAIL = 20
SEED_ARGS = ("seed", "--state", "seeds", "--if-missing")
RUN_ARGS = ("run",)
EXPIRATION_ENV = "NBA_BACKFILL_WAREHOUSE__DUCKDB_PARTITION_EXPIRATION"
# Variables that would point a side at another home, server or warehouse than its own.
_DROP_ENV = ("PREFECT_API_URL", "PREFECT_HOME", "PREFECT_PROFILE", "VIRTUAL_ENV")


class BenchError(Exception):
    """A step failed or a side could not be set up: the message is printed, exit 1."""


def _say(msg: str) -> None:
    print(f"[make_run {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- measuring one step ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Measured:
    """One child process: exit code, wall seconds, peak RSS (MiB, from ``wait4``)."""

    code: int
    wall_s: float
    peak_rss_mib: float


def measure(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: Path | None = None,
    stderr: Path | None = None,
) -> Measured:
    """Run ``argv`` to its end; wall clock around it and ``ru_maxrss`` of ``os.wait4``."""
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(stdout.open("wb")) if stdout else subprocess.DEVNULL
        err = stack.enter_context(stderr.open("wb")) if stderr else subprocess.DEVNULL
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), env=None if env is None else dict(env), cwd=cwd, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped here: Popen must not wait for it again
    return Measured(code, wall, usage.ru_maxrss / 1024.0)  # Linux: ru_maxrss in kB


# --- figures --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SideFigures:
    """One side's steps (medians when repeated)."""

    seed_wall_s: float
    seed_rss_mib: float
    run_wall_s: float
    run_rss_mib: float

    @property
    def total_wall_s(self) -> float:
        return self.seed_wall_s + self.run_wall_s


def median_figures(samples: Sequence[SideFigures]) -> SideFigures:
    """The median of each figure over the repeats (each figure on its own)."""
    if not samples:
        raise ValueError("no samples")
    return SideFigures(
        seed_wall_s=statistics.median(s.seed_wall_s for s in samples),
        seed_rss_mib=statistics.median(s.seed_rss_mib for s in samples),
        run_wall_s=statistics.median(s.run_wall_s for s in samples),
        run_rss_mib=statistics.median(s.run_rss_mib for s in samples),
    )


def summary(baseline: SideFigures, head: SideFigures) -> dict[str, Any]:
    """Head ÷ baseline for total and run wall; whether each head step stays under 1 GiB."""
    total = head.total_wall_s / baseline.total_wall_s if baseline.total_wall_s else float("inf")
    run = head.run_wall_s / baseline.run_wall_s if baseline.run_wall_s else float("inf")
    return {
        "total_wall_ratio": total,
        "run_wall_ratio": run,
        "total_within_1_5x": total <= WALL_RATIO_LIMIT,
        "seed_rss_under_1_gib": head.seed_rss_mib < RSS_LIMIT_MIB,
        "run_rss_under_1_gib": head.run_rss_mib < RSS_LIMIT_MIB,
    }


def _s(v: float) -> str:
    return f"{v:,.1f} s"


def _mib(v: float) -> str:
    return f"{v:,.0f} MiB"


def table(
    baseline: SideFigures, head: SideFigures, *, labels: tuple[str, str], repeat: int = 1
) -> Table:
    """Per step: both sides, head ÷ baseline (walls), head under 1 GiB (peak RSS)."""
    ratios = summary(baseline, head)
    title = "make run, side by side" + (f" (median of {repeat})" if repeat > 1 else "")
    t = Table(title=title, title_justify="left")
    t.add_column("step")
    t.add_column(f"baseline {labels[0]}", justify="right")
    t.add_column(f"head {labels[1]}", justify="right")
    t.add_column("head/base", justify="right")
    t.add_column("head < 1 GiB", justify="center")

    def yes(ok: bool) -> str:
        return "yes" if ok else "NO"

    t.add_row("seed wall", _s(baseline.seed_wall_s), _s(head.seed_wall_s), "", "")
    t.add_row(
        "seed peak RSS",
        _mib(baseline.seed_rss_mib),
        _mib(head.seed_rss_mib),
        "",
        yes(ratios["seed_rss_under_1_gib"]),
    )
    t.add_row(
        "run wall",
        _s(baseline.run_wall_s),
        _s(head.run_wall_s),
        f"{ratios['run_wall_ratio']:.2f}x",
        "",
    )
    t.add_row(
        "run peak RSS",
        _mib(baseline.run_rss_mib),
        _mib(head.run_rss_mib),
        "",
        yes(ratios["run_rss_under_1_gib"]),
    )
    t.add_row(
        "total wall",
        _s(baseline.total_wall_s),
        _s(head.total_wall_s),
        f"{ratios['total_wall_ratio']:.2f}x",
        "",
    )
    return t


def render(t: Table) -> str:
    """The table as plain text, at most 80 columns."""
    console = Console(width=WIDTH, record=True, file=io.StringIO(), color_system=None)
    console.print(t)
    return console.export_text()


# --- sides ----------------------------------------------------------------------------------------
def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def resolve_rev(rev: str) -> str | None:
    """The full commit ``rev`` names in this repository, or None."""
    r = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


def _uv(checkout: Path) -> str:
    tools = checkout / ".nba-backfill" / "tools" / "uv" / "bin" / "uv"
    if tools.exists():
        return str(tools)
    found = shutil.which("uv")
    if not found:
        raise BenchError("no uv: neither .nba-backfill/tools/uv nor uv on PATH")
    return found


@contextlib.contextmanager
def baseline_checkout(sha: str, tmp: Path, keep: bool) -> Iterator[Path]:
    """A detached worktree of ``sha`` with tools linked and ``uv sync --frozen`` done."""
    path = tmp / "baseline"
    _git("worktree", "add", "--detach", str(path), sha)
    try:
        tools = ROOT / ".nba-backfill" / "tools"
        if tools.exists():
            (path / ".nba-backfill").mkdir(exist_ok=True)
            (path / ".nba-backfill" / "tools").symlink_to(tools.resolve())
        _say(f"baseline {sha[:9]}: worktree in the temp dir, uv sync --frozen")
        r = subprocess.run(
            [_uv(path), "sync", "--frozen"], cwd=path, capture_output=True, text=True
        )
        if r.returncode != 0:
            raise BenchError(f"uv sync in the baseline failed:\n{_tail(r.stderr)}")
        yield path
    finally:
        if keep:
            _say(f"kept the baseline worktree {path}")
        else:
            r = subprocess.run(
                ["git", "worktree", "remove", "--force", str(path)],
                cwd=ROOT,
                capture_output=True,
            )
            if r.returncode != 0:  # only ours: other worktrees' entries are not ours to prune
                _say(f"could not remove the baseline worktree: git worktree remove {path}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(text: str, n: int = STDERR_TAIL) -> str:
    return "\n".join(text.rstrip().splitlines()[-n:])


@dataclass
class Side:
    """One checkout's ``make run`` in one repetition: its home, port and logs."""

    name: str
    checkout: Path
    home: Path
    port: int

    @property
    def exe(self) -> str:
        return str(self.checkout / ".venv" / "bin" / "nba-backfill")

    def env(self, step: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
        env["NBA_BACKFILL_HOME"] = str(self.home)
        env["PREFECT_SERVER_API_PORT"] = str(self.port)
        env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # as the Makefile exports it
        if step == "run":
            env[EXPIRATION_ENV] = os.environ.get(EXPIRATION_ENV) or "none"
        return env

    def step(self, step: str) -> Measured:
        args = SEED_ARGS if step == "seed" else RUN_ARGS
        err = self.home.parent / f"{self.name}-{step}.stderr"
        out = self.home.parent / f"{self.name}-{step}.stdout"
        _say(f"{self.name} {step}: nba-backfill {args[0]} (port {self.port})")
        m = measure(
            [self.exe, *args], env=self.env(step), cwd=self.checkout, stdout=out, stderr=err
        )
        _say(
            f"{self.name} {step}: exit {m.code}, {m.wall_s:.1f} s, "
            f"peak RSS {m.peak_rss_mib:,.0f} MiB"
        )
        if m.code != 0:
            tail = _tail(err.read_text(errors="replace") or out.read_text(errors="replace"))
            raise BenchError(f"{self.name} {step} exited {m.code}; last stderr lines:\n{tail}")
        return m

    def stop(self, keep: bool) -> None:
        if self.home.exists():
            subprocess.run(
                [self.exe, "server", "stop"],
                env=self.env("stop"),
                cwd=self.checkout,
                capture_output=True,
                timeout=120,
            )
        if not keep:
            shutil.rmtree(self.home, ignore_errors=True)


def run_pair(checkouts: Mapping[str, Path], tmp: Path, index: int, keep: bool) -> dict[str, Any]:
    """One repetition: baseline seed, head seed, baseline run, head run."""
    sides = {}
    for name in SIDES:
        home = tmp / f"rep{index}" / name / "home"
        home.mkdir(parents=True)
        sides[name] = Side(name, checkouts[name], home, _free_port())
    got: dict[tuple[str, str], Measured] = {}
    try:
        for step in STEPS:
            for name in SIDES:
                got[(name, step)] = sides[name].step(step)
    finally:
        for side in sides.values():
            side.stop(keep)
    return {
        name: SideFigures(
            seed_wall_s=got[(name, "seed")].wall_s,
            seed_rss_mib=got[(name, "seed")].peak_rss_mib,
            run_wall_s=got[(name, "run")].wall_s,
            run_rss_mib=got[(name, "run")].peak_rss_mib,
        )
        for name in SIDES
    }


# --- command line ---------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.make_run",
        description="make run of a baseline commit and of this checkout, side by side.",
    )
    p.add_argument(
        "--baseline",
        default=DEFAULT_BASELINE,
        metavar="REV",
        help=f"baseline commit [default: {DEFAULT_BASELINE}, before issue 15's models]",
    )
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="pairs; medians reported")
    p.add_argument("--keep", action="store_true", help="keep the homes and baseline worktree")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.exit(2, f"make_run: --repeat must be at least 1, not {args.repeat}\n")
    return args


def _head_label() -> tuple[str, bool]:
    sha = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return sha, dirty


def write_results(out: Path, record: dict[str, Any], text: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"make_run-{record['timestamp']}"
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    md = [
        f"# make run, side by side ({record['timestamp']})",
        "",
        f"baseline `{record['baseline']['sha']}` ({record['baseline']['rev']}), "
        f"head `{record['head']['sha']}`" + (" (+ uncommitted)" if record["head"]["dirty"] else ""),
        f"repeat {record['repeat']}; load average before/after: "
        f"{record['load_before']} / {record['load_after']}",
        "",
        "```",
        text.rstrip(),
        "```",
        "",
    ]
    stem.with_suffix(".md").write_text("\n".join(md))
    return stem.with_suffix(".json")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sha = resolve_rev(args.baseline)
    if sha is None:
        print(f"make_run: --baseline {args.baseline!r} is not a commit here", file=sys.stderr)
        return 2
    head_exe = ROOT / ".venv" / "bin" / "nba-backfill"
    if not head_exe.exists():
        print(f"make_run: {head_exe} is missing: run `uv sync --frozen` first", file=sys.stderr)
        return 2
    head_sha, dirty = _head_label()
    labels = (sha[:7], head_sha[:7] + ("+" if dirty else ""))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    tmp = Path(tempfile.mkdtemp(prefix="make_run-"))
    load_before = [round(x, 2) for x in os.getloadavg()]
    samples: dict[str, list[SideFigures]] = {name: [] for name in SIDES}
    try:
        with baseline_checkout(sha, tmp, args.keep) as base:
            checkouts = {"baseline": base, "head": ROOT}
            for i in range(args.repeat):
                _say(f"pair {i + 1} of {args.repeat}")
                for name, fig in run_pair(checkouts, tmp, i, args.keep).items():
                    samples[name].append(fig)
    except BenchError as exc:
        print(f"make_run: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            _say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    med = {name: median_figures(samples[name]) for name in SIDES}
    text = render(table(med["baseline"], med["head"], labels=labels, repeat=args.repeat))
    print(text, end="")
    record = {
        "timestamp": stamp,
        "baseline": {"rev": args.baseline, "sha": sha},
        "head": {"sha": head_sha, "dirty": dirty},
        "repeat": args.repeat,
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "samples": {name: [asdict(s) for s in samples[name]] for name in SIDES},
        "median": {
            name: {**asdict(med[name]), "total_wall_s": med[name].total_wall_s} for name in SIDES
        },
        "summary": summary(med["baseline"], med["head"]),
        "limits": {"wall_ratio": WALL_RATIO_LIMIT, "peak_rss_mib": RSS_LIMIT_MIB},
    }
    path = write_results(args.out, record, text)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    _say(f"results: {shown} (+ .md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
