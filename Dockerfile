# The image the Cloud Run v2 work pool runs (prefect.yaml builds it and pushes it to Artifact
# Registry). uv installs exactly the lockfile; dependencies sit in their own layer, so a code
# change rebuilds only the last layers. Runs as a non-root user.
#
# Production builds it with the defaults below. The base image and where uv comes from are
# build arguments so that the same file builds where those registries are out of reach:
# `make image` (scripts/image.sh) builds it FROM a local Debian 12 base with uv from PyPI:
#   --build-arg BASE_IMAGE=localhost/nba-backfill-base:bookworm --build-arg UV_SOURCE=uv-pypi
ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9
# uv-image: the binaries of UV_IMAGE (production); uv-pypi: the same version from PyPI.
ARG UV_SOURCE=uv-image
# The platform's own code next to nba-backfill, for tables produced by its backfill jobs
# (docs/producers.md): an image holding the nba-stats-scraper checkout under /app, copied to
# /opt/platform, e.g. --build-arg PLATFORM_IMAGE=<registry>/nba-processors:<tag>. Default
# platform-none: an empty /opt/platform. PLATFORM_REQUIREMENTS, a requirements file inside
# it (e.g. requirements.txt), is installed into a virtualenv of its own, /opt/platform-venv,
# so the platform's dependencies never change nba-backfill's locked ones.
ARG PLATFORM_IMAGE=platform-none

FROM ${UV_IMAGE} AS uv-image

FROM ${BASE_IMAGE} AS uv-pypi
# Keep in step with UV_IMAGE's tag: both sources must give the same uv.
ARG UV_VERSION=0.13.9
RUN python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}" \
    && cp /opt/uv/bin/uv /opt/uv/bin/uvx /

# A stage name chosen by argument: COPY --from cannot take one.
FROM ${UV_SOURCE} AS uv

FROM ${BASE_IMAGE} AS platform-none
RUN mkdir /app

FROM ${PLATFORM_IMAGE} AS platform

FROM ${BASE_IMAGE}

COPY --from=uv /uv /uvx /usr/local/bin/

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PREFECT_LOGGING_EXTRA_LOGGERS=nba_backfill

WORKDIR /opt/nba-backfill

# 1. Dependencies only (cached until pyproject.toml / uv.lock change).
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

# 2. The project itself (the code the pull step's working directory points at).
COPY nba_backfill ./nba_backfill
COPY flows ./flows
COPY tasks ./tasks
COPY deployments ./deployments
COPY cli ./cli
COPY devtools ./devtools
COPY prefect.yaml ./
# 3. The platform's code (empty unless PLATFORM_IMAGE is given) and its own virtualenv.
COPY --from=platform /app /opt/platform
ARG PLATFORM_REQUIREMENTS=""
RUN if [ -n "$PLATFORM_REQUIREMENTS" ]; then \
        uv venv /opt/platform-venv \
        && uv pip install --no-cache --python /opt/platform-venv/bin/python \
            -r "/opt/platform/$PLATFORM_REQUIREMENTS"; \
    fi
RUN uv sync --frozen --no-dev \
    && groupadd --gid 10001 nba \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin nba

# Numeric, so a runtime enforcing non-root (runAsNonRoot) can verify it without /etc/passwd.
USER 10001:10001
# Cloud Run jobs get their command from the worker (`prefect flow-run execute`); this is for
# a quick look: `docker run --rm IMAGE`.
CMD ["nba-backfill", "--help"]
