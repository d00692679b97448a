"""Commands: manual (being written)."""
