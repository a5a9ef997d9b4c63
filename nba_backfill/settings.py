"""One settings tree for nba-backfill: env prefix ``NBA_BACKFILL_``, nested with ``__``.

Examples: ``NBA_BACKFILL_WAREHOUSE__BACKEND=bigquery``, ``NBA_BACKFILL_RUN__CHUNK_DAYS=14``.
Every field is bounded and described; an invalid value fails at start with one line
(see :func:`load_settings`).
"""

from __future__ import annotations

import datetime as dt
import json
import typing
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from nba_backfill.calendar import check_order
from nba_backfill.errors import UsageError

_DATASET_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$"
_PROJECT_PATTERN = r"^[a-z][a-z0-9\-]{4,28}[a-z0-9]$"
# Bounds of a run's chunk size (calendar days) and concurrency (chunk tasks at once), shared by
# the settings' defaults and every run's parameters (nba_backfill.params.RunParams): a chunk
# longer than a year buys nothing (the longest look-back is a year), and BigQuery runs a few
# DML statements per table at once.
CHUNK_DAYS_BOUNDS = (1, 366)
MAX_CONCURRENCY_BOUNDS = (1, 64)


class DatasetNames(BaseModel):
    """Physical dataset names; SQL files use the logical (production) names and are mapped."""

    nba_raw: str = Field("nba_raw", pattern=_DATASET_PATTERN, description="Phase 2 raw data")
    nba_reference: str = Field("nba_reference", pattern=_DATASET_PATTERN, description="Schedule")
    nba_analytics: str = Field("nba_analytics", pattern=_DATASET_PATTERN, description="Phase 3")
    nba_precompute: str = Field("nba_precompute", pattern=_DATASET_PATTERN, description="Phase 4")
    nba_predictions: str = Field(
        "nba_predictions", pattern=_DATASET_PATTERN, description="ML feature store"
    )
    nba_backfill_meta: str = Field(
        "nba_backfill_meta", pattern=_DATASET_PATTERN, description="Backfill locks and ledger"
    )

    def physical(self, logical: str) -> str:
        try:
            return str(getattr(self, logical))
        except AttributeError:
            raise UsageError(f"unknown dataset {logical!r}") from None


class WarehouseSettings(BaseModel):
    backend: Literal["duckdb", "bigquery"] = Field(
        "duckdb", description="duckdb: embedded local file; bigquery: Google BigQuery"
    )
    duckdb_path: Path = Field(
        Path(".nba-backfill/warehouse.duckdb"),
        description="DuckDB database file; unset = warehouse.duckdb under NBA_BACKFILL_HOME",
    )
    duckdb_threads: int = Field(2, ge=1, le=64, description="DuckDB worker threads")
    duckdb_memory_limit: str = Field(
        "450MB",
        pattern=r"^[0-9]+(\.[0-9]+)? ?([KMGT]i?B)$",
        description=(
            "DuckDB's buffer pool cap (its default is 80 % of the machine's RAM); larger "
            "queries spill to <duckdb_path>.tmp where they can. The largest statement, the "
            "feature store's model over its 14 days per statement (the catalog's "
            "statement_days), needs about 0.3 GB; each write slot holds one statement, and one "
            "out of memory is retried as statements half as long (down to 7 days). The "
            "default keeps a full `make run` under 1 GiB of peak RSS"
        ),
    )
    duckdb_write_slots: int = Field(
        1,
        ge=1,
        le=16,
        description=(
            "DuckDB writes in flight at once (the other chunks' writes wait): each statement "
            "runs on all duckdb_threads, so writes side by side share the cores and add up in "
            "the buffer pool; on 2 threads one at a time was the fastest full run"
        ),
    )
    duckdb_partition_expiration: Literal["contract", "none"] = Field(
        "contract",
        description=(
            "DuckDB has no partition expiration: 'contract' plans as production's tables do "
            "(dates older than a table's partition_expiration_days are skipped), 'none' as a "
            "warehouse whose operator lifted it. BigQuery always reads the live table."
        ),
    )
    project: str = Field(
        "nba-props-platform",
        pattern=_PROJECT_PATTERN,
        description="GCP project that owns the datasets",
    )
    allow_destructive: str | None = Field(
        None,
        pattern=_PROJECT_PATTERN,
        description="BigQuery sandbox confirmation: the target project's name lets `seed` empty "
        "and replace its tables when the project or datasets are not production's "
        "(nba_backfill/safety.py); production's names are refused even so",
    )
    location: str = Field("us-west2", min_length=2, max_length=40, description="BigQuery location")
    datasets: DatasetNames = Field(default_factory=DatasetNames)
    gcp_credentials_block: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",  # a Prefect block document name
        description="prefect-gcp GcpCredentials block name; unset = ADC",
    )
    emulator_endpoint: str | None = Field(
        None,
        pattern=r"^https?://(127\.0\.0\.1|localhost)(:\d+)?/?$",
        description="bqemulator REST endpoint (tests only)",
    )
    maximum_bytes_billed: int = Field(
        50 * 1024**3, ge=10 * 1024**2, description="Per-job cap on bytes billed (BigQuery)"
    )
    job_timeout_seconds: float = Field(
        900.0, gt=0, le=6 * 3600, description="Timeout of one warehouse job"
    )
    write_strategy: Literal["merge", "transaction"] = Field(
        "merge",
        description=(
            "How a BigQuery chunk replaces its window: 'merge' one MERGE statement (atomic, "
            "queued by BigQuery behind other DML of the table), 'transaction' a script "
            "BEGIN TRANSACTION; DELETE; INSERT; COMMIT (a concurrent one on the same table is "
            "cancelled, not queued). DuckDB always uses a transaction"
        ),
    )
    price_per_tib_usd: float = Field(6.25, ge=0, description="On-demand price for estimates")


