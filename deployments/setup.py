"""``nba-backfill setup``: make a Prefect server ready to run nba-backfill, idempotently.

In order: the work pools (the Cloud Run v2 pool for production, the ``process`` pool for this
machine), the blocks (GcpCredentials the Cloud Run worker submits jobs with, the SlackWebhook
the hooks notify), the global concurrency limits (concurrent writes per table, across every
process and container), then the deployments of ``prefect.yaml`` / ``prefect.local.yaml``
through ``prefect deploy``. Each object is read back first and written only when it differs,
so a second run changes nothing.

The GcpCredentials block is referenced (``$ref``) from the Cloud Run pool's base job template,
not from deployment job variables: Prefect resolves a reference in job variables at deploy time
and would copy the whole service-account key into every deployment.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from prefect import get_client
from prefect.blocks.core import Block
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    WorkPoolCreate,
    WorkPoolUpdate,
)
from prefect.exceptions import ObjectNotFound

from nba_backfill.catalog import TABLES
from nba_backfill.errors import BackfillError, UsageError
from nba_backfill.runner import dml_rate_limit_name, write_limit_name
from nba_backfill.settings import Settings

REPO = Path(__file__).resolve().parent.parent
PREFECT_FILES = {"cloud-run": REPO / "prefect.yaml", "local": REPO / "prefect.local.yaml"}
POOL_TYPES = {"cloud-run": "cloud-run-v2", "local": "process"}
PREFECT_DEPLOY = [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"]
Target = Literal["cloud-run", "local"]
Action = Literal["created", "updated", "unchanged", "skipped"]


@dataclass(frozen=True)
class Change:
    kind: str  # work pool | block | concurrency limit | deployment
    name: str
    action: Action
    note: str = ""


# --- work pools -------------------------------------------------------------------------------
def pool_name(settings: Settings, target: Target) -> str:
    return settings.prefect.work_pool if target == "cloud-run" else settings.prefect.local_work_pool


def cloud_run_template(settings: Settings, credentials_id: str | None) -> dict[str, Any]:
    """The cloud-run-v2 worker's default base job template with this project's defaults: image,
    region, service account, and the credentials block as a reference."""
    from prefect_gcp.workers.cloud_run_v2 import CloudRunWorkerV2

    template = copy.deepcopy(CloudRunWorkerV2.get_default_base_job_template())
    props = template["variables"]["properties"]
    props["image"]["default"] = settings.deploy.image
    props["region"]["default"] = settings.deploy.region
    props["service_account_name"]["default"] = settings.deploy.service_account_name
    if credentials_id is not None:
        props["credentials"]["default"] = {"$ref": {"block_document_id": credentials_id}}
    return template


def process_template() -> dict[str, Any]:
    from prefect.workers.process import ProcessWorker

    return copy.deepcopy(ProcessWorker.get_default_base_job_template())


def ensure_work_pool(
    client: SyncPrefectClient, name: str, pool_type: str, template: dict[str, Any]
) -> Change:
    try:
        pool = client.read_work_pool(name)
    except ObjectNotFound:
        client.create_work_pool(
            WorkPoolCreate(name=name, type=pool_type, base_job_template=template)
        )
        return Change("work pool", name, "created", pool_type)
    if pool.type != pool_type:
        raise UsageError(f"work pool {name!r} exists with type {pool.type!r}, not {pool_type!r}")
    if pool.base_job_template == template:
        return Change("work pool", name, "unchanged", pool_type)
    client.update_work_pool(name, WorkPoolUpdate(base_job_template=template))
    return Change("work pool", name, "updated", pool_type)


# --- blocks -----------------------------------------------------------------------------------
def _block_data(block: Block) -> dict[str, Any]:
    data = block.model_dump(mode="json", context={"include_secrets": True})
    return {k: v for k, v in data.items() if v is not None and not k.startswith("block_")}


def ensure_block(client: SyncPrefectClient, block: Block, name: str) -> tuple[Change, str]:
    """Save ``block`` as ``name`` unless a document with the same data exists; return what
    happened and the document id (the same id across updates)."""
    kind = f"block ({block.get_block_type_slug()})"
    try:
        doc = client.read_block_document_by_name(
            name, block.get_block_type_slug(), include_secrets=True
        )
    except ObjectNotFound:
        doc = None
    wanted = _block_data(block)
    if doc is not None:
        have = {k: v for k, v in (doc.data or {}).items() if v is not None}
        if json.dumps(have, sort_keys=True, default=str) == json.dumps(
            wanted, sort_keys=True, default=str
        ):
            return Change(kind, name, "unchanged"), str(doc.id)
    document_id = block.save(name, overwrite=True)
    return Change(kind, name, "created" if doc is None else "updated"), str(document_id)


def gcp_credentials_block(settings: Settings) -> Block:
    """A GcpCredentials block from settings: the key file's contents when one is given, else
    the project only (the worker then uses the ADC of where it runs). Built without
    initialising, which would look for ADC on the machine running setup."""
    from prefect_gcp import GcpCredentials

    key_file = settings.deploy.gcp_service_account_file
    if key_file is None:
        return GcpCredentials.model_construct(project=settings.warehouse.project)
    try:
        info = json.loads(Path(key_file).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the service account key {key_file}: {exc}") from None
    return GcpCredentials(service_account_info=info, project=settings.warehouse.project)


def slack_block(settings: Settings) -> Block | None:
    from prefect_slack import SlackWebhook

    if settings.slack_webhook_url is None:
        return None
    return SlackWebhook(url=settings.slack_webhook_url)


def _kept_slack_block(client: SyncPrefectClient, name: str) -> Change:
    from prefect_slack import SlackWebhook

    kind = f"block ({SlackWebhook.get_block_type_slug()})"
    try:
        client.read_block_document_by_name(name, SlackWebhook.get_block_type_slug())
    except ObjectNotFound:
        return Change(kind, name, "skipped", "missing: set NBA_BACKFILL_SLACK_WEBHOOK_URL")
    return Change(kind, name, "unchanged", "kept (NBA_BACKFILL_SLACK_WEBHOOK_URL not set)")


# --- concurrency limits -------------------------------------------------------------------------
def ensure_write_limits(client: SyncPrefectClient, settings: Settings) -> Iterator[Change]:
    limit = settings.writes_per_table()
    for table in TABLES:
        name = write_limit_name(table)
        try:
            gcl = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=limit)
            )
            yield Change("concurrency limit", name, "created", f"{limit} slots")
            continue
        if gcl.limit == limit and gcl.active:
            yield Change("concurrency limit", name, "unchanged", f"{limit} slots")
        else:
            client.update_global_concurrency_limit(
                name, GlobalConcurrencyLimitUpdate(limit=limit, active=True)
            )
            yield Change("concurrency limit", name, "updated", f"{limit} slots")


def ensure_dml_rate_limits(client: SyncPrefectClient, settings: Settings) -> Iterator[Change]:
    """Per table, a rate limit of ``dml.rate_statements`` slots decaying over
    ``dml.rate_window_seconds`` (BigQuery: 25 DML statements per 10 s per table)."""
    limit = settings.dml.rate_statements
    decay = round(limit / settings.dml.rate_window_seconds, 6)
    what = f"{limit} per {settings.dml.rate_window_seconds:g}s"
    for table in TABLES:
        name = dml_rate_limit_name(table)
        try:
            gcl = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=limit, slot_decay_per_second=decay)
            )
            yield Change("rate limit", name, "created", what)
            continue
        if gcl.limit == limit and gcl.active and gcl.slot_decay_per_second == decay:
            yield Change("rate limit", name, "unchanged", what)
        else:
            client.update_global_concurrency_limit(
                name,
                GlobalConcurrencyLimitUpdate(limit=limit, active=True, slot_decay_per_second=decay),
            )
            yield Change("rate limit", name, "updated", what)


# --- deployments --------------------------------------------------------------------------------
def render_prefect_file(
    settings: Settings, targets: tuple[Target, ...], *, build: bool = False
) -> str:
    """One prefect file holding the deployments of ``targets`` with this setup's values: pool
    names; for Cloud Run the image (unless building), region, service account and Slack block
    from settings; for the local pool, this checkout as the working directory. Each deployment
    carries its variant's pull steps, and only Cloud Run ones build, so one ``prefect deploy``
    registers both variants."""
    prod = yaml.safe_load(PREFECT_FILES["cloud-run"].read_text())
    building = build and "cloud-run" in targets
    out: dict[str, Any] = {
        "name": prod["name"],
        "prefect-version": prod["prefect-version"],
        "build": prod["build"] if building else None,
        "push": prod["push"] if building else None,
        "deployments": [],
    }
    for target in targets:
        data = yaml.safe_load(PREFECT_FILES[target].read_text())
        pull = data.get("pull") or [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
        ]
        for dep in data["deployments"]:
            dep["pull"] = pull
            pool = dep.setdefault("work_pool", {})
            pool["name"] = pool_name(settings, target)
            if target == "local":
                dep["build"] = dep["push"] = None
                out["deployments"].append(dep)
                continue
            jv = dict(pool.get("job_variables") or {})
            if not build:
                jv["image"] = settings.deploy.image
            jv["region"] = settings.deploy.region
            jv["service_account_name"] = settings.deploy.service_account_name
            env = dict(jv.get("env") or {})
            if settings.prefect.slack_block:
                env["NBA_BACKFILL_PREFECT__SLACK_BLOCK"] = settings.prefect.slack_block
            else:
                env.pop("NBA_BACKFILL_PREFECT__SLACK_BLOCK", None)
            jv["env"] = env
            pool["job_variables"] = jv
            out["deployments"].append(dep)
    return yaml.safe_dump(out, sort_keys=False, allow_unicode=True)


def deploy(settings: Settings, targets: tuple[Target, ...], *, build: bool = False) -> str:
    """``prefect --no-prompt deploy --all`` on the rendered file, from this checkout."""
    with tempfile.TemporaryDirectory(prefix="nba-backfill-deploy-") as tmp:
        path = Path(tmp) / "prefect.yaml"
        path.write_text(render_prefect_file(settings, targets, build=build))
        proc = subprocess.run(
            [*PREFECT_DEPLOY, "--prefect-file", str(path)],
            cwd=REPO,
            env={**os.environ, "PREFECT_CLI_PROMPT": "false"},
            capture_output=True,
            text=True,
            timeout=1800,
        )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise BackfillError(f"prefect deploy failed:\n{tail}")
    return proc.stdout


def deployment_names(target: Target) -> list[str]:
    """``flow/deployment`` of every deployment in ``target``'s prefect file."""
    from prefect.flows import load_flow_from_entrypoint

    data = yaml.safe_load(PREFECT_FILES[target].read_text())
    cwd = os.getcwd()
    os.chdir(REPO)  # entrypoints are relative to the checkout
    try:
        return [
            f"{load_flow_from_entrypoint(d['entrypoint']).name}/{d['name']}"
            for d in data["deployments"]
        ]
    finally:
        os.chdir(cwd)


