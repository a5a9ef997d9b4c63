"""The nba-backfill command line: seed, plan, run, validate, status, server.

Prefect is imported only by ``run`` (lazily): the other commands are plain warehouse reads.
Bad input prints one line and exits 2, before anything is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli import local_server
from cli.tables import add_grouped_rows, fits, new_table, short_name
from nba_backfill.budget import parse_bytes
from nba_backfill.catalog import USAGE_RATE_THRESHOLD
from nba_backfill.errors import BackfillError, UsageError, WarehouseUnavailable
from nba_backfill.estimate import PlanEstimate, estimate_plan, format_estimate
from nba_backfill.params import RunParams, parse_phase, resolve_params
from nba_backfill.planner import Plan, Planner, Selection
from nba_backfill.producers import describe as describe_producer
from nba_backfill.readiness import INPUTS_MISSING
from nba_backfill.settings import Settings, get_settings
from nba_backfill.validation import ValidationReport, validate
from nba_backfill.warehouse import Warehouse, close_shared, open_warehouse

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Backfill the NBA props platform's Phase 3/4 tables, locally or on BigQuery.",
)
server_app = typer.Typer(no_args_is_help=True, help="The local Prefect server (run history UI).")
app.add_typer(server_app, name="server")
out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

StartOpt = Annotated[str | None, typer.Option("--start", help="First date, YYYY-MM-DD")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last date, YYYY-MM-DD")]
TablesOpt = Annotated[
    str | None,
    typer.Option("--tables", help="Comma-separated tables (name or dataset.table); default all"),
]
ChunkOpt = Annotated[int | None, typer.Option("--chunk-days", help="Days per chunk task")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output")]
ModeOpt = Annotated[
    str | None,
    typer.Option("--mode", help="missing (default), failed, all, dates, stale (docs/operating.md)"),
]
DatesOpt = Annotated[
    str | None, typer.Option("--dates", help="Comma-separated dates to rewrite (mode dates)")
]
DownstreamOpt = Annotated[
    bool,
    typer.Option(
        "--downstream/--no-downstream",
        help="Also rewrite the dates whose windows read the dates asked for",
    ),
]
PortOpt = Annotated[
    int | None,
    typer.Option(
        help="Local Prefect server port when PREFECT_API_URL is unset "
        f"[default: {local_server.PORT_ENV}, else {local_server.DEFAULT_PORT}]"
    ),
]
ESTIMATE_COLUMN = "est. bytes / $"


def _error_line(message: str) -> None:
    """One line on stderr; the message is text, never markup (a pattern like ``[a-z]`` or a
    table name a person typed must come out as written)."""
    line = f"[bold red]error:[/] {escape(message)}"
    if err.is_terminal:  # for a person: wrapped at 80 columns (or the terminal's width)
        err.print(line, highlight=False, width=min(err.width, 80))
    else:  # piped or logged: one line, whole, for grep and scripts
        err.print(line, highlight=False, soft_wrap=True)


def _fail(message: str, code: int) -> None:
    _error_line(message)
    raise typer.Exit(code)


# A run (or validate) that did everything its inputs allow but skipped final games whose box
# scores or gamebook never arrived: neither done (0: the dates are not complete) nor failed (1:
# nothing here can be retried; the Phase 2 feed must deliver first). docs/operating.md.
EXIT_INPUTS_MISSING = 3


def _games_skipped_exit(games: list[str], shown: Iterable[str] = ()) -> None:
    """Exit 3 when games were skipped for missing inputs: each named on its line (those not
    ``shown`` yet), then one line saying why the exit code."""
    if not games:
        return
    seen = set(shown)
    for game in games:
        if game not in seen:
            out.print(f"{INPUTS_MISSING}: {game}", highlight=False)
    err.print(
        f"[bold yellow]incomplete:[/] {len(games)} game(s) skipped, inputs missing "
        "(no box scores / gamebook)",
        highlight=False,
    )
    raise typer.Exit(EXIT_INPUTS_MISSING)


@contextmanager
def _errors() -> Iterator[None]:
    """Translate expected errors into one line and an exit code (2 = usage)."""
    try:
        yield
    except (UsageError, WarehouseUnavailable) as exc:
        _fail(str(exc), 2)
    except BackfillError as exc:
        _fail(str(exc), 1)


def _settings() -> Settings:
    return get_settings()


def _tables(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [t.strip() for t in value.split(",") if t.strip()]


def _read_only() -> Warehouse:
    """The warehouse for a command that only reads: during a run, a copy of it (a command
    that goes on to write, like ``run``, opens it with ``open_warehouse`` and is refused)."""
    return open_warehouse(_settings(), read_only=True, copy_if_locked=True)


def _params(
    start: str | None,
    end: str | None,
    tables: str | None,
    chunk_days: int | None,
    max_concurrency: int | None = None,
    skip_phase4: bool = False,
    mode: str | None = None,
    dates: str | None = None,
    downstream: bool = True,
) -> RunParams:
    return resolve_params(
        _settings(),
        start,
        end,
        _tables(tables),
        chunk_days,
        max_concurrency,
        skip_phase4,
        mode,
        dates,
        downstream,
    )


def _selection(p: RunParams, wh: Warehouse, port: int | None = None) -> Selection | None:
    """The dates ``p``'s reprocess mode asks for; mode failed reads the failed runs of the
    rerun look-back from the Prefect server (``local_server.configure``)."""
    failed = None
    if p.mode == "failed":
        from nba_backfill.rerun import failed_dates

        s = _settings()
        # Before Prefect is imported: it reads its API URL once, at import.
        local_server.configure(s.home, port)
        from tasks.history import failed_runs  # the client query, not the flows' task

        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=s.prefect.rerun_lookback_days)
        failed = failed_dates(wh, failed_runs(since), p.start, p.end)
    return Selection.of(p, failed)


# --- seed ---------------------------------------------------------------------------------------
@app.command()
def seed(
    state: Annotated[
        str, typer.Option(help="seeds: runbook's starting gaps; empty: no Phase 3/4")
    ] = "seeds",
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed")] = 7,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when the warehouse was already seeded")
    ] = False,
) -> None:
    """Write synthetic Phase 2 seasons (and, for --state seeds, Phase 3 with the runbook's gaps).

    Replaces whole tables: on BigQuery it refuses (exit 2, nothing written) unless the target is
    a confirmed sandbox (NBA_BACKFILL_WAREHOUSE__ALLOW_DESTRUCTIVE, see docs/bigquery.md)."""
    from devtools.seeding import SEEDED_TABLES, seeded_state
    from devtools.seeding import seed as do_seed
    from nba_backfill.safety import guard_destructive
    from nba_backfill.warehouse import shared_warehouse

    with _errors():
        if state not in ("seeds", "empty"):
            raise UsageError(f"unknown state {state!r}; use 'seeds' or 'empty'")
        # Before the warehouse is even opened (seed() checks again before its first write):
        # a refused target gets no request at all, --if-missing included.
        guard_destructive(_settings(), "seed", SEEDED_TABLES)
        wh = shared_warehouse()
        if if_missing and (done := seeded_state(wh)):
            out.print(f"warehouse already seeded (state {done}); nothing to do")
            return
        started = time.perf_counter()
        with out.status("seeding") as status:
            report = do_seed(
                wh,
                state,  # type: ignore[arg-type]
                seed_value=seed_value,
                progress=lambda m: status.update(m),
            )
        table = new_table(
            f"Seeded ({state}) in {time.perf_counter() - started:.0f}s",
            ("table", "rows", "dates removed (gaps)"),
        )
        add_grouped_rows(
            table,
            (
                (name, [f"{n:,}", str(report.gaps.get(name, ""))])
                for name, n in {**report.raw_rows, **report.prefilled_rows}.items()
            ),
        )
        out.print(table)


# --- plan ---------------------------------------------------------------------------------------
@app.command()
def plan(
    start: StartOpt = None,
    end: EndOpt = None,
    tables: TablesOpt = None,
    chunk_days: ChunkOpt = None,
    mode: ModeOpt = None,
    dates: DatesOpt = None,
    downstream: DownstreamOpt = True,
    as_json: JsonOpt = False,
    no_estimate: Annotated[
        bool,
        typer.Option("--no-estimate", help="Skip the BigQuery cost estimate (dry runs)"),
    ] = False,
) -> None:
    """Show what a run would do: per table, the dates missing or incomplete, the chunks, and
    on BigQuery what the chunks would cost (one free dry run per chunk)."""
    with _errors():
        p = _params(start, end, tables, chunk_days, mode=mode, dates=dates, downstream=downstream)
        wh = _read_only()
        try:
            select = _selection(p, wh)
            the_plan = Planner(wh).plan(p.start, p.end, p.tables, p.chunk_days, select=select)
            estimate = estimate_plan(wh, the_plan, skip=no_estimate)
        finally:
            wh.close()
        if as_json:
            data = the_plan.as_dict()
            for name, row in cast(dict[str, dict[str, object]], data["tables"]).items():
                row["estimated_bytes"] = estimate.bytes(name)
                row["estimated_cost_usd"] = estimate.cost_usd(name)
                row["producer"] = describe_producer(_settings(), name)
            data["estimate"] = estimate.as_dict()
            out.print_json(json.dumps(data))
            return
        _print_plan(the_plan, estimate)


def _print_plan(the_plan: Plan, estimate: PlanEstimate | None = None) -> None:
    title = f"Plan {the_plan.start}..{the_plan.end} (chunks of ≤ {the_plan.chunk_days} days)"
    columns = ["table", "complete", "missing", "incomplete", "skipped", "chunks"]
    show_estimate = estimate is not None and estimate.kind != "skipped"

    def table(with_estimate: bool) -> Table:
        t = new_table(title, [*columns, ESTIMATE_COLUMN] if with_estimate else columns)
        rows = []
        for tp in the_plan.tables.values():
            cells = [
                f"{len(tp.complete_dates)}/{len(tp.expected)}",
                str(len(tp.missing)),
                str(len(tp.incomplete)),
                str(len(tp.skipped)),
                str(len(tp.chunks)),
            ]
            if estimate is not None and with_estimate:
                cells.append(estimate.cell(tp.table))
            rows.append((tp.table, cells))
        add_grouped_rows(t, rows, _phase_labels(the_plan.tables.values()))
        return t

    wide = table(show_estimate)
    if not show_estimate or fits(out, wide):
        out.print(wide)
    else:  # the estimate under the table, one line per table (or one for all when equal)
        out.print(table(False))
        assert estimate is not None
        cells = {tp.table: estimate.cell(tp.table) for tp in the_plan.tables.values()}
        if len(set(cells.values())) == 1:
            out.print(f"{ESTIMATE_COLUMN}: {next(iter(cells.values()))}", highlight=False)
        else:
            for name, cell in cells.items():
                out.print(f"{ESTIMATE_COLUMN} {short_name(name)}: {cell}", highlight=False)
    if estimate is not None and estimate.kind == "dry_run":
        total = estimate.total_bytes
        out.print(
            "estimated total: "
            + format_estimate(total, estimate.price_per_tib_usd)
            + f" (dry runs; on-demand at ${estimate.price_per_tib_usd:g}/TiB, "
            "NBA_BACKFILL_WAREHOUSE__PRICE_PER_TIB_USD)"
        )
    for tp in the_plan.tables.values():
        # Why each date is planned, one line per table and kind of reason (missing,
        # incomplete, stale, requested, failed): its first date and reason; --json lists all.
        kinds: dict[str, list[dt.date]] = {}
        reasons = tp.reasons()
        for day, why in reasons.items():
            kinds.setdefault(why.partition(":")[0], []).append(day)
        for days in kinds.values():
            first = days[0]
            more = f" (+{len(days) - 1} more dates)" if len(days) > 1 else ""
            out.print(f"{short_name(tp.table)} {first}{more}: {reasons[first]}", highlight=False)
    for game in the_plan.games_skipped:
        out.print(f"{INPUTS_MISSING}: {game}", highlight=False)
    _print_producers(the_plan)
    if the_plan.empty:
        out.print(
            "nothing to do: every game whose inputs arrived is written"
            if the_plan.games_skipped
            else "nothing to do: every expected date is complete"
        )


def _print_producers(the_plan: Plan) -> None:
    """Which tables an external command produces (the rest: their SQL models); nothing when
    every table is on its model."""
    s = _settings()
    rows = {
        tp.table: describe_producer(s, tp.table)
        for tp in the_plan.tables.values()
        if s.producer(tp.table) is not None
    }
    if not rows:
        return
    out.print("produced by commands (the other tables by their SQL models):", highlight=False)
    for name, what in rows.items():
        line = f"  {short_name(name)}: {what}"
        # The whole command is in `plan --json`; a line cut short says so.
        out.print(line if len(line) <= 80 else line[:79] + "…", highlight=False, markup=False)


def _phase_labels(rows: Iterable[Any]) -> dict[str, str]:
    """Dataset headings that also say the phase: ``nba_analytics (Phase 3)``."""
    return {
        r.table.partition(".")[0]: f"{r.table.partition('.')[0]} (Phase {r.phase})" for r in rows
    }


# --- run ----------------------------------------------------------------------------------------
@app.command()
def run(
    start: StartOpt = None,
    end: EndOpt = None,
    tables: TablesOpt = None,
    chunk_days: ChunkOpt = None,
    max_concurrency: Annotated[int | None, typer.Option(help="Chunk tasks at once")] = None,
    skip_phase4: Annotated[bool, typer.Option(help="Stop after the Phase 3 gate")] = False,
    mode: ModeOpt = None,
    dates: DatesOpt = None,
    downstream: DownstreamOpt = True,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Start no chunk after a permanent failure")
    ] = False,
    port: PortOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show task logs")] = False,
    max_bytes: Annotated[
        str | None,
        typer.Option(help="Run budget, e.g. 50GB: no chunk starts past it"),
    ] = None,
    require_signoff: Annotated[
        bool | None,
        typer.Option(help="Pause after the gate for a sign-off in the Prefect UI"),
    ] = None,
) -> None:
    """Run the backfill flow (Phase 3 → gate → Phase 4) against a local Prefect server."""
    _quiet(verbose)
    with _errors():
        p = _params(
            start, end, tables, chunk_days, max_concurrency, skip_phase4, mode, dates, downstream
        )
        if max_bytes is not None:
            parse_bytes(max_bytes)  # a bad size is a usage error before anything starts
        p = dataclasses.replace(p, fail_fast=fail_fast)
        s = _settings()
        wh = open_warehouse(s, read_only=s.warehouse.backend == "duckdb")
        try:
            the_plan = Planner(wh).plan(
                p.start,
                p.end,
                p.tables,
                p.chunk_days,
                phases=(3,) if skip_phase4 else (3, 4),
                select=_selection(p, wh, port),
            )
            # Nothing to write: no flow run (and no Prefect server start) for a no-op, but the
            # checks the flow would run still decide the exit code.
            failing = _failing_checks(wh, p) if the_plan.empty and not p.skip_phase4 else None
        finally:
            wh.close()
        _launch(p, the_plan, failing, port, max_bytes=max_bytes, require_signoff=require_signoff)


_quiet_console = False  # set by _quiet: the console shows warnings, never errors or tracebacks


def _quiet(verbose: bool) -> None:
    """Without ``--verbose`` the console shows the progress bar, warnings, the summary and one
    error line; Prefect's logs (errors and tracebacks included) still reach its server. Set
    before Prefect is imported: it reads its logging settings then."""
    global _quiet_console
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
        _quiet_console = True


class _NoErrorReports(logging.Filter):
    """On Prefect's console handlers: drop error records and any record carrying a traceback
    (a failed run printed ~120 lines before its one-line error). The records still reach the
    other handlers — Prefect's API, so the run's logs in the UI keep them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR and not record.exc_info


def _quiet_prefect_console() -> None:
    """Put :class:`_NoErrorReports` on Prefect's console handlers (configured when Prefect's
    flow API is imported), once."""
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, PrefectConsoleHandler) and not any(
                isinstance(f, _NoErrorReports) for f in handler.filters
            ):
                handler.addFilter(_NoErrorReports())


