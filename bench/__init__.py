"""Benchmarks of nba-backfill against the runbook's way and the lower bound (``make bench``)."""
