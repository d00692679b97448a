"""A per-user cache of validated workspace configs, so an idle cron tick does not parse and
validate hundreds of companies every minute.

The cache entry is keyed by ``fastpath.inputs_digest``: the exact bytes of every config file
(``svcbench.toml`` and ``probes/**/*.toml``), the workspace path, Python, the times of the
site-packages directories (a package installed, removed or upgraded: holidays, a plugin) and
the size and time of each of svcbench's own modules (a checkout's code changes without a new
version), plus pydantic's version: any change to any of them is a miss, and a miss loads and
validates as always. Errors are never cached.

Entries are pickles, so they live in the user's own cache directory (``$SVCBENCH_CACHE_DIR``,
else ``$XDG_CACHE_HOME/svcbench``, else ``~/.cache/svcbench``; created mode 0700), never in
a workspace others may write to, and an entry not owned by the user or writable by others is
ignored. ``SVCBENCH_CACHE_DIR=off`` turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import Config
from .fastpath import inputs_digest

CACHE_ENV = "SVCBENCH_CACHE_DIR"
_FORMAT = b"svcbench-config-cache-1\n"


def cache_dir() -> Path | None:
    configured = os.environ.get(CACHE_ENV)
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "svcbench"


def _key(root: Path, inputs: str | None = None) -> bytes | None:
    """The digest of everything the config is made from, or None if a file cannot be read
    (``inputs``: ``fastpath.inputs_digest(root)`` if the caller has it already)."""
    import pydantic
    import pydantic_core

    inputs = inputs or inputs_digest(root)
    if inputs is None:
        return None
    # the packages' directories are in the inputs; the versions of those already imported
    # are free to add
    return hashlib.sha256(_FORMAT + f"{inputs}\0{pydantic.VERSION}\0"
                          f"{pydantic_core.__version__}".encode()).digest()


def _entry_path(directory: Path, root: Path) -> Path:
    name = hashlib.sha256(str(root).encode()).hexdigest()[:24]
    return directory / f"config-{name}.pickle"


def trusted(path: Path) -> bool:
    """Owned by this user and writable by no one else."""
    info = path.stat()
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def load_cached(root: Path, load: Callable[[Path], Config], *,
                inputs: str | None = None) -> Config:
    """``load(root)``, or the cached result of it while nothing it depends on changed."""
    root = root.resolve()
    directory = cache_dir()
    key = _key(root, inputs) if directory is not None else None
    if directory is None or key is None:
        return load(root)
    entry = _entry_path(directory, root)
    with contextlib.suppress(OSError, pickle.UnpicklingError, EOFError, AttributeError,
                             ImportError, TypeError, ValueError):
        if trusted(entry):
            blob = entry.read_bytes()
            if blob.startswith(_FORMAT + key):
                config = pickle.loads(blob[len(_FORMAT) + len(key):])
                if isinstance(config, Config):
                    return config
    config = load(root)
    _store(directory, entry, key, config)
    return config


def _store(directory: Path, entry: Path, key: bytes, config: Any) -> None:
    with contextlib.suppress(pickle.PicklingError, TypeError, AttributeError):
        write_entry(directory, entry, _FORMAT + key + pickle.dumps(
            config, protocol=pickle.HIGHEST_PROTOCOL))


def write_entry(directory: Path, entry: Path, blob: bytes) -> None:
    """Write a cache entry atomically; a cache that cannot be written is simply not used."""
    with contextlib.suppress(OSError):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{entry.stem}-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
            os.replace(tmp, entry)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
