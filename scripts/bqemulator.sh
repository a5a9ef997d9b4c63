#!/usr/bin/env bash
# The offline BigQuery emulator used by tests/warehouse (see tests/emulator.py).
#   scripts/bqemulator.sh install          # into .nba-backfill/tools (once; fast afterwards)
#   scripts/bqemulator.sh serve [--port N] # run in the foreground until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."
exec uv run python -m tests.emulator "$@"
