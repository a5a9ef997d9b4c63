"""Google BigQuery warehouse: datasets of one GCP project (physical names from settings).

Queries are the catalog's BigQuery SQL with every table reference qualified by the project; values
are always named query parameters, except where the emulator cannot bind them (see
:meth:`BigQueryWarehouse.replace_script`, the ``transaction`` write strategy). A chunk is written
by one MERGE statement (:meth:`BigQueryWarehouse.merge_statement`) unless the settings ask for
the transaction script. Vendor errors are translated here, once, into
:class:`WarehouseError` / :class:`TransientWarehouseError` whose ``__cause__`` keeps the original
so :func:`nba_backfill.errors.classify` can tell what is worth retrying.

The emulator (``settings.warehouse.emulator_endpoint``, tests only) differs from BigQuery in a
few documented ways (SPEC §8); each branch on ``self.emulator`` below says which and why.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import decimal
import json
import logging
import re
import socket
import tempfile
import threading
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import requests
import sqlglot
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_RETRY
from sqlglot import exp

from nba_backfill.catalog import TableSpec
from nba_backfill.contract import Column
from nba_backfill.errors import (
    TransientWarehouseError,
    UsageError,
    WarehouseError,
    WarehouseUnavailable,
    classify,
)
from nba_backfill.phase2 import RawTable
from nba_backfill.settings import Settings
from nba_backfill.warehouse.base import (
    JobCost,
    Loader,
    Params,
    Warehouse,
    WriteResult,
    run_labels,
    write_dates,
)

if TYPE_CHECKING:
    from google.cloud.bigquery.job import QueryJob

log = logging.getLogger(__name__)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")
# A named parameter in rendered SQL: ``@name`` but not the ``@@system_variable`` form.
_PARAM_REF = re.compile(r"(?<![@\w])@([A-Za-z_][A-Za-z0-9_]*)")
_LABEL_INVALID = re.compile(r"[^a-z0-9_-]")
_WINDOW_PARAMS = ("start_date", "end_date")
_MAX_CLUSTER_COLUMNS = 4  # BigQuery's limit
_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

# Legacy type names for the tables API (the contract holds GoogleSQL names).
_FIELD_TYPES = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN"}


# Failed *jobs* are retried by the core only (errors.is_transient + the task's tenacity policy),
# so the client's own job re-runs are off (job_retry=None). HTTP-level retries of idempotent API
# calls (job status polls, jobs.insert with our job id) stay, bounded so the core's policy takes
# over soon: a job that keeps failing surfaces as one classified error, not minutes of silence.
_API_RETRY: Retry = DEFAULT_RETRY.with_timeout(120.0)
# The emulator answers some unsupported scripts with HTTP 500; do not spend 2 minutes on them.
_EMULATOR_API_RETRY: Retry = DEFAULT_RETRY.with_timeout(10.0)

_VENDOR_ERRORS: tuple[type[BaseException], ...] = (
    gexc.GoogleAPIError,
    requests.exceptions.RequestException,
    ConnectionError,
    TimeoutError,
    concurrent.futures.TimeoutError,
)


def sanitize_labels(labels: Mapping[str, object]) -> dict[str, str]:
    """BigQuery label rules: keys and values lowercase ``[a-z0-9_-]``, at most 63 characters,
    keys start with a letter, at most 64 labels. Invalid characters become ``_``."""
    out: dict[str, str] = {}
    for raw_key, raw_value in labels.items():
        key = _LABEL_INVALID.sub("_", str(raw_key).lower())[:63]
        if not key:
            continue
        if not key[0].isalpha():
            key = ("l_" + key)[:63]
        value = "" if raw_value is None else _LABEL_INVALID.sub("_", str(raw_value).lower())[:63]
        out[key] = value
        if len(out) == 64:
            break
    return out


def query_parameter(
    name: str, value: Any
) -> bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter:
    """A named query parameter whose BigQuery type follows the Python type of ``value``."""
    if isinstance(value, bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        first = next((v for v in items if v is not None), None)
        # An empty array's element type is unknowable; pass a typed ArrayQueryParameter instead.
        element = "STRING" if first is None else _scalar_type(first)
        return bigquery.ArrayQueryParameter(name, element, items)
    return bigquery.ScalarQueryParameter(name, _scalar_type(value), value)


def _scalar_type(value: Any) -> str:
    # bool before int (bool is an int); datetime before date (datetime is a date).
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, decimal.Decimal):
        return "NUMERIC"
    if isinstance(value, dt.datetime):
        return "TIMESTAMP" if value.tzinfo is not None else "DATETIME"
    if isinstance(value, dt.date):
        return "DATE"
    if isinstance(value, str) or value is None:
        return "STRING"
    if isinstance(value, bytes):
        return "BYTES"
    raise UsageError(f"no BigQuery type for a query parameter of type {type(value).__name__}")


def _json_value(value: Any) -> Any:
    """A value as the tables API expects it in JSON rows (dates ISO, decimals as strings)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # TIMESTAMP without a zone is UTC in BigQuery
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _probe_emulator(endpoint: str, timeout: float = 3.0) -> None:
    """Fail at once, in one line, when nothing listens at the emulator's endpoint: the
    client would otherwise retry the connection for a while on every call."""
    url = urllib.parse.urlsplit(endpoint)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout):
            pass
    except OSError as exc:
        raise WarehouseUnavailable(
            f"cannot reach the BigQuery emulator at {endpoint}: {exc.strerror or exc} "
            "(is it running? NBA_BACKFILL_WAREHOUSE__EMULATOR_ENDPOINT)"
        ) from None


