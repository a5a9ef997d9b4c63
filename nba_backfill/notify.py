"""Slack messages (Block Kit) built from run summaries: plain functions of values, so every
message is unit-tested without Slack or Prefect. Delivery lives in ``flows/hooks.py``.

A message is ``{"text": fallback, "blocks": [...]}``: ``text`` is what notifications and
screen readers show, ``blocks`` what the channel renders. Messages stay short: per-table
coverage, what failed and why, how to retry, a link to the run. Nothing secret goes in (the
webhook URL never reaches this module).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from nba_backfill.report import NO_FIGURE, cost_table_rows

SlackMessage = dict[str, Any]

MAX_LISTED = 8  # chunks / tables / problems listed before "… and N more"
MAX_ERROR_CHARS = 180
RERUN_FLOW = "rerun-failed-dates"


# --- formatting helpers -------------------------------------------------------------------------
def short(table: str) -> str:
    """``dataset.table`` -> ``table`` (the names fit a phone screen)."""
    return table.rsplit(".", 1)[-1]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def one_line(text: str | None, limit: int = MAX_ERROR_CHARS) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def date_span(dates: Sequence[str]) -> str:
    ds = sorted(dates)
    if not ds:
        return ""
    return ds[0] if len(ds) == 1 else f"{ds[0]} … {ds[-1]}"


def _more(items: Sequence[str], limit: int = MAX_LISTED) -> list[str]:
    shown = list(items[:limit])
    if len(items) > limit:
        shown.append(f"… and {len(items) - limit} more")
    return shown


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _section(markdown: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown[:3000]}}


def _context(parts: Iterable[str]) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(parts)}]}


def _dates_section(title: str, dates: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """``title`` over one line per table: how many dates, first … last."""
    lines = [
        f"• `{short(t)}`: {len(ds)} date(s), {date_span(ds)}" for t, ds in sorted(dates.items())
    ]
    return _section(f"*{title}*\n" + "\n".join(_more(lines)))


def _footer(run_name: str | None, seconds: float | None, run_url: str | None) -> dict[str, Any]:
    parts = []
    if run_name:
        parts.append(f"run `{run_name}`")
    if seconds is not None:
        parts.append(f"took {duration(seconds)}")
    parts.append(f"<{run_url}|open the run in Prefect>" if run_url else "run history in Prefect")
    return _context(parts)


def coverage_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Per-table coverage as a fixed-width block: before → after, dates filled, failed."""
    if not rows:
        return "_no tables planned_"
    width = max(len(short(str(r["table"]))) for r in rows)
    lines = [f"{'table':<{width}}  {'before':>9}  {'after':>9}  {'filled':>6}  {'failed':>6}"]
    for r in rows:
        lines.append(
            f"{short(str(r['table'])):<{width}}  {r.get('before', '-')!s:>9}  "
            f"{r.get('after', '-')!s:>9}  {r.get('filled', 0)!s:>6}  {r.get('failed', 0)!s:>6}"
        )
    return "```\n" + "\n".join(lines) + "\n```"


def cost_table(cost: Mapping[str, Any] | None) -> str:
    """Per table and in total, the estimated bytes vs those billed and the slot time, as a
    fixed-width block; one line when nothing is billed per query (DuckDB)."""
    rows = cost_table_rows(cost or {})
    total = rows[-1]
    if all(total[c] == NO_FIGURE for c in ("estimated", "processed", "billed", "slot time")):
        return f"_cost_: {NO_FIGURE} (nothing billed per query)"
    cols = ("table", "estimated", "billed", "slot time")
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    lines = ["  ".join(f"{c:<{width[c]}}" if c == "table" else f"{c:>{width[c]}}" for c in cols)]
    for r in rows:
        lines.append(
            "  ".join(
                f"{r[c]:<{width[c]}}" if c == "table" else f"{r[c]:>{width[c]}}" for c in cols
            )
        )
    return "```\n" + "\n".join(lines) + "\n```"


