# Two commands matter: `make run` (full local backfill) and `make test`. Both bootstrap uv.
SHELL := /bin/bash
# Local state (warehouse, Prefect server, chaos figures, tools) lives under NBA_BACKFILL_HOME.
NBA_HOME := $(or $(NBA_BACKFILL_HOME),.nba-backfill)
TOOLS := $(NBA_HOME)/tools
UV := $(shell command -v uv 2>/dev/null || echo $(abspath $(TOOLS))/uv/bin/uv)
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: run test test-slow lint pytest sync uv bench bench-make-run chaos ui image clean

# The synthetic seasons end 2026-01-03: under production's partition expiration (30 / 90 days)
# three Phase 4 tables would skip their whole history. `make run` plans as a warehouse whose
# operator lifted it; `nba-backfill run` alone keeps the contract's setting (docs/bigquery.md says how).
run: sync ## seed the embedded warehouse (runbook's starting gaps) once, then backfill it all
	$(UV) run nba-backfill seed --state seeds --if-missing
	NBA_BACKFILL_WAREHOUSE__DUCKDB_PARTITION_EXPIRATION=$${NBA_BACKFILL_WAREHOUSE__DUCKDB_PARTITION_EXPIRATION:-none} $(UV) run nba-backfill run

test: sync lint pytest ## everything CI runs

lint: sync
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	$(UV) run lint-imports --no-logo
	$(UV) run hadolint Dockerfile

# Two workers (tests grouped per module, tests/conftest.py): about half the wall time on 2 cores.
# The end-to-end tier (marker `slow`: tests/conftest.py's SLOW_MODULES) is `make test-slow`.
pytest: sync
	$(UV) run pytest -n 2 --dist loadgroup --durations=25 -m "not chaos and not slow"

test-slow: sync ## the end-to-end tier: emulator backfills, process worker, SIGKILLs, chaos slice
	$(UV) run pytest -n 2 --dist loadgroup --durations=25 -m "slow and not chaos"

chaos: sync ## the full-range chaos suite: faults, SIGKILLs, concurrent runs (figures: $NBA_BACKFILL_HOME/chaos/)
	$(UV) run pytest -m chaos

bench: uv ## runbook vs nba-backfill vs lower bound, latency-model projections, sweep -> bench/results/
	$(UV) sync --frozen --group bench
	$(UV) run --frozen --group bench python -m bench

bench-make-run: sync ## `make run` of 6e2e9d3 (BASELINE=rev) and this checkout side by side: wall, peak RSS
	$(UV) run --frozen --group bench python -m bench.make_run $(if $(BASELINE),--baseline $(BASELINE))

# Needs root, podman and debootstrap (.ci/run installs them); docs/image.md says what it checks.
image: sync ## build the Cloud Run image with podman and run a backfill deployment run in it
	NBA_BACKFILL_HOME=$(NBA_HOME) scripts/image.sh

ui: sync ## open the run history: the local Prefect server (port: PREFECT_SERVER_API_PORT, else 4200)
	$(UV) run nba-backfill server start

sync: uv
	$(UV) sync --frozen

uv:
	@if [ ! -x "$(UV)" ]; then \
		echo "uv not found: installing it into $(TOOLS)/uv"; \
		python3 -m venv $(TOOLS)/uv && $(TOOLS)/uv/bin/pip install --quiet uv; \
	fi

# Removes only what the project writes there: NBA_BACKFILL_HOME may be a folder that holds more.
clean:
	-$(UV) run nba-backfill server stop
	rm -rf $(NBA_HOME)/warehouse.duckdb $(NBA_HOME)/warehouse.duckdb.wal $(NBA_HOME)/prefect \
		$(NBA_HOME)/chaos $(NBA_HOME)/image-smoke $(NBA_HOME)/tools
	-@rmdir $(NBA_HOME) 2>/dev/null
