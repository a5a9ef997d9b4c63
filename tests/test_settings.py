import pytest

from nba_backfill.errors import UsageError
from nba_backfill.settings import load_settings


def test_defaults():
    s = load_settings()
    assert s.warehouse.backend == "duckdb"
    assert s.warehouse.project == "nba-props-platform"
    assert s.run.chunk_days >= 1


@pytest.mark.parametrize(
    ("env", "value", "needle"),
    [
        ("NBA_BACKFILL_WAREHOUSE__BACKEND", "oracle", "warehouse.backend"),
        ("NBA_BACKFILL_RUN__CHUNK_DAYS", "0", "run.chunk_days"),
        ("NBA_BACKFILL_RUN__MAX_CONCURRENCY", "-1", "run.max_concurrency"),
        ("NBA_BACKFILL_RUN__START_DATE", "2021-13-45", "run.start_date"),
        ("NBA_BACKFILL_WAREHOUSE__DATASETS__NBA_RAW", "raw; DROP", "datasets.nba_raw"),
        ("NBA_BACKFILL_SLACK_WEBHOOK_URL", "ftp://x", "slack_webhook_url"),
        ("NBA_BACKFILL_WAREHOUSE__EMULATOR_ENDPOINT", "http://10.0.0.1:9050", "emulator"),
        ("NBA_BACKFILL_WAREHOUSE__GCP_CREDENTIALS_BLOCK", "Key'; --", "gcp_credentials_block"),
        ("NBA_BACKFILL_WAREHOUSE__PROJECT", "nba-props`; DROP", "warehouse.project"),
        ("NBA_BACKFILL_RUN__CHUNK_DAYS", "seven", "run.chunk_days"),
        ("NBA_BACKFILL_RUN__LOCK_LEASE_SECONDS", "5", "run.lock_lease_seconds"),
        ("NBA_BACKFILL_RETRY__MAX_ATTEMPTS", "0", "retry.max_attempts"),
        ("NBA_BACKFILL_PREFECT__SLACK_BLOCK", "Slack Block!", "prefect.slack_block"),
    ],
)
def test_invalid_settings_fail_with_one_line(monkeypatch, env, value, needle):
    monkeypatch.setenv(env, value)
    with pytest.raises(UsageError) as exc:
        load_settings()
    msg = str(exc.value)
    assert "\n" not in msg and needle in msg and env in msg


def test_secret_is_not_printed(monkeypatch):
    monkeypatch.setenv("NBA_BACKFILL_SLACK_WEBHOOK_URL", "https://hooks.example/T000/SECRET")
    s = load_settings()
    assert "SECRET" not in repr(s) and "SECRET" not in str(s.model_dump())
