"""Commands: results (being written)."""