def deployment_config(client: SyncPrefectClient, name: str) -> dict[str, Any] | None:
    """What defines a deployment (no ids or timestamps), for comparing before/after."""
    try:
        dep = client.read_deployment_by_name(name)
    except ObjectNotFound:
        return None
    return {
        "entrypoint": dep.entrypoint,
        "work_pool": dep.work_pool_name,
        "parameters": dep.parameters,
        "job_variables": dep.job_variables,
        "pull_steps": dep.pull_steps,
        "tags": sorted(dep.tags or []),
        "description": dep.description,
        "concurrency_limit": dep.global_concurrency_limit.limit
        if dep.global_concurrency_limit
        else None,
        "schedules": sorted(
            (
                json.dumps(s.schedule.model_dump(mode="json"), sort_keys=True),
                s.active,
            )
            for s in dep.schedules
        ),
        "parameter_schema": dep.parameter_openapi_schema,
        "paused": dep.paused,
    }


# --- the command ------------------------------------------------------------------------------
def setup(
    settings: Settings,
    targets: tuple[Target, ...] = ("cloud-run", "local"),
    *,
    build: bool = False,
    deploy_flows: bool = True,
) -> list[Change]:
    """Create or update pools, blocks, limits and deployments for ``targets``; a second call
    with the same settings changes nothing."""
    changes: list[Change] = []
    with get_client(sync_client=True) as client:
        credentials_id: str | None = None
        if "cloud-run" in targets and settings.warehouse.gcp_credentials_block:
            change, credentials_id = ensure_block(
                client, gcp_credentials_block(settings), settings.warehouse.gcp_credentials_block
            )
            changes.append(change)
        if settings.prefect.slack_block:
            block = slack_block(settings)
            if block is not None:
                change, _ = ensure_block(client, block, settings.prefect.slack_block)
                changes.append(change)
            else:  # no URL given: keep what is there, and say when nothing is
                changes.append(_kept_slack_block(client, settings.prefect.slack_block))
        for target in targets:
            template = (
                cloud_run_template(settings, credentials_id)
                if target == "cloud-run"
                else process_template()
            )
            changes.append(
                ensure_work_pool(client, pool_name(settings, target), POOL_TYPES[target], template)
            )
        changes += ensure_write_limits(client, settings)
        changes += ensure_dml_rate_limits(client, settings)
        if deploy_flows:
            names = {n: t for t in targets for n in deployment_names(t)}
            before = {n: deployment_config(client, n) for n in names}
            deploy(settings, targets, build=build)
            for n, target in names.items():
                after = deployment_config(client, n)
                action: Action = (
                    "created"
                    if before[n] is None
                    else "unchanged"
                    if before[n] == after
                    else "updated"
                )
                changes.append(Change("deployment", n, action, pool_name(settings, target)))
    return changes


