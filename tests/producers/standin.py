"""A stand-in for the platform's backfill jobs (``backfill_jobs/analytics/<table>/
<table>_analytics_backfill.py``): the same flags, and it writes the way they do — a MERGE on the
table's keys, so rows it no longer produces stay (orphans) — computing its rows with the
built-in model's SQL through the warehouse. Run as a script by the command producer tests.

Told what to do by its environment (the producer's ``env`` setting):

* ``STANDIN_QUOTA_FAILS=N`` with ``STANDIN_STATE=<file>``: the first N runs fail with
  BigQuery's quota message on stderr, exit 1;
* ``STANDIN_FAIL=<text>``: every run fails with that stderr line, exit 1;
* ``STANDIN_SKIP=TEAM:YYYY-MM-DD,...``: that team's rows on that date are not written;
* ``STANDIN_SILENT=1``: writes nothing, exit 0 (the platform's jobs do that when dates fail);
* ``STANDIN_HANG=1`` with ``STANDIN_PIDS=<file>``: starts a child, writes both pids, sleeps.

The warehouse is the one its settings name (``NBA_BACKFILL_WAREHOUSE__*``): DuckDB, or BigQuery
(the emulator in the tests), where the MERGE is the platform's own statement (its processors'
``MERGE ... WHEN MATCHED THEN UPDATE SET ... WHEN NOT MATCHED THEN INSERT``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path


def _dates(args: argparse.Namespace) -> list[dt.date]:
    if args.dates:
        return [dt.date.fromisoformat(d) for d in args.dates.split(",") if d]
    day, end = dt.date.fromisoformat(args.start_date), dt.date.fromisoformat(args.end_date)
    out = []
    while day <= end:
        out.append(day)
        day += dt.timedelta(days=1)
    return out


def _fail_for_quota() -> bool:
    fails = int(os.environ.get("STANDIN_QUOTA_FAILS", "0"))
    if not fails:
        return False
    state = Path(os.environ["STANDIN_STATE"])
    seen = int(state.read_text()) if state.exists() else 0
    state.write_text(str(seen + 1))
    return seen < fails


def _hang() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    Path(os.environ["STANDIN_PIDS"]).write_text(f"{os.getpid()} {child.pid}")
    print("processing ...", flush=True)
    time.sleep(3600)


def merge(table: str, dates: list[dt.date], skip: list[tuple[str, dt.date]]) -> int:
    """MERGE the model's rows of ``dates`` into ``table`` on its keys; returns rows merged."""
    from nba_backfill.catalog import get_table
    from nba_backfill.settings import load_settings
    from nba_backfill.warehouse.duckdb import DuckDBWarehouse

    spec = get_table(table)
    settings = load_settings()
    if settings.warehouse.backend == "bigquery":
        return merge_bigquery(settings, spec, dates, skip)
    wh = DuckDBWarehouse(settings)
    try:
        model = wh.model_sql(spec)
        d, team = spec.date_column, spec.team_column
        params: dict[str, object] = {
            "start_date": min(dates),
            "end_date": max(dates),
            "dates": dates,
        }
        used = set(re.findall(r"\$(\w+)", model)) | {"dates"}
        keep = " AND ".join(
            f"NOT (s.\"{team}\" = '{t}' AND s.\"{d}\" = DATE '{day}')" for t, day in skip
        )
        source = (
            f'SELECT * FROM ({model}) AS s WHERE s."{d}" IN (SELECT UNNEST($dates::DATE[]))'
            + (f" AND {keep}" if keep else "")
        )
        on = " AND ".join(f't."{k}" = s."{k}"' for k in spec.key_columns)
        dataset, name = spec.name.split(".")
        target = f'"{wh.datasets[dataset]}"."{name}"'
        sql = (
            f"MERGE INTO {target} AS t USING ({source}) AS s ON {on} "
            "WHEN MATCHED THEN UPDATE WHEN NOT MATCHED THEN INSERT"
        )
        cur = wh._cursor()
        res = cur.execute(sql, {k: v for k, v in params.items() if k in used}).fetchall()
        return int(res[0][0]) if res else 0
    finally:
        wh.close()


def merge_bigquery(settings, spec, dates: list[dt.date], skip: list[tuple[str, dt.date]]) -> int:
    """The platform's MERGE on BigQuery: the model's rows of ``dates`` matched on the keys,
    updated when found, inserted when not; rows of the window it does not produce stay."""
    from nba_backfill.warehouse.bigquery import BigQueryWarehouse, _sql

    wh = BigQueryWarehouse(settings)
    try:
        d, team = spec.date_column, spec.team_column
        cols = spec.contract.column_names
        days = ", ".join(f"DATE '{day}'" for day in dates)
        keep = "".join(
            f" AND NOT (m.`{team}` = '{t}' AND m.`{d}` = DATE '{day}')" for t, day in skip
        )
        source = (
            f"SELECT {', '.join(f'm.`{c}`' for c in cols)} "
            f"FROM ({_sql(wh._model_tree(spec))}) AS m WHERE m.`{d}` IN ({days}){keep}"
        )
        on = " AND ".join(f"T.`{k}` = S.`{k}`" for k in spec.key_columns)
        update = ", ".join(f"`{c}` = S.`{c}`" for c in cols if c not in spec.key_columns)
        sql = (
            f"MERGE `{wh.table_id(spec.name)}` AS T USING ({source}) AS S ON {on} "
            f"WHEN MATCHED THEN UPDATE SET {update} "
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(f'`{c}`' for c in cols)}) "
            f"VALUES ({', '.join(f'S.`{c}`' for c in cols)})"
        )
        params = {"start_date": min(dates), "end_date": max(dates)}
        job, _ = wh._query(sql, params, {"table": spec.name}, what=f"standin {spec.name}")
        return int(job.num_dml_affected_rows or 0)
    finally:
        wh.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--table", required=True)
    ap.add_argument("--start-date")
    ap.add_argument("--end-date")
    ap.add_argument("--dates")
    ap.add_argument("--no-resume", action="store_true")
    ap.add_argument("--parallel", action="store_true")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    dates = _dates(args)
    print(f"{args.table}: {len(dates)} dates {dates[0]}..{dates[-1]}", flush=True)
    if os.environ.get("STANDIN_FAIL"):
        print(os.environ["STANDIN_FAIL"], file=sys.stderr)
        return 1
    if _fail_for_quota():
        print(
            "google.api_core.exceptions.Forbidden: 403 Quota exceeded: Your table exceeded "
            "quota for Number of partition modifications to a column partitioned table",
            file=sys.stderr,
        )
        return 1
    if os.environ.get("STANDIN_HANG"):
        _hang()
    if os.environ.get("STANDIN_SILENT"):
        print("done: 0 dates processed, see errors above", flush=True)
        return 0
    skip = []
    for pair in filter(None, os.environ.get("STANDIN_SKIP", "").split(",")):
        team, _, day = pair.partition(":")
        skip.append((team, dt.date.fromisoformat(day)))
    rows = merge(args.table, dates, skip)
    print(f"done: {rows} rows merged", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
