"""``bench.make_run`` without a backfill: refusing a bad baseline, medians, ratios and the table
from given numbers, the ``wait4`` measurement of small children, and the step order and
environment with stand-in ``nba-backfill`` executables. No timing is asserted."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from bench import make_run as mr


def test_bad_baseline_is_refused_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = mr.main(["--baseline", "no-such-rev-15", "--out", str(tmp_path)])
    assert code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "no-such-rev-15" in err
    assert list(tmp_path.iterdir()) == []


def test_repeat_below_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        mr.parse_args(["--repeat", "0"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_default_baseline_is_the_commit_before_issue_15s_models() -> None:
    args = mr.parse_args([])
    assert args.baseline == "6e2e9d3" and args.repeat == 1 and not args.keep
    assert mr.resolve_rev("HEAD") is not None
    assert mr.resolve_rev("no-such-rev-15") is None


def test_median_per_figure_over_repeats() -> None:
    samples = [
        mr.SideFigures(10.0, 500.0, 100.0, 900.0),
        mr.SideFigures(30.0, 700.0, 300.0, 800.0),
        mr.SideFigures(20.0, 600.0, 200.0, 1100.0),
    ]
    med = mr.median_figures(samples)
    assert med == mr.SideFigures(20.0, 600.0, 200.0, 900.0)
    assert med.total_wall_s == 220.0
    # An even count: the mean of the middle two, each figure on its own.
    two = mr.median_figures(samples[:2])
    assert two == mr.SideFigures(20.0, 600.0, 200.0, 850.0)
    with pytest.raises(ValueError):
        mr.median_figures([])


def test_ratios_and_the_1_gib_check() -> None:
    base = mr.SideFigures(100.0, 800.0, 500.0, 1700.0)
    head = mr.SideFigures(80.0, 1023.9, 820.0, 1024.0)
    s = mr.summary(base, head)
    assert s["total_wall_ratio"] == pytest.approx(900.0 / 600.0)
    assert s["run_wall_ratio"] == pytest.approx(820.0 / 500.0)
    assert s["total_within_1_5x"] is True  # exactly 1.5x is within
    assert s["seed_rss_under_1_gib"] is True
    assert s["run_rss_under_1_gib"] is False  # 1024 MiB is not under 1 GiB


def test_table_fits_80_columns_and_shows_the_figures() -> None:
    base = mr.SideFigures(95.24, 820.4, 610.7, 1711.3)
    head = mr.SideFigures(101.0, 790.0, 702.5, 1030.0)
    text = mr.render(mr.table(base, head, labels=("6e2e9d3", "571ed10+"), repeat=3))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "median of 3" in lines[0]
    assert "baseline 6e2e9d3" in text and "head 571ed10+" in text
    rows = {line.split("│")[1].strip(): line for line in lines if line.startswith("│")}
    assert set(rows) == {"seed wall", "seed peak RSS", "run wall", "run peak RSS", "total wall"}
    assert "95.2 s" in rows["seed wall"] and "101.0 s" in rows["seed wall"]
    assert "1,711 MiB" in rows["run peak RSS"] and "NO" in rows["run peak RSS"]
    assert "yes" in rows["seed peak RSS"]
    assert "1.15x" in rows["run wall"]  # 702.5 / 610.7
    assert "705.9 s" in rows["total wall"] and "1.14x" in rows["total wall"]  # 803.5 / 705.9


def test_wait4_reports_the_childs_peak_rss() -> None:
    m = mr.measure([sys.executable, "-c", "bytearray(200 * 2**20)"])
    assert m.code == 0
    assert m.peak_rss_mib >= 200.0
    assert m.wall_s > 0


def test_wait4_reports_the_exit_code_and_keeps_stderr(tmp_path: Path) -> None:
    err = tmp_path / "err"
    m = mr.measure(
        [sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"],
        stderr=err,
    )
    assert m.code == 3
    assert err.read_text() == "boom\n"


# --- stand-in checkouts: the order of the steps and each side's environment ----------------------
STAND_IN = """#!/bin/sh
echo "{name} $* home=$NBA_BACKFILL_HOME port=$PREFECT_SERVER_API_PORT \
exp=${{NBA_BACKFILL_WAREHOUSE__DUCKDB_PARTITION_EXPIRATION:-unset}} \
api=${{PREFECT_API_URL:-unset}}" >> {log}
if [ "$1" = "{fail}" ]; then echo "line one" >&2; echo "the reason" >&2; exit 4; fi
"""


def _checkout(root: Path, name: str, log: Path, fail: str = "") -> Path:
    exe = root / name / ".venv" / "bin" / "nba-backfill"
    exe.parent.mkdir(parents=True)
    exe.write_text(STAND_IN.format(name=name, log=log, fail=fail or "never"))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return root / name


def test_pair_interleaves_the_sides_each_with_its_own_home_and_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    monkeypatch.delenv(mr.EXPIRATION_ENV, raising=False)
    log = tmp_path / "log"
    checkouts = {name: _checkout(tmp_path / "co", name, log) for name in mr.SIDES}
    got = mr.run_pair(checkouts, tmp_path / "tmp", 0, keep=False)
    lines = log.read_text().splitlines()
    assert [" ".join(line.split()[:2]) for line in lines] == [
        "baseline seed",
        "head seed",
        "baseline run",
        "head run",
        "baseline server",
        "head server",
    ]
    fields = [dict(f.split("=", 1) for f in line.split() if "=" in f) for line in lines]
    assert {f["home"] for f in fields[0::2]} != {f["home"] for f in fields[1::2]}
    assert len({f["home"] for f in fields}) == 2 and len({f["port"] for f in fields}) == 2
    assert [f["exp"] for f in fields[:4]] == ["unset", "unset", "none", "none"]
    assert {f["api"] for f in fields} == {"unset"}  # never another server
    assert not any(Path(f["home"]).exists() for f in fields)  # removed without --keep
    assert set(got) == {"baseline", "head"}
    assert all(fig.seed_rss_mib > 0 and fig.run_wall_s > 0 for fig in got.values())
    progress = capsys.readouterr().out.splitlines()
    assert len(progress) == 8 and max(len(line) for line in progress) <= 80


def test_a_failing_step_reports_its_stderr_tail_and_stops_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "log"
    checkouts = {
        "baseline": _checkout(tmp_path / "co", "baseline", log),
        "head": _checkout(tmp_path / "co", "head", log, fail="run"),
    }
    with pytest.raises(mr.BenchError) as exc:
        mr.run_pair(checkouts, tmp_path / "tmp", 0, keep=True)
    assert "head run exited 4" in str(exc.value)
    assert str(exc.value).endswith("line one\nthe reason")
    lines = [" ".join(line.split()[:2]) for line in log.read_text().splitlines()]
    assert lines[-2:] == ["baseline server", "head server"]
    assert (tmp_path / "tmp" / "rep0" / "head" / "home").is_dir()  # kept with --keep


def test_results_are_written_as_json_and_markdown(tmp_path: Path) -> None:
    base = mr.SideFigures(90.0, 800.0, 600.0, 1700.0)
    head = mr.SideFigures(90.0, 780.0, 700.0, 1000.0)
    text = mr.render(mr.table(base, head, labels=("6e2e9d3", "abcdef0")))
    record = {
        "timestamp": "20260101-000000",
        "baseline": {"rev": "6e2e9d3", "sha": "6e2e9d3" + "0" * 33},
        "head": {"sha": "abcdef0" + "0" * 33, "dirty": False},
        "repeat": 1,
        "load_before": [1.0, 1.0, 1.0],
        "load_after": [2.0, 1.0, 1.0],
        "summary": mr.summary(base, head),
    }
    path = mr.write_results(tmp_path, record, text)
    assert path.name == "make_run-20260101-000000.json"
    assert json.loads(path.read_text())["summary"]["run_rss_under_1_gib"] is True
    md = path.with_suffix(".md").read_text()
    assert text.rstrip() in md and "(6e2e9d3)" in md
