"""Errors that the CLI turns into one clear line and an exit code, never a traceback."""

from __future__ import annotations


class SvcbenchError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(SvcbenchError):
    """Bad configuration or bad user input: names the file, the key and the problem."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file = file
        self.key = key
        self.problem = message
        where = ": ".join(p for p in (file, key) if p)
        super().__init__(f"{where}: {message}" if where else message)


class StoreError(SvcbenchError):
    """The database cannot be opened or written (read-only, disk full, locked too long)."""

    exit_code = 3


class LockedError(SvcbenchError):
    """Another run holds the workspace lock."""

    exit_code = 75  # EX_TEMPFAIL: cron may simply try again later


class ProbeError(SvcbenchError):
    """A probe failed on our side (network, credentials); never counted against a company."""

    exit_code = 1


class RetryableProbeError(ProbeError):
    """Our side could not reach a server right now: leave the probe pending and retry later."""


class StartUnknownError(ProbeError):
    """The start may or may not have reached the company (e.g. the connection dropped during
    SMTP DATA): the probe stays claimed and recovery decides from evidence, never by sending
    again."""
