"""Human-readable renderings of plans, validation reports and run summaries (Prefect artifacts,
CLI output and Slack share them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nba_backfill.catalog import USAGE_RATE_THRESHOLD
from nba_backfill.estimate import format_bytes
from nba_backfill.validation import ValidationReport


def validation_rows(report: ValidationReport) -> list[dict[str, Any]]:
    return [
        {
            "table": t.table,
            "coverage": f"{t.coverage:.1%}",
            "dates": f"{t.covered}/{t.expected}",
            "missing": len(t.missing),
            "incomplete": len(t.incomplete),
            "rows": t.rows,
            "null_keys": t.null_keys,
            "duplicate_keys": t.duplicate_keys,
            "status": "; ".join(
                ["ok" if t.ok else "; ".join(t.problems)] + [f"warning: {w}" for w in t.warnings]
            ),
        }
        for t in report.tables
    ]


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "_nothing to show_\n"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def validation_markdown(report: ValidationReport) -> str:
    verdict = "PASSED" if report.ok else "FAILED"
    out = [f"# Phase {report.phase} validation {report.start}..{report.end}: **{verdict}**", ""]
    out.append(markdown_table(validation_rows(report)))
    if report.usage_rate_share is not None:
        out.append(
            f"\nML readiness: usage_rate non-null on {report.usage_rate_share:.1%} of "
            f"player-games with minutes > 0 (needs ≥ {USAGE_RATE_THRESHOLD:.0%}).\n"
        )
    for table, problems in report.problems.items():
        out.append(f"- `{table}`: " + "; ".join(problems))
    for t in report.tables:
        if t.missing or t.incomplete:
            shown = ", ".join(d.isoformat() for d in (t.missing + t.incomplete)[:20])
            out.append(
                f"- `{t.table}` dates not complete: {shown}"
                + (" …" if len(t.missing) + len(t.incomplete) > 20 else "")
            )
    return "\n".join(out) + "\n"


NO_FIGURE = "—"  # a figure the warehouse does not report (DuckDB bills nothing per query)


def cost_cells(row: Mapping[str, Any]) -> dict[str, str]:
    """One row of a run's cost account (``RunSummary.cost``) as text: estimated vs actual."""

    def size(n: int | None) -> str:
        return NO_FIGURE if n is None else format_bytes(n)

    ms = row.get("slot_ms")
    return {
        "table": str(row.get("table", "total")).rsplit(".", 1)[-1],
        "estimated": size(row.get("estimated_bytes")),
        "processed": size(row.get("bytes_processed")),
        "billed": size(row.get("bytes_billed")),
        "slot time": NO_FIGURE if ms is None else f"{ms / 1000:,.1f} s",
    }


def cost_table_rows(cost: Mapping[str, Any]) -> list[dict[str, str]]:
    """Per table and for the whole run (last row), estimated bytes vs what was processed and
    billed, and slot time."""
    rows = [cost_cells(r) for r in cost.get("tables") or []]
    return [*rows, cost_cells({**cost.get("total", {}), "table": "total"})]


def summary_markdown(summary: Mapping[str, Any]) -> str:
    out = [f"# Backfill {summary['start']}..{summary['end']}: **{summary['status']}**", ""]
    out.append(markdown_table(summary["tables"]))
    if summary.get("cost"):
        out.append("\n## Cost: estimated vs actual\n")
        out.append(markdown_table(cost_table_rows(summary["cost"])))
    if summary.get("failed_chunks"):
        out.append("\n## Failed chunks\n")
        out += [f"- {c['label']}: {c['error']}" for c in summary["failed_chunks"]]
    out += held_back_lines(summary.get("held_back") or {})
    if summary.get("signoff"):
        out.append("\n## Sign-off\n")
        out.append(signoff_line(summary["signoff"]))
    if summary.get("games_skipped"):
        out.append("\n## Skipped: inputs missing\n")
        out += [f"- {g} (box scores / gamebook never arrived)" for g in summary["games_skipped"]]
    if summary.get("reason"):
        out.append(f"\n{summary['reason']}\n")
    return "\n".join(out) + "\n"


def held_back_lines(held: Mapping[str, Mapping[str, str]], first: int = 20) -> list[str]:
    """The per-date gate's held-back Phase 4 dates: a count per table, then each date with its
    reason (the first ``first`` of a table)."""
    if not held:
        return []
    out = ["\n## Held back by the Phase 3 gate\n"]
    out += [f"- `{t}`: {len(d)} date(s)" for t, d in held.items()]
    out.append("")
    for table, dates in held.items():
        name = table.rsplit(".", 1)[-1]
        out += [f"- {name} {d}: {r}" for d, r in list(dates.items())[:first]]
        if len(dates) > first:
            out.append(f"- {name}: {len(dates) - first} more")
    return out


def signoff_line(signoff: Mapping[str, Any]) -> str:
    """Who signed the Phase 3 checklist off (or refused it), when, and their note."""
    verdict = "approved" if signoff.get("approved") else "rejected"
    who = signoff.get("approver") or "nobody"
    note = f": {signoff['note']}" if signoff.get("note") else ""
    return f"{verdict} by {who} at {signoff.get('at', '?')}{note}"


def rerun_markdown(report: Mapping[str, Any]) -> str:
    """The rerun's artifact: what it set out to fill, fixed, and what still fails."""
    out = [f"# Rerun of failed dates: **{report['status']}**", ""]
    runs = report.get("runs") or []
    out.append(
        f"Read {len(runs)} failed backfill run(s) of the last {report['lookback_days']} days"
        + (": " + ", ".join(f"`{r}`" for r in runs) if runs else "")
        + ".\n"
    )
    if report.get("nothing_to_do"):
        out.append("Nothing to do: no date of a failed run is still missing.\n")
        return "\n".join(out)
    rows = [
        {
            "table": table,
            "to fill": len(dates),
            "fixed": len(report["fixed"].get(table, [])),
            "still failing": len(report["still_failing"].get(table, [])),
            "dates": f"{dates[0]} … {dates[-1]}" if len(dates) > 1 else dates[0],
        }
        for table, dates in report["targets"].items()
    ]
    out.append(markdown_table(rows))
    for table, dates in report["still_failing"].items():
        out.append(f"- `{table}` still failing: " + ", ".join(dates[:20]))
    for c in report.get("failed_chunks") or []:
        out.append(f"- {c['label']}: {c['error']}")
    if report.get("reason"):
        out.append(f"\n{report['reason']}\n")
    return "\n".join(out) + "\n"