def _launch(
    p: RunParams,
    the_plan: Plan,
    failing: str | None,
    port: int | None,
    resume_from: str | None = None,
    max_bytes: str | None = None,
    require_signoff: bool | None = None,
) -> None:
    """Print ``the_plan``, run the flow on it (``resume_from``: as a resume of that run), print
    the coverage after; the exit code says how it went. An empty plan starts no flow run
    unless the gate is still to run (``skip_phase4``): the checks decide the exit code."""
    s = _settings()
    _print_plan(the_plan)
    if the_plan.empty and not p.skip_phase4:
        _print_status(list_games=False, run=p)  # the plan above named them
        if failing:
            _fail(f"nothing to fill, yet {failing}", 1)
        _games_skipped_exit(the_plan.games_skipped, the_plan.games_skipped)
        return
    started = time.perf_counter()
    with out.status("connecting to the local Prefect server"):
        api = local_server.configure(s.home, port)
    ok, reason, skipped_games = _run_flow(
        p, len(the_plan.chunks), max_bytes, require_signoff, resume_from
    )
    close_shared()
    out.print(f"finished in {time.perf_counter() - started:.1f}s")
    _print_status(list_games=False, run=p)  # named above and in the exit line
    if api:
        ui = api.removesuffix("/api")
        out.print(
            f"run history: {ui}/runs  (Prefect UI; `nba-backfill server start` reopens it later)"
        )
    if not ok:
        _fail(reason, 1)
    _games_skipped_exit(skipped_games, the_plan.games_skipped)


