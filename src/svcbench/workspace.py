"""A workspace on disk: its config, its database, and creating a new one (``svcbench init``)."""

from __future__ import annotations

import shutil
from functools import cached_property
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from .config import WORKSPACE_FILE, Config, find_workspace, load_config
from .errors import ConfigError
from .plugins import PROBES_GROUP, ProbeContext, available, plugin_for, probe_plugin
from .store import Store


class Workspace:
    """Config plus store for one workspace directory."""

    def __init__(self, config: Config, *, read_only: bool = False,
                 inputs_digest: str | None = None):
        self.config = config
        #: only reads: a workspace that cannot be written is opened read-only
        self.read_only = read_only
        #: what the config was loaded from (``fastpath.inputs_digest``, taken before loading
        #: it), recorded by full runs for the fast paths; None: not known
        self.inputs_digest = inputs_digest

    @classmethod
    def open(cls, path: Path | None = None, *, read_only: bool = False) -> Workspace:
        """``read_only``: the caller only reads (results, probes, report, metrics), so a
        workspace that cannot be written is opened without writing anything."""
        from .config_cache import load_cached
        from .fastpath import inputs_digest

        root = find_workspace(path)
        digest = inputs_digest(root)
        return cls(load_cached(root, load_validated, inputs=digest), read_only=read_only,
                   inputs_digest=digest)

    @property
    def root(self) -> Path:
        return self.config.root

    @cached_property
    def store(self) -> Store:
        from .store._store import writable

        path = self.config.database_path
        if self.read_only and not writable(path):
            return Store(path, migrations=plugin_migrations(), read_only=True)
        store = Store(path, migrations=plugin_migrations())
        if self.config.settings.region:
            store.region = self.config.settings.region
        store.sync_companies(self.config.companies.values())
        store.sync_campaigns(self.config.campaigns.values())
        return store

    def context(self, **kwargs) -> ProbeContext:
        return ProbeContext(config=self.config, store=self.store, **kwargs)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()


def load_validated(root: Path) -> Config:
    """The workspace's config with every channel endpoint checked by its plugin."""
    config = load_config(root)
    validate_endpoints(config)
    return config


def plugin_migrations() -> list:
    """Migration sets declared by installed probe plugins."""
    sets = []
    for name in available(PROBES_GROUP):
        migrations = getattr(probe_plugin(name), "migrations", None)
        if migrations is not None:
            sets.append(migrations)
    return sets


def validate_endpoints(config: Config) -> None:
    """Each company's channel endpoint checked by the plugin that will use it."""
    for company in config.companies.values():
        for channel, endpoint in company.channels.items():
            plugin = probe_plugin(plugin_for(company, channel))
            options = {k: v for k, v in endpoint.options.items() if k != "plugin"}
            try:
                plugin.validate_endpoint(options)
            except ValidationError as exc:
                first = exc.errors()[0]
                key = config.key_of("company", company.id, "channels", str(channel),
                                    *first["loc"])
                message = first["msg"].removeprefix("Value error, ")
                if first["type"] == "missing":
                    message = "required key is missing"
                elif first["type"] == "extra_forbidden":
                    message = "unknown key"
                raise ConfigError(message, file=config.sources[("company", company.id)],
                                  key=key) from None


def init_workspace(directory: Path, *, examples: bool = True) -> Path:
    """Create a workspace: svcbench.toml, probes/ with examples, reports/, the database."""
    directory = directory.resolve()
    if directory.exists() and not directory.is_dir():
        raise ConfigError("exists and is not a directory; give a new or existing directory",
                          file=str(directory))
    if (directory / WORKSPACE_FILE).exists():
        raise ConfigError("a workspace already exists here", file=str(directory / WORKSPACE_FILE))
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the directory ({exc.strerror})",
                          file=str(directory)) from None
    template = resources.files("svcbench") / "data" / "workspace"
    (directory / WORKSPACE_FILE).write_text((template / WORKSPACE_FILE).read_text())
    probes = directory / "probes"
    probes.mkdir(exist_ok=True)
    if examples:
        for item in (template / "probes").iterdir():
            if item.name.endswith(".toml") and not (probes / item.name).exists():
                with resources.as_file(item) as source:
                    shutil.copyfile(source, probes / item.name)
    (directory / "reports").mkdir(exist_ok=True)
    workspace = Workspace.open(directory)
    workspace.store  # noqa: B018 - creates and migrates the database
    workspace.close()
    return directory
