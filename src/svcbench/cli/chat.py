"""Commands: chat (being written)."""