class RetrySettings(BaseModel):
    max_attempts: int = Field(6, ge=1, le=50, description="Attempts per chunk, first included")
    initial_wait_seconds: float = Field(2.0, ge=0, le=600, description="First backoff")
    max_wait_seconds: float = Field(120.0, ge=0, le=3600, description="Backoff ceiling")
    quota_max_wait_seconds: float = Field(
        600.0, ge=0, le=7200, description="Backoff ceiling for quota / rate-limit errors"
    )
    jitter_seconds: float = Field(1.0, ge=0, le=60, description="Random jitter added per wait")


class DmlSettings(BaseModel):
    """The per-table DML limiter (``nba_backfill/limiter.py``), shaped on BigQuery's limits:
    2 mutating statements running per table, 25 DML statements per 10 s per table. When BigQuery
    answers "too many DML statements outstanding" or a concurrent-update conflict, this process
    halves its in-flight writes to that table for ``cooldown_seconds`` and waits a growing,
    jittered delay before trying again (at most ``max_conflict_retries`` times per write)."""

    max_in_flight: int = Field(
        2, ge=1, le=2, description="Mutating statements per table in flight (BigQuery runs 2)"
    )
    rate_statements: int = Field(
        25, ge=1, le=25, description="DML statements per table per rate window (BigQuery: 25)"
    )
    rate_window_seconds: float = Field(
        10.0, ge=1, le=600, description="The rate window (BigQuery: 10 s)"
    )
    conflict_initial_wait_seconds: float = Field(
        2.0, ge=0, le=300, description="First wait after a DML conflict; doubles per conflict"
    )
    conflict_max_wait_seconds: float = Field(
        60.0, ge=0, le=3600, description="Ceiling of the wait after a DML conflict"
    )
    conflict_jitter: float = Field(
        0.5, ge=0, le=1, description="Random share added to each conflict wait (0.5: up to +50 %)"
    )
    cooldown_seconds: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="How long a conflict keeps the table's in-flight limit lowered",
    )
    max_conflict_retries: int = Field(
        8, ge=0, le=50, description="Conflicts one write waits out before the retry policy"
    )