def retry_command(
    summary: Mapping[str, Any],
    deployment: str | None = None,
    requested: Sequence[str] | None = None,
) -> str:
    """The command that retries what did not get filled: the failed dates' span and tables (the
    planner skips what is complete, so a retry never redoes work); when the gate blocked or no
    date is listed, the run's whole range and ``requested`` tables (None = all). Without a
    deployment, the local CLI form."""
    failed: Mapping[str, Sequence[str]] = summary.get("failed_dates") or {}
    dates = [d for ds in failed.values() for d in ds]
    if dates and not summary.get("gate_blocked"):
        start, end, tables = min(dates), max(dates), sorted(failed)
    else:
        start, end, tables = summary["start"], summary["end"], sorted(requested or [])
    if deployment:
        cmd = f"prefect deployment run '{deployment}' --param start={start} --param end={end}"
        if tables:
            cmd += f" --param 'tables={json.dumps(tables)}'"
        return cmd
    cmd = f"nba-backfill run --start {start} --end {end}"
    if tables:
        cmd += " --tables " + ",".join(short(t) for t in tables)
    return cmd


# --- backfill -----------------------------------------------------------------------------------
def backfill_message(
    summary: Mapping[str, Any],
    *,
    run_url: str | None = None,
    run_name: str | None = None,
    deployment: str | None = None,
    requested_tables: Sequence[str] | None = None,
) -> SlackMessage:
    """The message for a finished backfill run: completed, failed chunks (and the gate they
    made fail), or the gate blocking Phase 4 on what was already missing."""
    if summary.get("gate_blocked") and not summary.get("failed_chunks"):
        return gate_message(
            3,
            summary["start"],
            summary["end"],
            summary["gate_blocked"],
            run_url=run_url,
            run_name=run_name,
            retry=retry_command(summary, deployment, requested_tables),
            tables=summary.get("tables"),
            seconds=summary.get("seconds"),
        )
    if summary.get("status") == "Completed":
        return _completed(summary, run_url=run_url, run_name=run_name)
    retry = retry_command(summary, deployment, requested_tables)
    return _failed(summary, run_url=run_url, run_name=run_name, retry=retry)


def _completed(
    summary: Mapping[str, Any], *, run_url: str | None, run_name: str | None
) -> SlackMessage:
    rows = summary.get("tables") or []
    filled = sum(int(r.get("filled", 0)) for r in rows)
    title = f"Backfill {summary['start']} → {summary['end']} completed"
    skipped: Sequence[str] = summary.get("games_skipped") or []
    headline = (
        f"*{filled} table-dates filled* across {len(rows)} tables"
        if filled
        else "*Nothing to fill*: every game whose inputs arrived is written"
        if skipped
        else "*Nothing to fill*: every expected date was already complete"
    )
    blocks = [_header(f"✅ {title}"), _section(headline), _section(coverage_table(rows))]
    if skipped:  # never "complete": name the games the Phase 2 feed still owes
        blocks.append(
            _section(
                "*Skipped, inputs missing* (box scores / gamebook never arrived): "
                + ", ".join(_more(list(skipped)))
            )
        )
    if "cost" in summary:
        blocks.append(_section(cost_table(summary["cost"])))
    if retries := summary.get("retries"):
        blocks.append(
            _context(
                ["retried: " + ", ".join(f"{reason} ×{n}" for reason, n in sorted(retries.items()))]
            )
        )
    blocks.append(_footer(run_name, summary.get("seconds"), run_url))
    text = f"{title}: {filled} table-dates filled in {duration(summary.get('seconds'))}"
    return {"text": text, "blocks": blocks}


def error_classes(failed_chunks: Sequence[Mapping[str, Any]]) -> str:
    counts = Counter(str(c.get("error_class") or "not run") for c in failed_chunks)
    return ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in counts.most_common())


