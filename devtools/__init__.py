"""Development tools, not the product: the synthetic Phase 2 generator and seeding of the
embedded warehouse (the runbook's starting state). Refused against production (``safety``)."""