# --- resume -------------------------------------------------------------------------------------
@app.command()
def resume(
    flow_run: Annotated[str, typer.Argument(help="The backfill run's id or name")],
    port: PortOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show task logs")] = False,
) -> None:
    """Fill what a backfill run that did not finish (killed, crashed, failed) left unfilled,
    with that run's parameters. A run that completed, or an unknown one, exits 2."""
    _quiet(verbose)
    with _errors():
        s = _settings()
        with out.status("connecting to the local Prefect server"):
            local_server.configure(s.home, port)  # before Prefect is imported (it reads it once)
        from tasks.history import resume_plan  # the client queries, not the flows' task

        wh = open_warehouse(s, read_only=s.warehouse.backend == "duckdb")
        try:
            record, p, select = resume_plan(flow_run, wh)
            out.print(
                f"resuming {record.name} ({record.id}): {record.finished_note}; "
                f"{len(record.done)} chunk(s) it completed are not redone",
                highlight=False,
            )
            the_plan = Planner(wh).plan(
                p.start,
                p.end,
                p.tables,
                p.chunk_days,
                phases=(3, 4) if p.to_phase4 else (3,),
                select=select,
            )
            failing = _failing_checks(wh, p) if the_plan.empty and not p.skip_phase4 else None
        finally:
            wh.close()
        _launch(p, the_plan, failing, port, resume_from=record.id)


