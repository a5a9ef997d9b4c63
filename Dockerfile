# The image the Cloud Run v2 work pool runs (prefect.yaml builds it and pushes it to Artifact
# Registry). uv installs exactly the lockfile; dependencies sit in their own layer, so a code
# change rebuilds only the last layers. Runs as a non-root user.
FROM python:3.11-slim-bookworm

COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/

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
RUN uv sync --frozen --no-dev \
    && useradd --uid 10001 --create-home --shell /usr/sbin/nologin nba

USER nba
# Cloud Run jobs get their command from the worker (`prefect flow-run execute`); this is for
# a quick look: `docker run --rm IMAGE`.
CMD ["nba-backfill", "--help"]