def snapshot(settings: Settings) -> dict[str, Any]:
    """Everything setup manages, as read back from the server (for checking idempotency)."""
    out: dict[str, Any] = {
        "pools": {},
        "blocks": {},
        "limits": {},
        "rate_limits": {},
        "deployments": {},
    }
    with get_client(sync_client=True) as client:
        targets: tuple[Target, ...] = ("cloud-run", "local")
        for target in targets:
            name = pool_name(settings, target)
            try:
                pool = client.read_work_pool(name)
                out["pools"][name] = {"type": pool.type, "template": pool.base_job_template}
            except ObjectNotFound:
                pass
            for dep in deployment_names(target):
                out["deployments"][dep] = deployment_config(client, dep)
        for slug, block_name in (
            ("gcp-credentials", settings.warehouse.gcp_credentials_block),
            ("slack-incoming-webhook", settings.prefect.slack_block),
        ):
            if block_name:
                try:
                    doc = client.read_block_document_by_name(block_name, slug, include_secrets=True)
                    out["blocks"][f"{slug}/{block_name}"] = {"id": str(doc.id), "data": doc.data}
                except ObjectNotFound:
                    pass
        for table in TABLES:
            try:
                gcl = client.read_global_concurrency_limit_by_name(write_limit_name(table))
                out["limits"][gcl.name] = {"limit": gcl.limit, "active": gcl.active}
            except ObjectNotFound:
                pass
            try:
                gcl = client.read_global_concurrency_limit_by_name(dml_rate_limit_name(table))
                out["rate_limits"][gcl.name] = {
                    "limit": gcl.limit,
                    "slot_decay_per_second": gcl.slot_decay_per_second,
                }
            except ObjectNotFound:
                pass
    return out


__all__ = ["Change", "deploy", "render_prefect_file", "setup", "snapshot"]