def _failing_checks(wh: Warehouse, p: RunParams) -> str | None:
    """What the flow's checks (Phase 3 over ``RunParams.gate_tables``, Phase 4 validation of
    the run's Phase 4 tables) find wrong now, in one line; None when they pass."""
    failing: list[str] = []
    checks: list[tuple[int, list[str] | None]] = []
    if p.gate_tables() != []:
        checks.append((3, p.gate_tables()))
    if p.phase_tables(4):
        checks.append((4, p.phase_tables(4)))
    for phase, tables in checks:
        report = validate(wh, phase, p.start, p.end, tables)
        if not report.ok:
            check = "the Phase 3 gate" if phase == 3 else f"Phase {phase} validation"
            failing.append(
                f"{check} fails: "
                + " | ".join(f"{t}: {'; '.join(pr)}" for t, pr in report.problems.items())
            )
    return "; ".join(failing) or None


def _run_flow(
    p: RunParams,
    total_chunks: int,
    max_bytes: str | None = None,
    require_signoff: bool | None = None,
    resume_from: str | None = None,
) -> tuple[bool, str, list[str]]:
    """Run the flow here: (completed, why not, the games it skipped for missing inputs)."""
    from flows.backfill import backfill  # Prefect is imported here only
    from nba_backfill import runner

    if _quiet_console:
        _quiet_prefect_console()

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out, transient=False) as progress:
        bar = progress.add_task("chunks", total=max(total_chunks, 1))

        def advance(result: runner.ChunkResult) -> None:
            progress.update(
                bar, advance=1, description=f"{result.table.split('.')[1]} {result.end}"
            )

        runner.add_listener(advance)
        try:
            state = backfill(
                p.start,
                p.end,
                p.tables,
                p.chunk_days,
                p.max_concurrency,
                p.skip_phase4,
                mode=p.mode,
                dates=[d.isoformat() for d in p.dates] if p.dates else None,
                downstream=p.downstream,
                max_bytes=max_bytes,
                fail_fast=p.fail_fast,
                require_signoff=require_signoff,
                resume_from=resume_from,
                return_state=True,
            )
        finally:
            runner.remove_listener(advance)
        progress.update(bar, completed=progress.tasks[0].total, description="done")
    if state.is_completed():
        data = state.result()
        games = data.get("games_skipped", []) if isinstance(data, dict) else []
        return True, "", list(games)
    # The flow's own one-line reason (BackfillFailed, a UsageError, ...), not Prefect's
    # "Flow run encountered an exception: <class>: ..." wrapping of it.
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # a crash may leave no result to read
        exc = None
    if isinstance(exc, BackfillError) and str(exc):
        return False, str(exc), []
    return False, str(state.message or "backfill failed"), []