def _first_line(exc: BaseException, limit: int = 500) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line[:limit]


def translate(exc: BaseException, what: str) -> WarehouseError:
    """The one translation of a vendor error: a message naming what failed, transient when
    :func:`classify` says a retry may help. The caller raises it ``from exc``."""
    kind = classify(exc)
    message = f"{what}: {_first_line(exc)}"
    if isinstance(exc, gexc.Forbidden | gexc.Unauthorized) and kind is None:
        message += " (check the service account's BigQuery roles on the project)"
    if kind is not None:
        return TransientWarehouseError(message, reason=kind)
    return WarehouseError(message)


def _as_day(value: dt.date) -> dt.date:
    """A ``datetime.date`` (a datetime loses its time); anything else is refused, so a
    rendered date literal can only ever be ``YYYY-MM-DD``."""
    if isinstance(value, dt.datetime):
        return value.date()
    if not isinstance(value, dt.date):
        raise UsageError(f"expected a date, got {type(value).__name__}")
    return value


def _sql_date(value: dt.date) -> str:
    return f"DATE '{_as_day(value).isoformat()}'"


def _sql(tree: exp.Expr) -> str:
    """BigQuery text of ``tree`` without comments: a SQL file's header may mention
    ``@start_date``, and the emulator counts parameters in comments too (then fails with
    "Parameter argument/count mismatch")."""
    return tree.sql(dialect="bigquery", comments=False)


def _date_literal(value: dt.date) -> exp.Expr:
    return exp.cast(exp.Literal.string(_as_day(value).isoformat()), exp.DataType.Type.DATE)


