"""Commands: report (being written)."""