# --- validate / status --------------------------------------------------------------------------
@app.command("validate")
def validate_cmd(
    phase: Annotated[int, typer.Option(help="3 (the gate) or 4 (after Phase 4)")] = 3,
    start: StartOpt = None,
    end: EndOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List the dates")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check a phase: coverage, per-date completeness, NULL and duplicate keys. Exit 0/1 (3:
    games skipped, their inputs never arrived)."""
    with _errors():
        phase = parse_phase(phase)
        p = _params(start, end, None, None)
        wh = _read_only()
        try:  # closed: a copy read during a run is removed
            report = validate(wh, phase, p.start, p.end)
        finally:
            wh.close()
        if as_json:
            out.print_json(json.dumps(report.as_dict(verbose)))
        else:
            _print_report(report, verbose)
        if not report.ok:
            raise typer.Exit(1)
        _games_skipped_exit(report.games_skipped, report.games_skipped)


def _print_report(report: ValidationReport, verbose: bool) -> None:
    title = f"Phase {report.phase} {report.start}..{report.end}: " + (
        "[green]PASSED[/]" if report.ok else "[red]FAILED[/]"
    )
    wide = new_table(
        title,
        (
            "table",
            "coverage",
            "dates",
            "missing",
            "incomplete",
            "rows",
            "null keys",
            "dup keys",
            "status",
        ),
        text=("status",),
    )
    add_grouped_rows(
        wide,
        (
            (
                c.table,
                [
                    f"{c.coverage:.1%}",
                    f"{c.covered}/{c.expected}",
                    str(len(c.missing)),
                    str(len(c.incomplete)),
                    f"{c.rows:,}",
                    str(c.null_keys),
                    str(c.duplicate_keys),
                    _status(c),
                ],
            )
            for c in report.tables
        ),
    )
    if fits(out, wide):
        out.print(wide)
    else:
        # Narrow terminals: the counts that are not 0 move into the status (NULL and
        # duplicate keys already are among the problems), so a name never has to be cut.
        narrow = new_table(
            title, ("table", "coverage", "dates", "rows", "status"), text=("status",)
        )
        add_grouped_rows(
            narrow,
            (
                (
                    c.table,
                    [
                        f"{c.coverage:.1%}",
                        f"{c.covered}/{c.expected}",
                        f"{c.rows:,}",
                        _status(c, gaps=True),
                    ],
                )
                for c in report.tables
            ),
        )
        out.print(narrow)
    for game in report.games_skipped:
        out.print(f"{INPUTS_MISSING}: {game}", highlight=False)
    if report.usage_rate_share is not None:
        out.print(
            f"ML readiness: usage_rate non-null {report.usage_rate_share:.1%} "
            f"of player-games played (needs ≥ {USAGE_RATE_THRESHOLD:.0%})"
        )
    if verbose:
        for c in report.tables:
            for label, dates in (("missing", c.missing), ("incomplete", c.incomplete)):
                if dates:
                    out.print(
                        f"{c.table} {label}: "
                        + ", ".join(
                            f"{d}" + (f" ({c.explained[d]})" if d in c.explained else "")
                            for d in dates
                        )
                    )


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Coverage per table over the default range."""
    _print_status(as_json)