class BigQueryWarehouse(Warehouse, Loader):
    dialect = "bigquery"
    name = "bigquery"

    def __init__(self, settings: Settings, client: bigquery.Client | None = None) -> None:
        super().__init__(settings)
        self.project = settings.warehouse.project
        self.location = settings.warehouse.location
        self.emulator = settings.warehouse.emulator_endpoint is not None
        self._client = client
        self._client_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._sql_cache: dict[str, str] = {}
        self._children_listable = True
        self._api_retry = _EMULATOR_API_RETRY if self.emulator else _API_RETRY
        self._result_timeout = settings.warehouse.job_timeout_seconds + 30.0

    # --- client -------------------------------------------------------------------------------
    @property
    def client(self) -> bigquery.Client:
        """The BigQuery client, built on first use (credentials are not needed to construct the
        warehouse, e.g. for ``--help`` or a dry plan)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._build_client()
        return self._client

    def _build_client(self) -> bigquery.Client:
        wh = self.settings.warehouse
        if wh.gcp_credentials_block:
            # Imported here only: the core package never imports prefect at import time.
            try:
                from prefect_gcp import GcpCredentials

                # _sync: this method is sync even when called from inside an async flow.
                loader: Any = GcpCredentials
                block = loader.load(wh.gcp_credentials_block, _sync=True)
                return block.get_bigquery_client(project=self.project, location=self.location)
            except Exception as exc:  # block missing, bad key, no Prefect API
                raise WarehouseUnavailable(
                    f"cannot load GcpCredentials block {wh.gcp_credentials_block!r}: "
                    f"{_first_line(exc)} (check NBA_BACKFILL_WAREHOUSE__GCP_CREDENTIALS_BLOCK "
                    "and that the block exists on the Prefect server)"
                ) from exc
        if wh.emulator_endpoint:
            from google.api_core.client_options import ClientOptions
            from google.auth.credentials import AnonymousCredentials

            _probe_emulator(wh.emulator_endpoint)

            return bigquery.Client(
                project=self.project,
                location=self.location,
                credentials=AnonymousCredentials(),
                client_options=ClientOptions(api_endpoint=wh.emulator_endpoint.rstrip("/")),
            )
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            credentials, _ = google.auth.default(scopes=list(_SCOPES))
        except DefaultCredentialsError as exc:
            raise WarehouseUnavailable(
                "no Google credentials for BigQuery: set NBA_BACKFILL_WAREHOUSE__GCP_CREDENTIALS_"
                "BLOCK (a prefect-gcp GcpCredentials block), or GOOGLE_APPLICATION_CREDENTIALS / "
                "run `gcloud auth application-default login`"
            ) from exc
        return bigquery.Client(
            project=self.project, location=self.location, credentials=credentials
        )

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None

    # --- naming and rendering -----------------------------------------------------------------
    def table_id(self, name: str) -> str:
        """``project.dataset.table`` for a logical ``dataset.table`` (physical dataset name)."""
        parts = name.split(".")
        if len(parts) != 2 or not all(_IDENT.match(p) for p in parts):
            raise UsageError(f"bad table name {name!r}: expected dataset.table")
        dataset, table = parts
        if dataset not in self.datasets:
            raise UsageError(f"unknown dataset {dataset!r} in {name!r}")
        return f"{self.project}.{self.datasets[dataset]}.{table}"

    def _quoted(self, name: str) -> str:
        return f"`{self.table_id(name)}`"

    def _qualify(self, tree: exp.Expr) -> exp.Expr:
        """Give every dataset-qualified table reference the project (CTEs have no dataset)."""
        project = exp.to_identifier(self.project)
        for ref in tree.find_all(exp.Table):
            if ref.args.get("db") is not None and ref.args.get("catalog") is None:
                ref.set("catalog", project.copy())
        return tree

    def render(self, sql: str | exp.Expr) -> str:
        """BigQuery SQL with physical, project-qualified table names."""
        if isinstance(sql, str):
            cached = self._sql_cache.get(sql)
            if cached is None:
                try:
                    tree = self.parse(sql)
                except sqlglot.errors.ParseError as exc:
                    raise WarehouseError(f"not valid BigQuery SQL: {_first_line(exc)}") from exc
                cached = _sql(self._qualify(tree))
                self._sql_cache[sql] = cached
            return cached
        return _sql(self._qualify(sql.copy()))

    def _model_tree(
        self, table: TableSpec, window: tuple[dt.date, dt.date] | None = None
    ) -> exp.Expr:
        """The table's model, qualified; with ``window`` its date parameters become literals."""
        tree = self._qualify(self.model(table))
        if window is not None:
            values = dict(zip(_WINDOW_PARAMS, window, strict=True))
            for param in list(tree.find_all(exp.Parameter)):
                if param.name in values:
                    param.replace(_date_literal(values[param.name]))
        return tree

    # --- jobs ---------------------------------------------------------------------------------
    def _labels(self, labels: Mapping[str, object] | None) -> dict[str, str]:
        return sanitize_labels({"app": "nba-backfill", **run_labels(), **(labels or {})})

    def cancel_jobs(self, labels: Mapping[str, str]) -> list[str]:
        """Cancel this project's pending and running jobs (started by these credentials) that
        carry all of ``labels`` (``jobs.list`` by state + ``jobs.cancel``); their ids."""
        want = sanitize_labels(labels)
        cancelled: list[str] = []
        for state in ("running", "pending"):
            for job in self.client.list_jobs(state_filter=state, retry=self._api_retry):
                have = getattr(job, "labels", None) or {}
                if job.job_id in cancelled or any(have.get(k) != v for k, v in want.items()):
                    continue
                self.client.cancel_job(
                    job.job_id, location=getattr(job, "location", None), retry=self._api_retry
                )
                cancelled.append(job.job_id)
        if cancelled:
            log.warning("cancelled %d BigQuery job(s) labelled %s", len(cancelled), want)
        return cancelled

    def _job_config(
        self,
        sql: str = "",
        params: Params | None = None,
        labels: Mapping[str, object] | None = None,
        *,
        dry_run: bool = False,
    ) -> bigquery.QueryJobConfig:
        """The configuration of every query job: the parameters ``sql`` references, labels
        (``app=nba-backfill`` + ``labels``), the bytes-billed cap and the job timeout."""
        wanted = set(_PARAM_REF.findall(sql)) if sql else set(params or {})
        config = bigquery.QueryJobConfig(
            query_parameters=[
                query_parameter(k, v) for k, v in (params or {}).items() if k in wanted
            ],
            labels=self._labels(labels),
            maximum_bytes_billed=self.settings.warehouse.maximum_bytes_billed,
            job_timeout_ms=int(self.settings.warehouse.job_timeout_seconds * 1000),
            use_legacy_sql=False,
        )
        if dry_run:
            config.dry_run = True
            config.use_query_cache = False
        return config

    def _query(
        self,
        sql: str,
        params: Params | None,
        labels: Mapping[str, object] | None,
        *,
        what: str,
        dry_run: bool = False,
    ) -> tuple[QueryJob, list[dict[str, Any]]]:
        """Run one query job to completion; return the job and its rows (none for a dry run)."""
        config = self._job_config(sql, params, labels, dry_run=dry_run)
        job: QueryJob | None = None
        try:
            job = self.client.query(
                sql,
                job_config=config,
                job_id_prefix="nba_backfill_",
                retry=self._api_retry,
                job_retry=None,
            )
            if dry_run:
                return job, []
            result = job.result(timeout=self._result_timeout, retry=self._api_retry, job_retry=None)
            rows = [dict(row.items()) for row in result]
        except (TimeoutError, concurrent.futures.TimeoutError) as exc:
            if job is not None:  # do not leave a timed-out job running behind a retry
                with contextlib.suppress(Exception):
                    job.cancel(retry=self._api_retry)
            raise translate(exc, what) from exc
        except _VENDOR_ERRORS as exc:
            raise translate(exc, what) from exc
        with self._count_lock:
            self.jobs_run += 1
        return job, rows

    # --- adapter primitives -------------------------------------------------------------------
    def fetch(
        self,
        sql: str | exp.Expr,
        params: Params | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        text = self.render(sql)
        return self._query(text, params, labels, what="query failed")[1]

    def table_exists(self, name: str) -> bool:
        table_id = self.table_id(name)
        try:
            self.client.get_table(table_id, retry=self._api_retry)
        except gexc.NotFound:
            return False
        except _VENDOR_ERRORS as exc:
            raise translate(exc, f"looking up {name}") from exc
        return True

    def _ensure_dataset(self, logical: str) -> None:
        ref = bigquery.Dataset(f"{self.project}.{self.datasets[logical]}")
        ref.location = self.location
        try:
            self.client.create_dataset(ref, exists_ok=True, retry=self._api_retry)
        except _VENDOR_ERRORS as exc:
            raise translate(exc, f"creating dataset {self.datasets[logical]}") from exc

    def _create_table(
        self,
        name: str,
        schema: Sequence[bigquery.SchemaField],
        *,
        date_column: str | None,
        clustering: Sequence[str] = (),
        require_partition_filter: bool = False,
        expiration_days: float | None = None,
        description: str = "",
    ) -> None:
        table = bigquery.Table(self.table_id(name), schema=list(schema))
        # DAY partitions on the date column (none for an unpartitioned table such as the
        # player registry); an expiration only where production declares one (the planner
        # never writes a date that would expire on arrival).
        if date_column is not None:
            table.time_partitioning = bigquery.TimePartitioning(
                type_=bigquery.TimePartitioningType.DAY,
                field=date_column,
                expiration_ms=int(expiration_days * 86_400_000) if expiration_days else None,
            )
        if clustering:
            table.clustering_fields = list(clustering)[:_MAX_CLUSTER_COLUMNS]
        if require_partition_filter:
            table.require_partition_filter = True
        if description:
            table.description = description
        try:
            self.client.create_table(table, exists_ok=True, retry=self._api_retry)
        except _VENDOR_ERRORS as exc:
            raise translate(exc, f"creating {name}") from exc

    # --- Phase 2 ------------------------------------------------------------------------------
    @staticmethod
    def raw_schema(table: RawTable) -> list[bigquery.SchemaField]:
        """Production's columns as SchemaFields: types, modes (REQUIRED / NULLABLE / REPEATED)
        and NUMERIC precision, from the contract."""
        return [schema_field(c) for c in table.live_columns]

    def ensure_raw_tables(self, tables: Sequence[RawTable]) -> None:
        for dataset in dict.fromkeys(t.dataset for t in tables):
            self._ensure_dataset(dataset)
        for t in tables:
            self._create_table(
                t.name,
                self.raw_schema(t),
                date_column=t.partition_by,
                clustering=t.cluster_by,
                require_partition_filter=t.require_partition_filter,
                description=f"Production's {t.name} ({t.source})",
            )

    def load_raw(
        self, table: RawTable, rows: Iterable[Sequence[Any]], *, replace: bool = True
    ) -> int:
        """Write Phase 2 rows with one load job: WRITE_TRUNCATE when ``replace``, else
        WRITE_APPEND. A load is free and atomic, and unlike streamed rows its rows can be
        deleted by DML at once.

        The rows go through a temporary newline-delimited JSON file (what load_table_from_json
        builds in memory), so a full history is not held twice, and because its size is not
        given the client uploads it resumably. That is also what makes it work on the emulator:
        its upload endpoint rejects only the multipart form (``*/*`` media) that
        load_table_from_json's sized upload uses (SPEC §8), so the emulator needs no streaming
        -insert path and the tests exercise the production one."""
        self.ensure_raw_tables([table])
        names = table.column_names
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            schema=self.raw_schema(table),
            write_disposition=(
                bigquery.WriteDisposition.WRITE_TRUNCATE
                if replace
                else bigquery.WriteDisposition.WRITE_APPEND
            ),
            time_partitioning=(
                bigquery.TimePartitioning(
                    type_=bigquery.TimePartitioningType.DAY, field=table.partition_by
                )
                if table.partition_by
                else None
            ),
            labels=self._labels({"table": table.name}),
        )
        n = 0
        with tempfile.TemporaryFile(mode="w+b") as fh:
            for row in rows:
                record = {c: _json_value(v) for c, v in zip(names, row, strict=True)}
                fh.write(json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\n")
                n += 1
            if n == 0:
                if replace:  # nothing to load: a replacement by nothing empties the table
                    self._query(
                        f"TRUNCATE TABLE {self._quoted(table.name)}",
                        None,
                        {"table": table.name},
                        what=f"emptying {table.name}",
                    )
                return 0
            fh.seek(0)
            job: bigquery.LoadJob | None = None
            try:
                job = self.client.load_table_from_file(
                    fh,
                    self.table_id(table.name),
                    job_config=config,
                    job_id_prefix="nba_backfill_load_",
                )
                job.result(timeout=self._result_timeout)
            except (TimeoutError, concurrent.futures.TimeoutError) as exc:
                if job is not None:  # an append retried behind a running load would duplicate
                    with contextlib.suppress(Exception):
                        job.cancel(retry=self._api_retry)
                raise translate(exc, f"loading {n} rows into {table.name}") from exc
            except _VENDOR_ERRORS as exc:
                raise translate(exc, f"loading {n} rows into {table.name}") from exc
        with self._count_lock:
            self.jobs_run += 1
        log.info("loaded %d rows into %s (%s)", n, table.name, "replace" if replace else "append")
        return n

    # --- Phase 3/4 ----------------------------------------------------------------------------
    def ensure_tables(self, tables: Sequence[TableSpec]) -> None:
        """Create the datasets, then each absent table exactly as production's contract
        defines it: columns (name, type, mode), DAY partitions on its date column with
        production's expiration, clustering and ``require_partition_filter``."""
        for dataset in dict.fromkeys(t.dataset for t in tables):
            self._ensure_dataset(dataset)
        for t in tables:
            if self.table_exists(t.name):
                continue
            tc = t.contract
            schema = [schema_field(c) for c in tc.live_columns]
            self._create_table(
                t.name,
                schema,
                date_column=t.date_column,
                clustering=tc.cluster_by,
                require_partition_filter=tc.require_partition_filter,
                expiration_days=tc.partition_expiration_days,
                description=t.description,
            )
            log.info("created %s (%d columns)", t.name, len(schema))

    def _live_table(self, name: str) -> bigquery.Table | None:
        try:
            return self.client.get_table(self.table_id(name), retry=self._api_retry)
        except gexc.NotFound:
            return None
        except _VENDOR_ERRORS as exc:
            raise translate(exc, f"reading {name}") from exc

    def partition_expiration_days(self, table: TableSpec) -> float | None:
        """The live table's partition expiration (an operator may have lifted production's to
        keep history); the contract's for a table not created yet."""
        live = self._live_table(table.name)
        if live is None:
            return table.partition_expiration_days
        tp = live.time_partitioning
        ms = tp.expiration_ms if tp is not None else None
        return ms / 86_400_000 if ms else None

    def live_columns(self, name: str) -> list[tuple[str, str, str]] | None:
        live = self._live_table(name)
        if live is None:
            return None
        return [(f.name, field_type(f), f.mode or "NULLABLE") for f in live.schema]

    def _columns(self, table: TableSpec) -> tuple[str, ...]:
        """The columns a write names: production's live columns, in its order (what the
        write SELECT produces; the drift check makes sure the target has them)."""
        return table.contract.column_names

    def _replace_statements(
        self,
        table: TableSpec,
        start: dt.date,
        end: dt.date,
        dates: Sequence[dt.date] | None = None,
    ) -> tuple[str, str]:
        """The DELETE and INSERT of one window replacement. On the emulator the window is
        rendered as DATE literals: it binds no query parameters inside multi-statement scripts
        (SPEC §8). Safe: the values are ``datetime.date`` objects, never text from a user."""
        target = self._quoted(table.name)
        d = table.date_column
        cols = self._columns(table)
        col_list = ", ".join(f"`{c}`" for c in cols)
        if self.emulator:
            lo, hi = _sql_date(start), _sql_date(end)
            days = f"[{', '.join(_sql_date(x) for x in dates)}]" if dates else ""
            model = _sql(self._model_tree(table, (start, end)))
        else:
            lo, hi, days = "@start_date", "@end_date", "@dates" if dates else ""
            model = _sql(self._model_tree(table))
        # Only the write's dates (when given): the complete dates between are not rewritten.
        only = f" AND `{d}` IN UNNEST({days})" if days else ""
        delete = f"DELETE FROM {target} WHERE `{d}` BETWEEN {lo} AND {hi}{only}"
        # The window filter again on the output: a model bug can never write outside its range.
        insert = (
            f"INSERT INTO {target} ({col_list})\n"
            f"SELECT {col_list} FROM (\n{model}\n) AS m WHERE m.`{d}` BETWEEN {lo} AND {hi}"
            + only.replace(f"`{d}`", f"m.`{d}`")
        )
        return delete, insert

    def replace_script(
        self,
        table: TableSpec,
        start: dt.date,
        end: dt.date,
        dates: Sequence[dt.date] | None = None,
    ) -> str:
        """One multi-statement query replacing ``[start, end]`` of ``table`` atomically (of it,
        just ``dates`` when given)."""
        delete, insert = self._replace_statements(table, start, end, dates)
        if self.emulator:
            # No EXCEPTION handler here: the emulator drops its transaction snapshot when a
            # handler catches an error (so ROLLBACK there restores nothing) and cannot parse
            # ``@@error.message``. Without a handler both BigQuery ("the query fails and
            # BigQuery automatically rolls back the transaction") and the emulator roll back.
            return f"BEGIN TRANSACTION;\n{delete};\n{insert};\nCOMMIT TRANSACTION;"
        return (
            "BEGIN\n"
            "BEGIN TRANSACTION;\n"
            f"{delete};\n"
            f"{insert};\n"
            "COMMIT TRANSACTION;\n"
            "EXCEPTION WHEN ERROR THEN\n"
            "ROLLBACK TRANSACTION;\n"
            "RAISE USING MESSAGE = @@error.message;\n"
            "END;"
        )

    def merge_statement(self, table: TableSpec, sparse: bool = False) -> str:
        """One MERGE replacing the window ``[@start_date, @end_date]`` of ``table`` with its
        model's rows (dbt-bigquery's insert_overwrite pattern). ``ON FALSE`` matches nothing,
        so every target row of the window is "not matched by source" and deleted, and every
        model row "not matched" and inserted: a single DML statement, atomic by itself, that
        BigQuery queues behind other DML of the table instead of cancelling it as it does a
        conflicting transaction. The window dates stay query parameters; the emulator binds
        them here (it does not inside scripts). ``sparse``: the window is the dates of
        ``@dates`` (ARRAY<DATE>) within it, for the delete and the output alike; the model
        still reads ``[@start_date, @end_date]``, the dates between are not even rewritten."""
        d = table.date_column
        cols = self._columns(table)
        start, end = (
            exp.Parameter(this=exp.var("start_date")),
            exp.Parameter(this=exp.var("end_date")),
        )

        def in_window(alias: str) -> exp.Expr:
            col = exp.column(d, table=alias, quoted=True)
            window = col.between(start.copy(), end.copy())
            if not sparse:
                return window
            days = exp.Unnest(expressions=[exp.Parameter(this=exp.var("dates"))])
            return exp.and_(window, exp.In(this=col.copy(), unnest=days))

        # The window filter on the model's output too: a model bug can never write outside it.
        source = (
            exp.select(*(exp.column(c, quoted=True) for c in cols))
            .from_(
                exp.Subquery(
                    this=self._model_tree(table), alias=exp.TableAlias(this=exp.to_identifier("m"))
                )
            )
            .where(in_window("m"))
        )
        project, dataset, name = self.table_id(table.name).split(".")
        target = exp.table_(name, db=dataset, catalog=project, quoted=True, alias="T")
        merge = exp.Merge(
            this=target,
            using=exp.Subquery(this=source, alias=exp.TableAlias(this=exp.to_identifier("S"))),
            on=exp.false(),
            whens=exp.Whens(
                expressions=[
                    exp.When(
                        matched=False, source=True, condition=in_window("T"), then=exp.var("DELETE")
                    ),
                    exp.When(
                        matched=False,
                        source=False,
                        then=exp.Insert(
                            this=exp.Tuple(expressions=[exp.column(c, quoted=True) for c in cols]),
                            expression=exp.Tuple(
                                expressions=[exp.column(c, table="S", quoted=True) for c in cols]
                            ),
                        ),
                    ),
                ]
            ),
        )
        return _sql(merge)

    def replace_range(
        self,
        table: TableSpec,
        start: dt.date,
        end: dt.date,
        *,
        labels: Mapping[str, str] | None = None,
        dates: Sequence[dt.date] | None = None,
    ) -> WriteResult:
        """Atomically replace ``[start, end]`` of ``table`` (of it, just ``dates`` when given)
        with its SQL's output (one MERGE, or one transaction under ``write_strategy =
        transaction``: a failure leaves the old rows, a rerun replaces the same rows). The
        result carries what the jobs cost."""
        if end < start:
            raise UsageError(f"{table.name}: end {end} is before start {start}")
        days = write_dates(start, end, dates)
        what = f"replacing {table.name} {start}..{end}"
        if days is not None:
            what += f" ({len(days)} dates)"
        params: dict[str, Any] = {"start_date": start, "end_date": end}
        if days is not None:
            params["dates"] = bigquery.ArrayQueryParameter("dates", "DATE", days)
        job_labels = {"table": table.name, "chunk": f"{start}_{end}", **(labels or {})}
        if self.settings.warehouse.write_strategy == "merge":
            deleted, written, cost = self._merge_range(
                table, start, end, params, job_labels, what, days
            )
        else:
            deleted, written, cost = self._script_range(
                table, start, end, params, job_labels, what, days
            )
        log.info("%s: %d rows deleted, %d written", what, deleted, written)
        return WriteResult(table.name, start, end, deleted, written, cost=cost)

    def _merge_range(
        self,
        table: TableSpec,
        start: dt.date,
        end: dt.date,
        params: Params,
        labels: Mapping[str, object],
        what: str,
        days: Sequence[dt.date] | None = None,
    ) -> tuple[int, int, JobCost]:
        statement = self.merge_statement(table, sparse=days is not None)
        if self.mid_write is not None:  # the MERGE is one atomic job: pause just before it
            self.mid_write(table, start, end)
        job, _ = self._query(statement, params, labels, what=what)
        cost = job_cost(job)
        stats = job.dml_stats
        if stats is not None:  # BigQuery: the MERGE's own inserted / deleted counts
            return stats.deleted_row_count, stats.inserted_row_count, cost
        # The emulator reports only the affected total (deleted + inserted); after the MERGE
        # the window holds exactly the inserted rows, so one count splits it.
        written, count_cost = self._count(table, start, end, days)
        affected = int(job.num_dml_affected_rows or 0)
        return affected - written, written, cost + count_cost

    def _script_range(
        self,
        table: TableSpec,
        start: dt.date,
        end: dt.date,
        params: Params,
        labels: Mapping[str, object],
        what: str,
        days: Sequence[dt.date] | None = None,
    ) -> tuple[int, int, JobCost]:
        script = self.replace_script(table, start, end, days)
        # The counts come from the script's child jobs; the emulator runs scripts without any,
        # and listing them needs bigquery.jobs.list: then count the window before and after.
        count_window = self.emulator or not self._children_listable
        cost = JobCost()
        before: int | None = None
        if count_window:
            before, cost = self._count(table, start, end, days)
        if self.mid_write is not None:  # the script is one atomic job: pause just before it
            self.mid_write(table, start, end)
        job, _ = self._query(script, params, labels, what=what)
        cost = cost + job_cost(job)  # a script job's statistics total its child jobs
        counts = None if count_window else self._child_counts(job)
        if counts is None:
            after, after_cost = self._count(table, start, end, days)
            cost = cost + after_cost
            if before is None:
                log.warning("%s: rows deleted unknown (reported as 0) for this chunk", what)
            counts = (before or 0, after)
        return counts[0], counts[1], cost

    def _count(
        self,
        table: TableSpec,
        start: dt.date,
        end: dt.date,
        days: Sequence[dt.date] | None = None,
    ) -> tuple[int, JobCost]:
        """Rows of ``table`` in ``[start, end]`` (of it, on ``days`` when given), and what
        counting them cost."""
        params: dict[str, Any] = {"start_date": start, "end_date": end}
        only = ""
        if days is not None:
            params["dates"] = bigquery.ArrayQueryParameter("dates", "DATE", list(days))
            only = f" AND `{table.date_column}` IN UNNEST(@dates)"
        job, rows = self._query(
            f"SELECT COUNT(*) AS n FROM {self._quoted(table.name)} "
            f"WHERE `{table.date_column}` BETWEEN @start_date AND @end_date{only}",
            params,
            {"table": table.name},
            what=f"counting {table.name} {start}..{end}",
        )
        return int(rows[0]["n"]), job_cost(job)

    def _child_counts(self, job: QueryJob) -> tuple[int, int] | None:
        """(rows deleted, rows inserted) from a script's child jobs, or None if unavailable."""
        try:
            children = list(
                self.client.list_jobs(
                    parent_job=job.job_id, project=self.project, retry=self._api_retry
                )
            )
        except _VENDOR_ERRORS as exc:  # e.g. no bigquery.jobs.list permission
            self._children_listable = False
            log.warning(
                "cannot list the child jobs of %s (%s); counting rows instead from now on "
                "(grant bigquery.jobs.list, e.g. roles/bigquery.user, to avoid the extra queries)",
                job.job_id,
                _first_line(exc),
            )
            return None
        return dml_counts(children)

    def delete_dates(self, table: TableSpec, dates: Sequence[dt.date]) -> int:
        if not dates:
            return 0
        job, _ = self._query(
            f"DELETE FROM {self._quoted(table.name)} WHERE `{table.date_column}` IN UNNEST(@dates)",
            {"dates": bigquery.ArrayQueryParameter("dates", "DATE", sorted(set(dates)))},
            {"table": table.name},
            what=f"deleting {len(dates)} dates of {table.name}",
        )
        return int(job.num_dml_affected_rows or 0)

    def estimate_bytes(self, table: TableSpec, start: dt.date, end: dt.date) -> int | None:
        """Bytes the replacement of ``[start, end]`` would process (a dry run of its MERGE, or
        of the transaction's DELETE and INSERT), or None when unknown: the emulator's dry runs
        always report 0."""
        params = {"start_date": start, "end_date": end}
        total = 0
        statements: Sequence[str] = (
            (self.merge_statement(table),)
            if self.settings.warehouse.write_strategy == "merge"
            else self._replace_statements(table, start, end)
        )
        for statement in statements:
            job, _ = self._query(
                statement,
                params,
                {"table": table.name},
                what=f"estimating {table.name} {start}..{end}",
                dry_run=True,
            )
            total += int(job.total_bytes_processed or 0)
        return total or None


def schema_field(column: Column) -> bigquery.SchemaField:
    """A BigQuery schema field for a contract column: ``ARRAY<T>`` is a REPEATED ``T``,
    ``STRUCT<…>`` a RECORD with its fields, ``NUMERIC(p,s)`` keeps its precision and scale."""
    return _field(column.name, column.data_type, column.mode)


def _field(name: str, dtype: exp.DataType, mode: str) -> bigquery.SchemaField:
    if dtype.this == exp.DataType.Type.ARRAY:
        return _field(name, dtype.expressions[0], "REPEATED")
    if dtype.this == exp.DataType.Type.STRUCT:
        fields = []
        for member in dtype.expressions:
            member_type = member.args["kind"]
            fields.append(_field(member.name, member_type, "NULLABLE"))
        return bigquery.SchemaField(name, "RECORD", mode=mode, fields=fields)
    text = dtype.sql(dialect="bigquery")
    base = text.split("(")[0]
    if base == "NUMERIC" and dtype.expressions:
        precision, scale = (int(e.name) for e in dtype.expressions)
        return bigquery.SchemaField(name, "NUMERIC", mode=mode, precision=precision, scale=scale)
    return bigquery.SchemaField(name, _FIELD_TYPES.get(base, base), mode=mode)


_TYPE_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}


