"""prefect.yaml, prefect.local.yaml and the Dockerfile agree with each other and with settings;
what `nba-backfill setup` renders from them (no server needed)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from deployments.setup import REPO, render_prefect_file
from nba_backfill.settings import DeploySettings, load_settings

PROD = yaml.safe_load((REPO / "prefect.yaml").read_text())
LOCAL = yaml.safe_load((REPO / "prefect.local.yaml").read_text())
DOCKERFILE = (REPO / "Dockerfile").read_text()
ENTRYPOINTS = {
    "flows/backfill.py:backfill",
    "flows/rerun.py:rerun_failed_dates",
    "flows/validate.py:validate",
    "flows/fanout.py:backfill_table",
}


def _by_entrypoint(data: dict) -> dict[str, dict]:
    return {d["entrypoint"]: d for d in data["deployments"]}


def test_both_variants_hold_the_same_deployments():
    assert set(_by_entrypoint(PROD)) == set(_by_entrypoint(LOCAL)) == ENTRYPOINTS
    for path in ENTRYPOINTS:
        assert (REPO / path.split(":")[0]).exists()
    for data, name, pool in ((PROD, "cloud-run", "cloud-run"), (LOCAL, "local", "local")):
        for dep in data["deployments"]:
            assert dep["name"] == name and dep["work_pool"]["name"] == f"nba-backfill-{pool}"
        rerun = _by_entrypoint(data)["flows/rerun.py:rerun_failed_dates"]
        assert rerun["schedules"] == [
            {"cron": "30 5 * * *", "timezone": "America/New_York", "active": True}
        ]
        assert _by_entrypoint(data)["flows/backfill.py:backfill"]["concurrency_limit"]["limit"] == 1


def test_cloud_run_job_variables_match_settings_and_never_hold_credentials():
    defaults = DeploySettings()
    for dep in PROD["deployments"]:
        jv = dep["work_pool"]["job_variables"]
        assert jv["image"] == "{{ build-image.image }}"
        assert jv["region"] == defaults.region == "us-west2"
        assert jv["service_account_name"] == defaults.service_account_name
        assert re.fullmatch(r"\d+m", jv["cpu"]) and re.fullmatch(r"\d+(Gi|Mi)", jv["memory"])
        assert 0 < jv["timeout"] <= 604800
        assert "credentials" not in jv
        assert jv["env"]["NBA_BACKFILL_WAREHOUSE__BACKEND"] == "bigquery"


def test_build_and_push_target_artifact_registry():
    [build] = PROD["build"]
    step = build["prefect_docker.deployments.steps.build_docker_image"]
    assert step["id"] == "build-image" and step["dockerfile"] == "Dockerfile"
    assert step["image_name"] == DeploySettings().image.rsplit(":", 1)[0]
    assert step["image_name"].startswith("us-west2-docker.pkg.dev/nba-props-platform/")
    assert step["platform"] == "linux/amd64"  # Cloud Run runs amd64
    [push] = PROD["push"]
    push_step = push["prefect_docker.deployments.steps.push_docker_image"]
    assert push_step["image_name"] == "{{ build-image.image_name }}"
    assert push_step["tag"] == "{{ build-image.tag }}"
    workdir = re.search(r"^WORKDIR (\S+)$", DOCKERFILE, re.M)
    assert workdir is not None
    [pull] = PROD["pull"]
    assert pull["prefect.deployments.steps.set_working_directory"]["directory"] == workdir[1]


def test_dockerfile_is_uv_locked_slim_311_non_root_and_copies_every_package():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    # Production's base is the default of BASE_IMAGE, the stage the image is built on.
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim", DOCKERFILE, re.M)
    assert re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)[-1] == "${BASE_IMAGE}"
    assert "uv sync --frozen --no-dev --no-install-project" in DOCKERFILE
    # dependencies before code: the lockfile layer is cached across code changes
    assert DOCKERFILE.index("COPY pyproject.toml uv.lock") < DOCKERFILE.index("COPY nba_backfill")
    for package in pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]:
        assert re.search(rf"^COPY {package} \./{package}$", DOCKERFILE, re.M), package
    user = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert user and user[-1] not in ("root", "0")


def test_dockerfile_uv_sources_agree():
    """uv from its image (production) and from PyPI (`make image`) are the same version, and
    production's default is the image."""
    image_tag = re.search(r"^ARG UV_IMAGE=ghcr\.io/astral-sh/uv:(\S+)$", DOCKERFILE, re.M)
    pypi = re.search(r"^ARG UV_VERSION=(\S+)$", DOCKERFILE, re.M)
    assert image_tag and pypi and image_tag[1] == pypi[1]
    assert re.search(r"^ARG UV_SOURCE=uv-image$", DOCKERFILE, re.M)
    assert "FROM ${UV_IMAGE} AS uv-image" in DOCKERFILE
    assert "COPY --from=uv /uv /uvx /usr/local/bin/" in DOCKERFILE


def test_render_without_build_registers_the_settings_image(monkeypatch):
    monkeypatch.setenv("NBA_BACKFILL_DEPLOY__IMAGE", "us-west2-docker.pkg.dev/p-1234/r/img:abc")
    monkeypatch.setenv("NBA_BACKFILL_PREFECT__SLACK_BLOCK", "ops-slack")
    monkeypatch.setenv("NBA_BACKFILL_PREFECT__WORK_POOL", "prod-pool")
    data = yaml.safe_load(render_prefect_file(load_settings(), ("cloud-run", "local")))
    assert data["build"] is None and data["push"] is None
    deps = {(d["entrypoint"], d["name"]): d for d in data["deployments"]}
    assert len(deps) == 8
    prod = deps[("flows/backfill.py:backfill", "cloud-run")]
    assert prod["work_pool"]["name"] == "prod-pool"
    jv = prod["work_pool"]["job_variables"]
    assert jv["image"] == "us-west2-docker.pkg.dev/p-1234/r/img:abc"
    assert jv["env"]["NBA_BACKFILL_PREFECT__SLACK_BLOCK"] == "ops-slack"
    local = deps[("flows/backfill.py:backfill", "local")]
    assert local["pull"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
    ]
    assert local["build"] is None and "job_variables" not in local["work_pool"]


def test_render_with_build_keeps_build_and_push_for_cloud_run_only():
    data = yaml.safe_load(render_prefect_file(load_settings(), ("cloud-run", "local"), build=True))
    assert data["build"] == PROD["build"] and data["push"] == PROD["push"]
    for dep in data["deployments"]:
        if dep["name"] == "cloud-run":
            assert dep["work_pool"]["job_variables"]["image"] == "{{ build-image.image }}"
            assert "build" not in dep
        else:
            assert dep["build"] is None and dep["push"] is None


def test_local_file_needs_no_docker():
    assert LOCAL["build"] is None and LOCAL["push"] is None
    assert Path(REPO / "prefect.local.yaml").read_text().count("docker") == 0