def _print_status(
    as_json: bool = False, *, list_games: bool = True, run: RunParams | None = None
) -> None:
    """``status``; ``list_games`` False when the caller names skipped games itself (a run
    names each once). After a ``run``, the coverage of what it was asked to fill: its range and
    its tables (Phase 4 only when it went on to it), not the whole default range."""
    with _errors():
        p = run or _params(None, None, None, None)
        phases = {ph: p.phase_tables(ph) if run else None for ph in (3, 4)}
        if run and not run.to_phase4:
            phases.pop(4)
        wh = _read_only()
        try:
            reports = [
                validate(wh, ph, p.start, p.end, tables)
                for ph, tables in phases.items()
                if tables is None or tables
            ]
            stale = {} if run else _stale_counts(wh, p.start, p.end)
        finally:
            wh.close()
        if as_json:
            out.print_json(json.dumps([r.as_dict() for r in reports]))
            return
        t = new_table(
            f"Coverage {p.start}..{p.end} (non-bootstrap dates, complete rows)",
            ("table", "coverage", "dates", "rows", "status"),
            text=("status",),
        )
        checks = [c for r in reports for c in r.tables]
        add_grouped_rows(
            t,
            (
                (
                    c.table,
                    [f"{c.coverage:.1%}", f"{c.covered}/{c.expected}", f"{c.rows:,}", _status(c)],
                )
                for c in checks
            ),
            _phase_labels(checks),
        )
        out.print(t)
        games = dict.fromkeys(g for r in reports for g in r.games_skipped) if list_games else {}
        for game in games:
            out.print(f"{INPUTS_MISSING}: {game}", highlight=False)
        share = next((r.usage_rate_share for r in reports if r.phase == 4), None)
        if share is not None:
            out.print(f"ML readiness: usage_rate non-null {share:.1%} of player-games played")
        for table, n in stale.items():
            out.print(
                f"stale: {short_name(table)} {n} date(s) (plan --mode stale)", highlight=False
            )


