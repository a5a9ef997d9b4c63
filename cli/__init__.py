"""Entry points for people: the ``nba-backfill`` command line and the local Prefect server it
manages. Outside the Prefect-free core; may import flows and deployments."""
