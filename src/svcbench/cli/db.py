"""Commands: db (being written)."""