def _stale_counts(wh: Warehouse, start: dt.date, end: dt.date) -> dict[str, int]:
    """Per table, its dates on ``[start, end]`` stale by their write fingerprints (those with
    any)."""
    from nba_backfill.catalog import TABLES
    from nba_backfill.planner import stale_by_fingerprint

    days = sorted(wh.schedule(start, end))
    found = stale_by_fingerprint(wh, list(TABLES.values()), {t: days for t in TABLES})
    return {t: len(d) for t, d in found.items() if d}


def _status(c: Any, gaps: bool = False) -> str:
    """A table check's status cell: ok, or its problems; dates skipped as expiring said;
    with ``gaps``, the missing and incomplete dates counted (when the table has no columns
    for them)."""
    parts = list(c.problems)
    if c.games_skipped:  # never "ok": those dates are not complete (the games are listed)
        parts.append(f"games skipped (inputs missing) on {len(c.games_skipped)} date(s)")
    text = "; ".join(parts) or "ok"
    if c.warnings:  # data problems of the inputs: said, not failing
        text += "; warning: " + "; ".join(c.warnings)
    if gaps and (c.missing or c.incomplete):
        text += f"; {len(c.missing)} missing, {len(c.incomplete)} incomplete"
    return f"{text}, {c.expired} dates expire on arrival" if c.expired else text