def _failed(
    summary: Mapping[str, Any],
    *,
    run_url: str | None,
    run_name: str | None,
    retry: str,
) -> SlackMessage:
    chunks: Sequence[Mapping[str, Any]] = summary.get("failed_chunks") or []
    failed_dates: Mapping[str, Sequence[str]] = summary.get("failed_dates") or {}
    gate: Mapping[str, Sequence[str]] = summary.get("gate_blocked") or {}
    title = f"Backfill {summary['start']} → {summary['end']} failed" + (
        " — Phase 4 not started" if gate else ""
    )
    blocks = [_header(f"❌ {title}")]
    if chunks:
        lines = [
            f"• `{c['label']}` — {one_line(str(c.get('error') or ''))}"
            if c.get("error_class")
            else f"• `{c['label']}` — not run (an upstream chunk failed)"
            for c in chunks
        ]
        blocks.append(
            _section(
                f"*{len(chunks)} chunk(s) failed* · error class: {error_classes(chunks)}\n"
                + "\n".join(_more(lines))
            )
        )
    elif summary.get("reason"):
        blocks.append(_section(f"*Why*: {one_line(summary['reason'], 400)}"))
    if gate:
        lines = [f"• `{short(t)}`: {'; '.join(p)}" for t, p in gate.items()]
        blocks.append(_section("*Phase 3 gate failed*\n" + "\n".join(_more(lines))))
    if held := summary.get("held_back"):
        blocks.append(held_back_section(held))
    if failed_dates:
        blocks.append(_dates_section("Dates not filled", failed_dates))
    if summary.get("tables"):
        blocks.append(_section(coverage_table(summary["tables"])))
    if "cost" in summary:
        blocks.append(_section(cost_table(summary["cost"])))
    blocks.append(
        _section(
            f"*Retry*: `{retry}`\nor let the scheduled `{RERUN_FLOW}` run pick the failed dates up."
        )
    )
    blocks.append(_footer(run_name, summary.get("seconds"), run_url))
    labels = ", ".join(c["label"] for c in chunks[:3]) + (" …" if len(chunks) > 3 else "")
    text = f"{title}: " + (
        f"{len(chunks)} chunk(s) failed ({error_classes(chunks)}): {labels}"
        if chunks
        else one_line(summary.get("reason"), 300)
    )
    return {"text": text, "blocks": blocks}


