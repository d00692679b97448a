"""Commands: email (being written)."""
