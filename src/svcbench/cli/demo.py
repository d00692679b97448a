"""Command: demo (being written)."""