class RunSettings(BaseModel):
    start_date: dt.date = Field(dt.date(2021, 10, 19), description="Default backfill start")
    end_date: dt.date = Field(dt.date(2026, 1, 3), description="Default backfill end")
    chunk_days: int = Field(
        92,
        ge=CHUNK_DAYS_BOUNDS[0],
        le=CHUNK_DAYS_BOUNDS[1],
        description="Most calendar days per chunk task",
    )
    max_concurrency: int = Field(
        8,
        ge=MAX_CONCURRENCY_BOUNDS[0],
        le=MAX_CONCURRENCY_BOUNDS[1],
        description="Chunk tasks running at once",
    )
    max_concurrency_per_table: int = Field(
        2,
        ge=1,
        le=16,
        description="Concurrent writes to one table (1 whatever this says with "
        "warehouse.write_strategy transaction: BigQuery cancels a second one)",
    )
    max_bytes: int | None = Field(
        None,
        gt=0,
        description="Run budget in bytes (e.g. 50GB, 1.5TiB): no chunk starts once billed + "
        "estimate would exceed it; DuckDB counts the estimate (unset: no budget)",
    )

    @field_validator("max_bytes", mode="before")
    @classmethod
    def _size(cls, v: object) -> object:
        if isinstance(v, str) and v.strip():
            from nba_backfill.budget import parse_bytes

            try:
                return parse_bytes(v)
            except UsageError as exc:
                raise ValueError(str(exc).removeprefix("max_bytes: ")) from None
        return v or None

    lock_wait_seconds: float = Field(
        0,
        ge=0,
        le=24 * 3600,
        description="How long a run waits for another run on the same warehouse to finish "
        "before refusing (0: refuse at once)",
    )
    lock_lease_seconds: float = Field(
        120,
        ge=60,
        le=3600,
        description="Lease of the run lock, renewed while the run lives: how long a run that "
        "died unseen keeps the next one out at most (Prefect's minimum is 60)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RunSettings:
        try:
            check_order(self.start_date, self.end_date, "start_date", "end_date")
        except UsageError as exc:  # pydantic reports ValueErrors with the setting's name
            raise ValueError(str(exc)) from None
        return self


_BLOCK_NAME = r"^[a-z0-9][a-z0-9-]{0,62}$"  # Prefect block document names: lowercase slugs


class GateSettings(BaseModel):
    mode: Literal["date", "table"] = Field(
        "date",
        description="Phase 3 gate: date = Phase 4 holds back only the dates whose windows "
        "read a failing Phase 3 date; table = a table below its threshold stops Phase 4",
    )
    require_signoff: bool = Field(
        False, description="After a passing gate, pause for a person's sign-off before Phase 4"
    )
    signoff_timeout_seconds: int = Field(
        86400, ge=1, le=7 * 86400, description="How long a paused run waits for its sign-off"
    )


class PrefectSettings(BaseModel):
    slack_block: str | None = Field(
        None,
        pattern=_BLOCK_NAME,
        description="SlackWebhook block notified on finish / failure; unset = no Slack",
    )
    work_pool: str = Field(
        "nba-backfill-cloud-run", min_length=1, max_length=100, description="Production work pool"
    )
    local_work_pool: str = Field(
        "nba-backfill-local", min_length=1, max_length=100, description="Local process work pool"
    )
    table_deployment: str | None = Field(
        None,
        pattern=r"^[^/]+/[^/]+$",
        description="fan-out target 'flow/deployment'; unset = backfill-table/<the parent's "
        "deployment name>",
    )
    rerun_lookback_days: int = Field(
        7, ge=1, le=90, description="How far back rerun-failed-dates reads failed backfill runs"
    )
    rerun_include_stale: bool = Field(
        False,
        description="rerun-failed-dates also refreshes the stale dates of the run range "
        "(inputs or model changed since written) and the windows reading them",
    )


class DeploySettings(BaseModel):
    """What `nba-backfill setup` puts into the Cloud Run work pool and deployments."""

    image: str = Field(
        "us-west2-docker.pkg.dev/nba-props-platform/nba-backfill/nba-backfill:latest",
        pattern=r"^[a-z0-9.\-]+(:\d+)?(/[a-z0-9._\-]+)+(:[A-Za-z0-9._\-]+|@sha256:[0-9a-f]{64})?$",
        description="Image the Cloud Run jobs run when setup registers without building",
    )
    region: str = Field(
        "us-west2", pattern=r"^[a-z]+-[a-z]+\d$", description="Cloud Run region of the jobs"
    )
    service_account_name: str | None = Field(
        "nba-backfill@nba-props-platform.iam.gserviceaccount.com",
        pattern=r"^[a-z][a-z0-9\-]{4,29}@[a-z0-9\-.]+\.iam\.gserviceaccount\.com$",
        description="Service account the Cloud Run jobs run as (BigQuery access via ADC)",
    )
    gcp_service_account_file: Path | None = Field(
        None,
        description="Key file for the GcpCredentials block the worker submits jobs with; "
        "unset = the block holds no key (ADC)",
    )


FaultKind = Literal[
    "quota", "rate_limit", "too_many_requests", "serialization", "server", "timeout"
]
FAULT_KINDS: tuple[FaultKind, ...] = typing.get_args(FaultKind)


class FaultSettings(BaseModel):
    """Test seams, off by default (``nba_backfill/warehouse/faults.py``): make warehouse calls
    fail or pause. Lists are a JSON list or comma-separated in the environment.

    ``permanent`` lists ``table:YYYY-MM-DD`` pairs (table as ``dataset.table`` or its bare
    name): a range write of that table covering that date raises a non-retryable
    WarehouseError. ``transient_rate`` of all warehouse calls (reads and chunk writes) fail
    with a transient error of one of ``transient_kinds``, chosen by ``seed``. ``delay`` pairs:
    a write of that table covering that date pauses ``delay_seconds`` mid-write, or less: until
    ``release_file`` exists, when set (a test decides when the paused run may go on)."""

    permanent: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="table:date pairs whose range writes always fail"
    )
    transient_rate: float = Field(
        0.0,
        ge=0,
        le=0.9,
        description="Fraction of warehouse calls (reads and chunk writes) that fail transiently",
    )
    transient_kinds: Annotated[list[FaultKind], NoDecode] = Field(
        default_factory=lambda: list(FAULT_KINDS),
        min_length=1,
        description="Transient errors to inject: quota (403 quotaExceeded), rate_limit (403 "
        "rateLimitExceeded), too_many_requests (429), serialization (400 concurrent update), "
        "server (503), timeout",
    )
    seed: int = Field(0, ge=0, description="Seed deciding which calls fail (reproducible)")
    delay: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="table:date pairs whose range writes pause mid-write"
    )
    delay_seconds: float = Field(
        30.0, ge=0, le=3600, description="How long a delayed write pauses (after its DELETE)"
    )
    release_file: Path | None = Field(
        None,
        description="A delayed write goes on as soon as this file exists (at most delay_seconds)",
    )

    @field_validator("permanent", "delay", "transient_kinds", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.strip()
            if v.startswith("["):
                return json.loads(v)
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @field_validator("permanent", "delay")
    @classmethod
    def _pairs(cls, v: list[str]) -> list[str]:
        from nba_backfill.catalog import get_table

        out = []
        for pair in v:
            table, sep, day = pair.rpartition(":")
            try:
                if not sep:
                    raise ValueError
                out.append(f"{get_table(table).name}:{dt.date.fromisoformat(day)}")
            except (ValueError, UsageError):
                raise ValueError(f"{pair!r} is not 'table:YYYY-MM-DD'") from None
        return out

    @staticmethod
    def _as_pairs(values: list[str]) -> set[tuple[str, dt.date]]:
        return {(t, dt.date.fromisoformat(d)) for t, _, d in (p.rpartition(":") for p in values)}

    def permanent_pairs(self) -> set[tuple[str, dt.date]]:
        return self._as_pairs(self.permanent)

    def delay_pairs(self) -> set[tuple[str, dt.date]]:
        return self._as_pairs(self.delay)

    @property
    def active(self) -> bool:
        return bool(self.permanent or self.transient_rate > 0 or self.delay)


class ProducerSettings(BaseModel):
    """How one table is produced when not by its built-in SQL model: an external processor
    (the platform's own backfill job) run once per chunk, judged afterwards by the warehouse
    alone (``nba_backfill/producers.py``, docs/producers.md). Set per table:
    ``NBA_BACKFILL_PRODUCERS__<TABLE>__COMMAND`` with the table's bare name."""

    command: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="Command template run per chunk (shell-like words, no shell); "
        "placeholders {start}, {end} (ISO dates) and {dates} (comma-separated ISO dates); "
        "unset = the built-in SQL model",
    )
    entry_point: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$",
        description="Instead of a command: a Python callable 'module:function' called with "
        "the chunk's dates (a list of datetime.date), run in a child Python process like a "
        "command (cwd, env, timeout); an exception fails the attempt",
    )
    cwd: Path | None = Field(None, description="Working directory of the command")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Extra environment of the command (a JSON object), on top of this process's",
    )
    timeout_seconds: float = Field(
        4 * 3600.0,
        gt=0,
        le=48 * 3600,
        description="Per-chunk timeout: the command's whole process group is stopped "
        "(SIGTERM, then SIGKILL) and the attempt counts as a timeout",
    )
    pre_delete: bool = Field(
        False,
        description="Delete the chunk's window (one statement) before the command: exact "
        "reruns, but the window is empty while the command runs",
    )

    @model_validator(mode="after")
    def _one_way(self) -> ProducerSettings:
        if self.command and self.entry_point:
            raise ValueError("set command or entry_point, not both")
        return self

    @property
    def external(self) -> bool:
        """Whether the table is produced by a command or entry point (else: its SQL model)."""
        return bool(self.command or self.entry_point)


