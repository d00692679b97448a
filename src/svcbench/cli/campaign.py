"""Commands: campaign (being written)."""