def field_type(field: bigquery.SchemaField) -> str:
    """A schema field's type as contract text: ``ARRAY<T>`` for REPEATED, ``STRUCT<…>`` for a
    RECORD, ``NUMERIC(p,s)`` when the server reports the parameters."""
    base = _TYPE_NAMES.get(field.field_type, field.field_type)
    if base == "RECORD" or base == "STRUCT":
        base = "STRUCT<" + ",".join(f"{f.name} {field_type(f)}" for f in field.fields) + ">"
    elif base in ("NUMERIC", "BIGNUMERIC") and field.precision is not None:
        base = f"{base}({field.precision},{field.scale or 0})"
    return f"ARRAY<{base}>" if field.mode == "REPEATED" else base


def job_cost(job: Any) -> JobCost:
    """What one finished job cost, from its statistics (None where the service reports
    nothing: the emulator gives 0 bytes processed and no billing or slot figures)."""
    return JobCost(
        bytes_processed=job.total_bytes_processed,
        bytes_billed=job.total_bytes_billed,
        slot_ms=job.slot_millis,
    )


def dml_counts(children: Iterable[Any]) -> tuple[int, int] | None:
    """Sum ``num_dml_affected_rows`` of DELETE and INSERT child jobs; None when there are none."""
    deleted = written = 0
    seen = False
    for child in children:
        kind = getattr(child, "statement_type", None)
        affected = int(getattr(child, "num_dml_affected_rows", None) or 0)
        if kind == "DELETE":
            deleted += affected
            seen = True
        elif kind == "INSERT":
            written += affected
            seen = True
    return (deleted, written) if seen else None