def writes_per_table(write_strategy: str, max_concurrency_per_table: int) -> int:
    """Writes of one table to let run at once: ``max_concurrency_per_table`` for single MERGE
    statements (BigQuery runs 2 mutating statements per table and queues the rest), 1 for
    transactions (BigQuery cancels a transaction that meets another on the same table rather
    than queueing it: a second one in flight only costs a retry; docs/benchmarks.md)."""
    return 1 if write_strategy == "transaction" else max_concurrency_per_table


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NBA_BACKFILL_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    home: Path = Field(Path(".nba-backfill"), description="Local state folder")
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    dml: DmlSettings = Field(default_factory=DmlSettings)
    prefect: PrefectSettings = Field(default_factory=PrefectSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    deploy: DeploySettings = Field(default_factory=DeploySettings)
    faults: FaultSettings = Field(default_factory=FaultSettings)
    producers: dict[str, ProducerSettings] = Field(
        default_factory=dict,
        description="Per table (bare name): an external processor instead of the SQL model",
    )
    slack_webhook_url: SecretStr | None = Field(
        None, description="Webhook used to create the Slack block at setup; never logged"
    )

    @model_validator(mode="after")
    def _paths_under_home(self) -> Settings:
        # Every default local path lives under `home`: a second checkout (or a test) that sets
        # only NBA_BACKFILL_HOME never reads another one's warehouse. An explicit path wins.
        if "duckdb_path" not in self.warehouse.model_fields_set:
            self.warehouse.duckdb_path = self.home / "warehouse.duckdb"
        return self

    @field_validator("producers")
    @classmethod
    def _producer_tables(cls, v: dict[str, ProducerSettings]) -> dict[str, ProducerSettings]:
        # Keys are catalog names from here on, whichever spelling the environment used.
        from nba_backfill.catalog import get_table

        out: dict[str, ProducerSettings] = {}
        for key, producer in v.items():
            try:
                out[get_table(key).name] = producer
            except UsageError:
                raise ValueError(f"{key!r} is not a table of the catalog") from None
        return out

    def writes_per_table(self) -> int:
        """Writes of one table in flight at once (the runner's slots and the Prefect global
        concurrency limit per table): :func:`writes_per_table` of these settings."""
        return writes_per_table(self.warehouse.write_strategy, self.run.max_concurrency_per_table)

    def producer(self, table: str) -> ProducerSettings | None:
        """The external producer of ``table`` (catalog name), or None: its SQL model."""
        p = self.producers.get(table)
        return p if p is not None and p.external else None

    @field_validator("slack_webhook_url")
    @classmethod
    def _https(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith(("https://", "http://127.0.0.1")):
            raise ValueError("must be an https:// URL")
        return v


def env_var(*loc: str) -> str:
    """The environment variable of a setting: ``env_var("warehouse", "project")`` is
    ``NBA_BACKFILL_WAREHOUSE__PROJECT``."""
    prefix = Settings.model_config.get("env_prefix") or ""
    delimiter = Settings.model_config.get("env_nested_delimiter") or "__"
    return prefix + delimiter.join(p.upper() for p in loc)


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "settings"
    env = "NBA_BACKFILL_" + "__".join(str(p).upper() for p in err["loc"])
    return f"invalid setting {where} ({env}): {err['msg']}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and .env); raise UsageError with one line if invalid."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise UsageError(_one_line(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
