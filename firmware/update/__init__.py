"""Safe updates: signed release bundles, one venv per release, atomic switch, rollback."""