def held_back_section(held: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """The Phase 4 dates the per-date gate held back: per table how many, and the first
    date's reason (the Phase 3 date its windows read)."""
    lines = [
        f"• `{short(t)}`: {len(ds)} date(s), {date_span(list(ds))} — {next(iter(ds.values()))}"
        for t, ds in held.items()
        if ds
    ]
    return _section("*Held back by the Phase 3 gate*\n" + "\n".join(_more(lines)))


def signoff_message(
    summary: Mapping[str, Any],
    timeout_seconds: int,
    *,
    run_url: str | None = None,
    run_name: str | None = None,
) -> SlackMessage:
    """The run is paused after a passing Phase 3 gate: the coverage so far, and where to sign
    the checklist off (the run's page in Prefect) before Phase 4 starts."""
    title = f"Phase 3 passed for {summary['start']} → {summary['end']}: sign-off needed"
    hours = timeout_seconds / 3600
    ask = (
        f"*Sign the Phase 3 checklist off* in the run's page (approver, approved, note) "
        f"within {hours:g} h, or the run is cancelled and Phase 4 does not start."
    )
    blocks = [_header(f"✋ {title}"), _section(ask)]
    if summary.get("tables"):
        blocks.append(_section(coverage_table(summary["tables"])))
    blocks.append(_footer(run_name, None, run_url))
    return {"text": title + (f": {run_url}" if run_url else ""), "blocks": blocks}


def gate_message(
    phase: int,
    start: str,
    end: str,
    problems: Mapping[str, Sequence[str]],
    *,
    run_url: str | None = None,
    run_name: str | None = None,
    retry: str | None = None,
    tables: Sequence[Mapping[str, Any]] | None = None,
    seconds: float | None = None,
) -> SlackMessage:
    """The Phase ``phase`` gate did not pass: what is missing per table (Phase 4 not started)."""
    blocked = " — Phase 4 not started" if phase == 3 else ""
    title = f"Phase {phase} gate failed for {start} → {end}{blocked}"
    lines = [f"• `{short(t)}`: {'; '.join(p)}" for t, p in problems.items()]
    blocks = [_header(f"⛔ {title}"), _section("*What is missing*\n" + "\n".join(_more(lines)))]
    if tables:
        blocks.append(_section(coverage_table(tables)))
    if retry:
        blocks.append(_section(f"*Once Phase {phase} is complete, retry*: `{retry}`"))
    blocks.append(_footer(run_name, seconds, run_url))
    text = f"{title}: " + "; ".join(f"{short(t)}: {p[0]}" for t, p in problems.items() if p)
    return {"text": one_line(text, 400), "blocks": blocks}


def error_message(
    flow_name: str,
    *,
    error: str | None,
    error_class: str | None = None,
    crashed: bool = False,
    run_url: str | None = None,
    run_name: str | None = None,
    retry: str | None = None,
    seconds: float | None = None,
) -> SlackMessage:
    """A run that ended without a summary: it crashed (out of memory, container stopped) or
    failed before it could plan (bad parameter, warehouse unreachable)."""
    title = f"{flow_name} run {'crashed' if crashed else 'failed'}"
    why = one_line(error, 400) or "the flow run process ended unexpectedly"
    blocks = [
        _header(("💥 " if crashed else "❌ ") + title),
        _section(f"*Why*: {f'`{error_class}` ' if error_class else ''}{why}"),
    ]
    if retry:
        blocks.append(
            _section(
                f"*Retry*: `{retry}` — what finished is kept; a rerun plans only what is "
                "still missing."
            )
        )
    blocks.append(_footer(run_name, seconds, run_url))
    klass = f"{error_class}: " if error_class else ""
    return {"text": f"{title}: {klass}{one_line(error, 300)}", "blocks": blocks}


# --- rerun --------------------------------------------------------------------------------------
def rerun_message(
    report: Mapping[str, Any], *, run_url: str | None = None, run_name: str | None = None
) -> SlackMessage:
    """What a rerun of failed dates fixed, and what still fails."""
    fixed: Mapping[str, Sequence[str]] = report.get("fixed") or {}
    still: Mapping[str, Sequence[str]] = report.get("still_failing") or {}
    n_fixed = sum(len(v) for v in fixed.values())
    n_still = sum(len(v) for v in still.values())
    ok = not still and report.get("status") == "Completed"
    title = f"Rerun of failed dates: {n_fixed} fixed, {n_still} still failing"
    blocks = [
        _header(("✅ " if ok else "⚠️ ") + title),
        _section(
            f"From {len(report.get('runs') or [])} failed backfill run(s) of the last "
            f"{report.get('lookback_days')} days."
        ),
    ]
    if fixed:
        blocks.append(_dates_section("Fixed", fixed))
    if still:
        blocks.append(_dates_section("Still failing", still))
    chunks: Sequence[Mapping[str, Any]] = report.get("failed_chunks") or []
    if chunks:
        lines = [f"• `{c['label']}` — {one_line(str(c.get('error') or ''))}" for c in chunks]
        blocks.append(
            _section(
                f"*{len(chunks)} chunk(s) failed again* · error class: {error_classes(chunks)}\n"
                + "\n".join(_more(lines))
            )
        )
    elif report.get("reason") and not ok:
        blocks.append(_section(f"*Why*: {one_line(report['reason'], 400)}"))
    blocks.append(_footer(run_name, report.get("seconds"), run_url))
    return {"text": title, "blocks": blocks}


__all__ = [
    "SlackMessage",
    "backfill_message",
    "coverage_table",
    "duration",
    "error_message",
    "gate_message",
    "rerun_message",
    "retry_command",
]