# --- contract -----------------------------------------------------------------------------------
@app.command("contract")
def contract_cmd(
    verbose: Annotated[
        bool, typer.Option("--verbose", help="List drifted and not-derived columns")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Production's columns per table: how many the models compute, track or leave NULL, and
    how the live warehouse differs (missing, extra, mistyped). Exit 1 on drift a write would
    fail on."""
    from nba_backfill.catalog import TABLES
    from nba_backfill.drift import column_roles, table_drift

    with _errors():
        wh = _read_only()
        try:
            rows = [(spec, column_roles(spec), table_drift(wh, spec)) for spec in TABLES.values()]
        finally:
            wh.close()
        if as_json:
            out.print_json(
                json.dumps(
                    [
                        {
                            "table": spec.name,
                            "computed": list(r.computed),
                            "tracked": list(r.tracked),
                            "not_derived": r.not_derived,
                            "exists": d.exists,
                            "missing": d.missing,
                            "mistyped": d.mistyped,
                            "extra": d.extra,
                            "blocking_extra": d.blocking_extra,
                            "ok": d.ok,
                        }
                        for spec, r, d in rows
                    ]
                )
            )
        else:
            _print_contract(rows, verbose)
        if not all(d.ok for _, _, d in rows):
            raise typer.Exit(1)


def _print_contract(rows: list[Any], verbose: bool) -> None:
    total = sum(r.total for _, r, _ in rows)
    t = new_table(
        f"Production's {total} columns: how each is filled; the live tables",
        ("table", "computed", "tracked", "not derived", "live"),
        text=("live",),
    )
    sums = [0, 0, 0]
    cells = []
    for spec, r, d in rows:
        counts = [len(r.computed), len(r.tracked), len(r.not_derived)]
        sums = [a + b for a, b in zip(sums, counts, strict=True)]
        live = "absent" if not d.exists else ("ok" if d.ok else f"{len(d.problems)} drift")
        if d.ok and d.extra:
            live = f"ok +{len(d.extra)}"
        cells.append((spec.name, [*(f"{c} {c / r.total:.0%}" for c in counts), live]))
    add_grouped_rows(t, cells)
    t.add_row("all tables", *(f"{c} {c / total:.0%}" for c in sums), "", style="bold")
    out.print(t)
    for spec, r, d in rows:
        for problem in d.problems:
            out.print(f"{spec.name}: {problem}", highlight=False)
        for extra in d.extra:
            if extra not in d.blocking_extra:  # those are among the problems
                out.print(f"{spec.name}: extra {extra} (not production's; left NULL)")
        if verbose:
            for column, reason in r.not_derived.items():
                out.print(f"{spec.table}.{column}: not derived: {reason}", highlight=False)


# --- setup --------------------------------------------------------------------------------------
@app.command("setup")
def setup_cmd(
    target: Annotated[
        str, typer.Option(help="cloud-run (prefect.yaml), local (prefect.local.yaml) or all")
    ] = "all",
    build: Annotated[
        bool, typer.Option(help="Run prefect.yaml's build and push steps (needs Docker)")
    ] = False,
    deploy: Annotated[bool, typer.Option(help="Deploy the flows after the pools")] = True,
    port: PortOpt = None,
) -> None:
    """Create or update the work pools, blocks, concurrency limits and deployments on the
    Prefect server of PREFECT_API_URL (else the local one). Running it twice changes nothing."""
    with _errors():
        targets = {"all": ("cloud-run", "local"), "cloud-run": ("cloud-run",), "local": ("local",)}
        if target not in targets:
            raise UsageError(f"unknown target {target!r}; use cloud-run, local or all")
        s = _settings()
        with out.status("connecting to Prefect"):
            api = local_server.configure(s.home, port)
        from deployments.setup import setup as do_setup  # Prefect is imported here only

        with out.status("setting up"):
            changes = do_setup(s, targets[target], build=build, deploy_flows=deploy)  # type: ignore[arg-type]
        t = Table(title=f"Prefect setup on {api}")
        for col in ("kind", "name", "action", "note"):
            t.add_column(col, overflow="fold")
        for c in changes:
            style = {"created": "green", "updated": "yellow", "skipped": "red"}.get(c.action, "")
            t.add_row(c.kind, c.name, f"[{style}]{c.action}[/]" if style else c.action, c.note)
        out.print(t)
        changed = sum(c.action in ("created", "updated") for c in changes)
        out.print(f"{changed} change(s)" if changed else "nothing changed")


# --- server -------------------------------------------------------------------------------------
@server_app.command("start")
def server_start(port: PortOpt = None) -> None:
    """Start (or reuse) this checkout's local Prefect server, which holds its run history.
    Refuses (exit 2) when the port is another checkout's server or another service."""
    with _errors(), out.status("starting the Prefect server"):
        api = local_server.ensure_server(_settings().home, local_server.port_setting(port))
    out.print(f"Prefect UI: {api.removesuffix('/api')}  (API {api})")


@server_app.command("stop")
def server_stop() -> None:
    """Stop this checkout's local Prefect server. Signals only a process verified to be a
    Prefect server of this home; a stale pid file is removed and nothing signalled."""
    with _errors():
        result = local_server.stop_server(_settings().home)
    out.print(result.message, highlight=False, soft_wrap=True)


def main() -> None:
    try:
        get_settings()
    except UsageError as exc:
        _error_line(str(exc))
        sys.exit(2)
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "nba_backfill")
    app()


if __name__ == "__main__":
    main()
